import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Layer, Logger, Ref, Scope, Stream } from "effect"
import { ChildProcess, type ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { type GuardedOpen, makeReadGate, type OpenVerdict, type ReadGate } from "../../../layers/hsm/simulation/ReadGate.js"
import { readGateAgentSource } from "../../../layers/hsm/simulation/readGateAgent.js"
import { scratchFolder } from "../../support/mounts.js"
import { rootOnly } from "../../support/rootOnly.js"

// fanotify permission events need CAP_SYS_ADMIN.
const asRoot = rootOnly("fanotify permission events need root")
const folder = scratchFolder("read-gate-test-")
afterAll(() => Fs.rmSync(folder, { recursive: true, force: true }))

let files = 0
/** A new file holding `content`, so no test sees another's guard. */
const fileWith = (content: string): string => {
  const path = Path.join(folder, `file-${++files}`)
  Fs.writeFileSync(path, content)
  return path
}

const identityOf = (path: string) => {
  const stat = Fs.statSync(path)
  return `${stat.dev}:${stat.ino}`
}

type Decide = (file: GuardedOpen) => Effect.Effect<OpenVerdict>

/** One gate (one agent) for the suite; each test says how opens are decided and sees the opens asked about. */
class TestGate extends Context.Service<TestGate, {
  readonly gate: ReadGate
  readonly decide: Ref.Ref<Decide>
  readonly opens: Ref.Ref<ReadonlyArray<GuardedOpen>>
  /** What the gate logged, as "<level> <message>" and the cause's failures, if any. */
  readonly logs: Array<string>
}>()("test/TestGate") {}

/** A logger that keeps "<level> <message> <cause's failures>" lines in `lines`. */
const capturing = (lines: Array<string>) =>
  Logger.layer([
    Logger.make(({ cause, logLevel, message }) => {
      const failures = cause.reasons.length === 0 ? [] : [String(Cause.squash(cause))]
      lines.push([logLevel, ...(Array.isArray(message) ? message : [message]), ...failures].map(String).join(" "))
    })
  ])

const TestGateLive = Layer.effect(
  TestGate,
  Effect.gen(function*() {
    const decide = yield* Ref.make<Decide>(() => Effect.succeed("allow"))
    const opens = yield* Ref.make<ReadonlyArray<GuardedOpen>>([])
    const logs: Array<string> = []
    const gate = yield* makeReadGate((file) =>
      Ref.update(opens, (seen) => [...seen, file]).pipe(Effect.andThen(Ref.get(decide)), Effect.flatMap((decideOn) => decideOn(file)))
    ).pipe(Effect.provide(capturing(logs)))
    if (gate === undefined) return yield* Effect.die(`the read gate did not start: ${logs.join("; ")}`)
    return { gate, decide, opens, logs }
  })
).pipe(Layer.provideMerge(NodeServices.layer))

/** Decides this test's opens with `decide`, from no opens seen; answers the gate. */
const given = (decide: Decide) =>
  Effect.gen(function*() {
    const { gate, decide: current, opens } = yield* TestGate
    yield* Ref.set(current, decide)
    yield* Ref.set(opens, [])
    return gate
  })

const opensSeen = TestGate.use(({ opens }) => Ref.get(opens))

/** `cat path` as a process of its own (the test's process is let through by the gate). */
const cat = (path: string) => ChildProcess.make("cat", [path], { stdin: "ignore" })

const text = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

/** What a process printed and how it ended. */
const finished = (handle: ChildProcessSpawner.ChildProcessHandle) =>
  Effect.all({ stdout: text(handle.stdout), stderr: text(handle.stderr), exitCode: handle.exitCode }, { concurrency: "unbounded" })

/** Still held after a while: the open waits in the kernel, not merely slow to finish. */
const stillHeld = (handle: ChildProcessSpawner.ChildProcessHandle) =>
  Effect.sleep("100 millis").pipe(Effect.andThen(handle.isRunning))

/** The pids of this file's read gate agents, from /proc. */
const agentPids = (): Array<number> =>
  Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      const argv = Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      return argv.includes(readGateAgentSource) && argv.at(-2) === String(process.pid) ? [Number(pid)] : []
    } catch {
      return []
    }
  })

asRoot.layer(TestGateLive, { excludeTestServices: true })("the read gate, on real fanotify permission events", (it) => {
  it.effect("holds a cat's open until the answer, and the cat reads what was written meanwhile", () =>
    Effect.gen(function*() {
      const asked = yield* Deferred.make<GuardedOpen>()
      const restored = yield* Deferred.make<void>()
      const gate = yield* given((file) => Deferred.succeed(asked, file).pipe(Effect.andThen(Deferred.await(restored)), Effect.as("allow")))
      const file = fileWith("")
      yield* gate.guard(file)
      const reader = yield* cat(file)
      const open = yield* Deferred.await(asked)
      assert.deepStrictEqual(open, { path: file, identity: identityOf(file), pid: reader.pid })
      assert.isTrue(yield* stillHeld(reader))
      // The restore: this process is let through, so it writes the data without waiting on itself.
      // (Written off the event loop: were it held, the test would time out rather than hang.)
      yield* Effect.promise(() => Fs.promises.writeFile(file, "the data, restored"))
      yield* Deferred.succeed(restored, undefined)
      assert.deepStrictEqual(yield* finished(reader), { stdout: "the data, restored", stderr: "", exitCode: 0 })
    }))

  it.effect("a denied open fails with EPERM", () =>
    Effect.gen(function*() {
      const gate = yield* given(() => Effect.succeed("deny"))
      const file = fileWith("never read")
      yield* gate.guard(file)
      assert.deepStrictEqual(yield* finished(yield* cat(file)), {
        stdout: "",
        stderr: `cat: ${file}: Operation not permitted\n`,
        exitCode: 1
      })
    }))

  it.effect("an open whose decision dies is denied", () =>
    Effect.gen(function*() {
      const gate = yield* given(() => Effect.die("the restore model broke"))
      const file = fileWith("never read")
      yield* gate.guard(file)
      assert.strictEqual((yield* finished(yield* cat(file))).exitCode, 1)
      const { logs } = yield* TestGate
      assert.isTrue(
        logs.some((line) => line.startsWith(`Error read gate: deciding an open failed; the open is denied ${file}`) && line.includes("the restore model broke")),
        logs.join("\n")
      )
    }))

  it.effect("after unguard, opens pass without being asked about; unguarding what is not guarded is fine", () =>
    Effect.gen(function*() {
      const gate = yield* given(() => Effect.succeed("allow"))
      const file = fileWith("plain data")
      yield* gate.guard(file)
      assert.strictEqual((yield* finished(yield* cat(file))).stdout, "plain data")
      assert.strictEqual((yield* opensSeen).length, 1)
      yield* gate.unguard(file)
      assert.strictEqual((yield* finished(yield* cat(file))).stdout, "plain data")
      assert.strictEqual((yield* opensSeen).length, 1)
      yield* gate.unguard(file)
      yield* gate.unguard(Path.join(folder, "no-such-file"))
    }))

  it.effect("opens by the driving process pass without being asked about", () =>
    Effect.gen(function*() {
      const gate = yield* given(() => Effect.succeed("allow"))
      const file = fileWith("ours")
      yield* gate.guard(file)
      // Read on libuv's thread pool, not the event loop: were this process not let through, the
      // open would be asked about (and this test fail) instead of blocking the gate's own answers.
      assert.strictEqual(yield* Effect.promise(() => Fs.promises.readFile(file, "utf8")), "ours")
      assert.deepStrictEqual(yield* opensSeen, [])
    }))

  it.effect("opens of two files are answered independently", () =>
    Effect.gen(function*() {
      const first = fileWith("first")
      const second = fileWith("second")
      const firstHeld = yield* Deferred.make<void>()
      const releaseFirst = yield* Deferred.make<void>()
      const gate = yield* given((file) =>
        file.identity === identityOf(first)
          ? Deferred.succeed(firstHeld, undefined).pipe(Effect.andThen(Deferred.await(releaseFirst)), Effect.as("allow"))
          : Effect.succeed("allow")
      )
      yield* gate.guard(first)
      yield* gate.guard(second)
      const firstReader = yield* cat(first)
      yield* Deferred.await(firstHeld)
      assert.strictEqual((yield* finished(yield* cat(second))).stdout, "second")
      assert.isTrue(yield* firstReader.isRunning)
      yield* Deferred.succeed(releaseFirst, undefined)
      assert.strictEqual((yield* finished(firstReader)).stdout, "first")
    }))

  it.effect("two opens of one file, held together, each get their own answer", () =>
    Effect.gen(function*() {
      const file = fileWith("shared")
      const deniedPid = yield* Deferred.make<number>()
      const bothHeld = yield* Deferred.make<void>()
      const asked = yield* Ref.make(0)
      const gate = yield* given((open) =>
        Effect.gen(function*() {
          if ((yield* Ref.updateAndGet(asked, (n) => n + 1)) === 2) yield* Deferred.succeed(bothHeld, undefined)
          yield* Deferred.await(bothHeld)
          return open.pid === (yield* Deferred.await(deniedPid)) ? "deny" : "allow"
        })
      )
      yield* gate.guard(file)
      const denied = yield* cat(file)
      yield* Deferred.succeed(deniedPid, denied.pid)
      const allowed = yield* cat(file)
      assert.strictEqual((yield* finished(allowed)).stdout, "shared")
      assert.strictEqual((yield* finished(denied)).exitCode, 1)
      assert.sameMembers((yield* opensSeen).map((open) => open.pid), [denied.pid, allowed.pid])
    }))

  it.effect("guarding a missing file fails and names it", () =>
    Effect.gen(function*() {
      const gate = yield* given(() => Effect.succeed("allow"))
      const missing = Path.join(folder, "missing")
      const failed = yield* Effect.flip(gate.guard(missing))
      assert.strictEqual(failed._tag, "ReadGateFailed")
      assert.strictEqual(failed.path, missing)
      assert.match(failed.message, /No such file or directory/)
    }))

  it.effect("closing its scope kills the agent, and a held open goes through", () =>
    Effect.gen(function*() {
      const file = fileWith("released at last")
      const asked = yield* Deferred.make<void>()
      const before = agentPids()
      const scope = yield* Scope.make()
      const gate = yield* makeReadGate(() => Deferred.succeed(asked, undefined).pipe(Effect.andThen(Effect.never))).pipe(
        Scope.provide(scope)
      )
      assert.isDefined(gate)
      const started = agentPids().filter((pid) => !before.includes(pid))
      assert.strictEqual(started.length, 1)
      yield* gate!.guard(file)
      const reader = yield* cat(file)
      yield* Deferred.await(asked)
      assert.isTrue(yield* reader.isRunning)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(agentPids().filter((pid) => started.includes(pid)), [])
      assert.deepStrictEqual(yield* finished(reader), { stdout: "released at last", stderr: "", exitCode: 0 })
    }))
})

describe("the read gate without python3", () => {
  it.live("answers undefined and says why once, so the simulation runs on", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const path = process.env.PATH
          process.env.PATH = folder
          return path
        }),
        (path) => Effect.sync(() => (process.env.PATH = path))
      )
      const gate = yield* makeReadGate(() => Effect.succeed("allow")).pipe(Effect.provide(capturing(logs)))
      assert.isUndefined(gate)
      assert.strictEqual(logs.length, 1, logs.join("\n"))
      assert.match(logs[0]!, /^Warn read gate unavailable \(.*python3.*\): reads of released files see zeros/)
    }))
})
