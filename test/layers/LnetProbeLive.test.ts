import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Schedule } from "effect"
import * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { LnetProbe } from "../../layers/lnet/LnetProbe.js"
import { LnetProbeLive, type LnetProbeLiveOptions } from "../../layers/lnet/LnetProbeLive.js"

const root = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "lnet-live-test-"))
afterAll(() => Fs.rm(root, { recursive: true, force: true }))

const fixture = (name: string) => Path.join(import.meta.dirname, "..", "fixtures", "lnet", name)

interface Answer {
  /** Fixture files printed on stdout and stderr. */
  readonly stdout?: string
  readonly stderr?: string
  readonly exit?: number
  /** Writes its pid to `<dir>/<tool>.pid`, then sleeps until killed. */
  readonly hang?: true
}

let scripts = 0
/**
 * A stand-in for lnetctl or lctl: a shell script that logs its arguments to `<dir>/calls` and
 * answers each argument line as told (anything else: exit 1). The probe runs it as it runs the
 * real tool, without a shell of its own.
 */
const fakeTool = (dir: string, tool: string, answers: Record<string, Answer>): string => {
  const path = Path.join(dir, `${tool}-${++scripts}`)
  const cases = Object.entries(answers).map(([args, answer]) =>
    [
      `  "${args}")`,
      answer.hang ? `    echo $$ > "${dir}/${tool}.pid"; exec sleep 600` : "",
      answer.stdout ? `    cat "${fixture(answer.stdout)}"` : "",
      answer.stderr ? `    cat "${fixture(answer.stderr)}" >&2` : "",
      `    exit ${answer.exit ?? 0} ;;`
    ].filter((line) => line !== "").join("\n")
  )
  NodeFs.writeFileSync(
    path,
    ["#!/bin/sh", `echo "${tool} $*" >> "${dir}/calls"`, "case \"$*\" in", ...cases, "  *) exit 1 ;;", "esac", ""].join("\n"),
    { mode: 0o755 }
  )
  return path
}

/** A node's files and tools, in a folder of its own. */
const node = (setup: (dir: string) => Partial<LnetProbeLiveOptions>) => {
  const dir = NodeFs.mkdtempSync(Path.join(root, "node-"))
  NodeFs.mkdirSync(Path.join(dir, "sys", "eth0"), { recursive: true })
  NodeFs.writeFileSync(Path.join(dir, "sys", "eth0", "operstate"), "up\n")
  NodeFs.writeFileSync(Path.join(dir, "sys", "eth0", "flags"), "0x1003\n")
  const options: LnetProbeLiveOptions = {
    procModules: fixture("proc-modules-lustre-client.txt"),
    sysClassNet: Path.join(dir, "sys"),
    lnetctl: Path.join(dir, "no-lnetctl"),
    lctl: Path.join(dir, "no-lctl"),
    networkInterfaces: () => ({}),
    ...setup(dir)
  }
  return {
    dir,
    calls: () => NodeFs.existsSync(Path.join(dir, "calls")) ? NodeFs.readFileSync(Path.join(dir, "calls"), "utf8").trim().split("\n") : [],
    layer: LnetProbeLive.layerWith(options).pipe(Layer.provide(NodeServices.layer))
  }
}

const isAlive = (pid: number): boolean => {
  const signalled = Effect.runSync(Effect.exit(Effect.try(() => process.kill(pid, 0))))
  return signalled._tag === "Success"
}

describe("LnetProbeLive", () => {
  it.live("reads NIs with lnetctl net show, and pings a NID with lnetctl ping", () => {
    const { layer, calls } = node((dir) => ({
      lnetctl: fakeTool(dir, "lnetctl", {
        "net show": { stdout: "net-show-multi-net.yaml" },
        "ping 10.73.20.21@tcp": { stdout: "ping.yaml" },
        "ping 10.0.0.5@tcp": { stderr: "ping-failure.stderr.yaml", exit: 255 }
      })
    }))
    return Effect.gen(function*() {
      const probe = yield* LnetProbe
      assert.deepStrictEqual((yield* probe.localNis).map((ni) => ni.nid), ["0@lo", "10.73.20.21@tcp", "172.16.0.24@o2ib", "172.16.0.28@o2ib"])
      yield* probe.pingNid("10.73.20.21@tcp")
      const failed = yield* Effect.flip(probe.pingNid("10.0.0.5@tcp"))
      assert.deepStrictEqual(
        { operation: failed.operation, message: failed.message, notInstalled: failed.notInstalled },
        { operation: "lnetctl ping 10.0.0.5@tcp", message: "failed to ping 10.0.0.5@tcp: Input/output error", notInstalled: false }
      )
      assert.deepStrictEqual(calls(), ["lnetctl net show", "lnetctl ping 10.73.20.21@tcp", "lnetctl ping 10.0.0.5@tcp"])
    }).pipe(Effect.provide(layer))
  })

  it.live("answers lnetctl's own reason when LNet is down, and does not ask lctl", () => {
    const { layer, calls } = node((dir) => ({
      lnetctl: fakeTool(dir, "lnetctl", { "net show": { stderr: "net-show-network-down.stderr.yaml", exit: 156 } }),
      lctl: fakeTool(dir, "lctl", { "list_nids": { stdout: "lctl-list-nids.txt" } })
    }))
    return Effect.gen(function*() {
      const failed = yield* Effect.flip((yield* LnetProbe).localNis)
      assert.strictEqual(failed.operation, "lnetctl net show")
      assert.strictEqual(failed.message, "cannot get networks: Network is down")
      assert.deepStrictEqual(calls(), ["lnetctl net show"])
    }).pipe(Effect.provide(layer))
  })

  it.live("falls back to lctl list_nids and lctl ping when lnetctl is not installed", () => {
    const { layer, calls } = node((dir) => ({
      lctl: fakeTool(dir, "lctl", {
        "list_nids": { stdout: "lctl-list-nids.txt" },
        "ping 10.106.9.50@tcp": { stdout: "lctl-ping.txt" }
      })
    }))
    return Effect.gen(function*() {
      const probe = yield* LnetProbe
      assert.deepStrictEqual(yield* probe.localNis, [{ nid: "10.106.9.50@tcp", status: undefined, interfaces: [] }])
      yield* probe.pingNid("10.106.9.50@tcp")
      assert.deepStrictEqual(calls(), ["lctl list_nids", "lctl ping 10.106.9.50@tcp"])
    }).pipe(Effect.provide(layer))
  })

  it.live("says so when lctl fails too, and when neither tool is installed", () => {
    const broken = node((dir) => ({
      lctl: fakeTool(dir, "lctl", { "list_nids": { stderr: "lctl-list-nids-network-down.stderr.txt", exit: 1 } })
    }))
    const bare = node(() => ({}))
    return Effect.gen(function*() {
      const failed = yield* Effect.flip(LnetProbe.use((probe) => probe.localNis).pipe(Effect.provide(broken.layer)))
      assert.strictEqual(failed.operation, "lctl list_nids")
      assert.strictEqual(failed.message, "IOC_LIBCFS_GET_NI error 100: Network is down")
      const missing = yield* Effect.flip(LnetProbe.use((probe) => probe.localNis).pipe(Effect.provide(bare.layer)))
      assert.isTrue(missing.notInstalled)
      assert.match(missing.message, /^neither .*no-lnetctl nor .*no-lctl is installed$/)
    })
  })

  it.live("reads the loaded modules from /proc/modules, and says why it cannot", () => {
    const present = node(() => ({}))
    const absent = node((dir) => ({ procModules: Path.join(dir, "no-such-modules") }))
    return Effect.gen(function*() {
      const modules = yield* LnetProbe.use((probe) => probe.loadedModules).pipe(Effect.provide(present.layer))
      assert.isTrue(modules.has("lnet") && modules.has("lustre"))
      const failed = yield* Effect.flip(LnetProbe.use((probe) => probe.loadedModules).pipe(Effect.provide(absent.layer)))
      assert.strictEqual(failed.operation, `read ${Path.join(absent.dir, "no-such-modules")}`)
      assert.match(failed.message, /ENOENT/)
    })
  })

  it.live("reads an interface's operstate and IFF_UP, none for an interface the node lacks, and which interface holds an address", () => {
    const { layer, dir } = node(() => ({
      networkInterfaces: () => ({
        lo: [{ address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", mac: "00:00:00:00:00:00", internal: true, cidr: "127.0.0.1/8" }],
        eth0: [{ address: "10.0.0.5", netmask: "255.255.255.0", family: "IPv4", mac: "60:45:bd:01:02:03", internal: false, cidr: "10.0.0.5/24" }]
      })
    }))
    NodeFs.mkdirSync(Path.join(dir, "sys", "tun0"))
    NodeFs.writeFileSync(Path.join(dir, "sys", "tun0", "operstate"), "unknown\n")
    NodeFs.writeFileSync(Path.join(dir, "sys", "tun0", "flags"), "0x1090\n")
    return Effect.gen(function*() {
      const probe = yield* LnetProbe
      assert.deepStrictEqual(yield* probe.interfaceState("eth0"), Option.some({ operstate: "up", administrativelyUp: true }))
      assert.deepStrictEqual(yield* probe.interfaceState("tun0"), Option.some({ operstate: "unknown", administrativelyUp: false }))
      assert.deepStrictEqual(yield* probe.interfaceState("eth9"), Option.none())
      assert.deepStrictEqual(yield* probe.interfaceWithAddress("10.0.0.5"), Option.some("eth0"))
      assert.deepStrictEqual(yield* probe.interfaceWithAddress("10.0.0.6"), Option.none())
    }).pipe(Effect.provide(layer))
  })

  it.live("kills the command when its caller stops waiting (what a check's timeout does)", () => {
    const { layer, dir } = node((dir) => ({ lnetctl: fakeTool(dir, "lnetctl", { "ping 10.0.0.5@tcp": { hang: true } }) }))
    return Effect.gen(function*() {
      const ping = yield* Effect.forkChild(LnetProbe.use((probe) => probe.pingNid("10.0.0.5@tcp")))
      const pid = yield* Effect.tryPromise(() =>
        Fs.readFile(Path.join(dir, "lnetctl.pid"), "utf8").then((text) => text.trim() === "" ? Promise.reject(new Error("no pid yet")) : text)
      ).pipe(
        Effect.retry(Schedule.spaced("10 millis")),
        Effect.map((text) => Number(text.trim())),
        Effect.orDie
      )
      assert.isTrue(isAlive(pid))
      yield* Fiber.interrupt(ping)
      const alive = yield* Effect.sync(() => isAlive(pid)).pipe(
        Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (alive) => !alive }),
        Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.succeed(true) })
      )
      assert.isFalse(alive)
    }).pipe(Effect.provide(layer))
  })
})
