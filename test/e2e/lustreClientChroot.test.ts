/**
 * The node setup for real, in a chroot: the live layer runs apt-get and dpkg of a minimal Debian
 * root (mmdebstrap) that says it is Ubuntu 22.04, installing stand-in AMLFS client packages
 * from a local file repository; modprobe, lnetctl, lustre_rmmod and ip are recording stand-ins
 * (test/layers/lustreClient/debianHostRoot.ts). Needs root (chroot) and mmdebstrap.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Duration, Effect, Layer, Ref, Schedule } from "effect"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterEach, beforeAll, expect, it } from "vitest"
import { LustreClientLive } from "../../layers/lustreClient/LustreClientLive.js"
import { parseDpkgStatus } from "../../layers/lustreClient/dpkgStatus.js"
import { isPackageManagerCommand } from "../../layers/lustreClient/hostCommands.js"
import { NodeSetup, type NodeSetupStatus } from "../../src/node/setup/NodeSetup.js"
import { type NodeSetupEvent, NodeSetupEvents } from "../../src/node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings, type NodeSetupSettings } from "../../src/node/setup/NodeSetupSettings.js"
import { debianRootTarball, type HostRoot, liveOptionsFor, LOCAL_REPOSITORY, makeHostRoot } from "../layers/lustreClient/debianHostRoot.js"
import { rootOnly } from "../support/rootOnly.js"

const { describe } = rootOnly("runs apt-get and dpkg in a chroot")

const KERNEL = "5.15.0-1079-azure"
const OFFERED = { lustreVersion: "2.15.7", shaSuffix: "33-g79ddf99", kernel: KERNEL }
const OLD = { lustreVersion: "2.15.5", shaSuffix: "10-gabcdef0", kernel: KERNEL }
const PACKAGE = "amlfs-lustre-client-2.15.7-33-g79ddf99"
const INSTALL = `apt-get install -y --reinstall --no-install-recommends -o DPkg::options::=--force-confdef -o DPkg::options::=--force-confold ${PACKAGE}=${KERNEL}`
const LOAD_AND_CONFIGURE = [
  "modprobe -v lnet",
  "modprobe -v ksocklnd skip_mr_route_setup=1",
  "lnetctl lnet configure",
  "ip -o link show",
  "ip route show",
  "lnetctl net show",
  "lnetctl net add --net tcp --if eth0",
  "modprobe -v mgc",
  "modprobe -v lustre"
]

let roots: Array<HostRoot> = []
beforeAll(() => {
  debianRootTarball()
}, 600_000)
afterEach(() => {
  for (const root of roots) root.remove()
  roots = []
})

const hostRoot = () => {
  const host = makeHostRoot(OFFERED, OLD)
  roots.push(host)
  return host
}

interface Run {
  /** Every command the live layer spawned, without its `chroot <root>` prefix, in order. */
  readonly spawned: ReadonlyArray<string>
  readonly status: NodeSetupStatus
  readonly events: ReadonlyArray<NodeSetupEvent>
}

/** Runs the node setup on `host` until it is done or has failed (then stops it). */
const runSetup = (host: HostRoot, kernel = KERNEL, timeouts: Partial<NodeSetupSettings["timeouts"]> = {}): Promise<Run> => {
  const spawned: Array<string> = []
  const events = Ref.makeUnsafe<ReadonlyArray<NodeSetupEvent>>([])
  const recording = Layer.effect(
    ChildProcessSpawner.ChildProcessSpawner,
    Effect.gen(function*() {
      const real = yield* ChildProcessSpawner.ChildProcessSpawner
      return ChildProcessSpawner.make((command) => {
        if (command._tag === "StandardCommand") spawned.push([command.command, ...command.args].join(" ").replace(`chroot ${host.root} `, ""))
        return real.spawn(command)
      })
    })
  ).pipe(Layer.provide(NodeServices.layer))
  const setup = NodeSetup.layer({
    ...defaultNodeSetupSettings,
    repositoryFor: () => LOCAL_REPOSITORY,
    installRetryBase: Duration.millis(10),
    timeouts: { ...defaultNodeSetupSettings.timeouts, ...timeouts }
  }).pipe(Layer.provide(Layer.merge(LustreClientLive.layer(liveOptionsFor(host, kernel)).pipe(Layer.provide(recording)), NodeSetupEvents.layerRecording(events))))
  return Effect.runPromise(
    Effect.gen(function*() {
      const node = yield* NodeSetup
      const status = yield* node.status.pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (s) => s._tag === "Ready" || s._tag === "Failed" }),
        Effect.timeout("60 seconds")
      )
      return { spawned: [...spawned], status, events: yield* Ref.get(events) }
    }).pipe(Effect.provide(setup), Effect.scoped)
  )
}

const installedClients = (host: HostRoot) =>
  parseDpkgStatus(Fs.readFileSync(Path.join(host.root, "var/lib/dpkg/status"), "utf8"), (name) => name.includes("lustre-client"))
    .filter((found) => found.state === "installed")

describe("the node setup in a chroot: the root's real apt-get and dpkg", () => {
  it("installs the client for the node's kernel from the repository, configures LNet and loads the modules; a second run installs nothing", async () => {
    const host = hostRoot()
    const first = await runSetup(host)
    expect(first.status).toEqual({ _tag: "Ready", summary: `${PACKAGE} for ${KERNEL} installed, LNet tcp on eth0` })
    expect(first.spawned).toEqual(["apt-get update", INSTALL, ...LOAD_AND_CONFIGURE])
    // The stand-ins ran in the root, as the node's own tools would.
    expect(host.standInCalls()).toEqual(LOAD_AND_CONFIGURE)
    expect(installedClients(host)).toEqual([{ name: PACKAGE, version: KERNEL, state: "installed" }])
    expect(Fs.readFileSync(Path.join(host.root, LOCAL_REPOSITORY.listFile), "utf8")).toBe(`${LOCAL_REPOSITORY.sourceLine}\n`)
    expect(first.events.map((event) => event.reason)).toEqual(["LustreClientInstalled"])

    const second = await runSetup(host)
    expect(second.status._tag).toBe("Ready")
    expect(second.spawned.filter((command) => isPackageManagerCommand(command.split(" ")))).toEqual([])
    expect(second.spawned).toEqual(["lnetctl net show", "ip -o link show", "ip route show", "lnetctl net show", "modprobe -v mgc", "modprobe -v lustre"])
    expect(second.events).toEqual([])
  }, 90_000)

  it("an old client in the way: dpkg refuses (its files), lustre_rmmod, the old client purged, the second try installs", async () => {
    const host = hostRoot()
    host.dpkgInstall(host.packages.old)
    host.loadModules(["lnet 4096 1", "lustre 4096 0"], "2.15.5_10_gabcdef0")
    const run = await runSetup(host)
    expect(run.status._tag).toBe("Ready")
    expect(run.spawned).toEqual([
      "apt-get update",
      INSTALL,
      "lustre_rmmod",
      "apt-get remove --purge -y amlfs-lustre-client-2.15.5-10-gabcdef0",
      INSTALL,
      ...LOAD_AND_CONFIGURE
    ])
    expect(installedClients(host)).toEqual([{ name: PACKAGE, version: KERNEL, state: "installed" }])
    expect(Fs.readFileSync(Path.join(host.root, "var/lib/stand-ins/sys-module/lustre/version"), "utf8").trim()).toBe("2.15.7_33_g79ddf99")
  }, 90_000)

  it("an install cut at its bound (its maintainer script stuck): dpkg, killed with it, is left interrupted; dpkg --configure -a, then the next try reinstalls the half-installed client", async () => {
    const host = hostRoot()
    const lifted = host.holdInstall()
    const run = await runSetup(host, KERNEL, { install: Duration.seconds(3) })
    await lifted
    expect(run.status).toEqual({ _tag: "Ready", summary: `${PACKAGE} for ${KERNEL} installed, LNet tcp on eth0` })
    expect(run.spawned).toEqual(["apt-get update", INSTALL, "dpkg --configure -a --force-confdef --force-confold", INSTALL, ...LOAD_AND_CONFIGURE])
    expect(installedClients(host)).toEqual([{ name: PACKAGE, version: KERNEL, state: "installed" }])
    expect(Fs.readdirSync(Path.join(host.root, "var/lib/dpkg/updates"))).toEqual([])
  }, 90_000)

  it("no package for the node's kernel: one try, the old client left alone, the reason names kernel, package and what to do", async () => {
    const host = hostRoot()
    host.dpkgInstall(host.packages.old)
    const run = await runSetup(host, "5.15.0-1080-azure")
    expect(run.spawned).toEqual([
      "apt-get update",
      `apt-get install -y --reinstall --no-install-recommends -o DPkg::options::=--force-confdef -o DPkg::options::=--force-confold ${PACKAGE}=5.15.0-1080-azure`
    ])
    expect(run.status).toMatchObject({ _tag: "Failed", retrying: true })
    expect(run.status._tag === "Failed" ? run.status.reason : "").toMatch(
      /^no amlfs-lustre-client-2\.15\.7-33-g79ddf99 package for kernel 5\.15\.0-1080-azure in file:\/srv\/amlfs\/ \(apt-get: E: Version '5\.15\.0-1080-azure' for 'amlfs-lustre-client-2\.15\.7-33-g79ddf99' was not found\).*upgrade the node image/
    )
    expect(installedClients(host).map((found) => found.name)).toEqual(["amlfs-lustre-client-2.15.5-10-gabcdef0"])
    expect(run.events.map((event) => [event.type, event.reason])).toEqual([["Warning", "LustreClientSetupFailed"]])
  }, 90_000)
})
