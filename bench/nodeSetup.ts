/**
 * Benchmarks the node setup (src/node/setup): how long a node plugin takes from its start to a
 * set-up Lustre client when the client is installed already (every restart of the DaemonSet's
 * pod), and how many package-manager commands that costs (none is the target); the first setup
 * of a node, which installs, for comparison.
 *
 * It runs the setup as `serve` does (NodeSetup over LustreClientLive), in process, against a
 * node root made as test/e2e/lustreClientChroot.test.ts makes it: a minimal Debian root
 * (mmdebstrap, kept a week in /var/tmp) that says it is Ubuntu 22.04, its real apt-get and dpkg
 * installing a stand-in client package from a local repository, stand-ins for modprobe, lnetctl,
 * lustre_rmmod and ip. Every command goes through `chroot`, as on a node. It needs root and
 * mmdebstrap. `npm run bench -- --only node-setup`, or alone:
 *
 *   npm run build && node dist/bench/nodeSetup.js
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Duration, Effect, Layer, References } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { execFileSync } from "node:child_process"
import { performance } from "node:perf_hooks"
import { isPackageManagerCommand } from "../layers/lustreClient/hostCommands.js"
import { LustreClientLive } from "../layers/lustreClient/LustreClientLive.js"
import { NodeSetup } from "../src/node/setup/NodeSetup.js"
import { NodeSetupEvents } from "../src/node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings } from "../src/node/setup/NodeSetupSettings.js"
import { type HostRoot, liveOptionsFor, LOCAL_REPOSITORY, makeHostRoot } from "../test/layers/lustreClient/debianHostRoot.js"
import { type Metric, median, progress, runWhenEntryPoint, table } from "./report.js"

const RESTARTS = 5
const KERNEL = "5.15.0-1079-azure"
const CLIENT = { lustreVersion: "2.15.7", shaSuffix: "33-g79ddf99", kernel: KERNEL }
const OLD_CLIENT = { lustreVersion: "2.15.5", shaSuffix: "10-gabcdef0", kernel: KERNEL }

export const nodeSetupMetrics = [
  { key: "restartToReadyMs", label: `restart, client installed: start to set up (median of ${RESTARTS})`, unit: "ms", target: { op: "<=", value: 1000 } },
  { key: "restartPackageManagerCalls", label: `package-manager commands on a restart (all ${RESTARTS})`, unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "restartHostCommands", label: "host commands on a restart (lnetctl, ip, modprobe)", unit: "", digits: 0 },
  { key: "firstSetupMs", label: "first setup of a node: install, LNet, modules", unit: "ms" },
  { key: "firstPackageManagerCalls", label: "package-manager commands of the first setup", unit: "", digits: 0 }
] as const satisfies ReadonlyArray<Metric<string>>

type Key = (typeof nodeSetupMetrics)[number]["key"]

/** The setup needs chroot (root) and mmdebstrap (for the node root). */
export const canSetUpNodes = (): boolean => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync("mmdebstrap", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** One node plugin start: its setup until done, timed; the host commands it spawned. */
const setUp = async (host: HostRoot): Promise<{ readonly millis: number; readonly commands: ReadonlyArray<string> }> => {
  const commands: Array<string> = []
  const recording = Layer.effect(
    ChildProcessSpawner.ChildProcessSpawner,
    Effect.gen(function*() {
      const real = yield* ChildProcessSpawner.ChildProcessSpawner
      return ChildProcessSpawner.make((command) => {
        if (command._tag === "StandardCommand") commands.push(command.args.slice(1).join(" "))
        return real.spawn(command)
      })
    })
  ).pipe(Layer.provide(NodeServices.layer))
  const started = performance.now()
  await Effect.runPromise(
    Effect.gen(function*() {
      yield* (yield* NodeSetup).done.pipe(Effect.timeout("2 minutes"))
    }).pipe(
      Effect.provide(NodeSetup.layer({ ...defaultNodeSetupSettings, repositoryFor: () => LOCAL_REPOSITORY, installRetryBase: Duration.millis(10) }).pipe(
        Layer.provide(Layer.merge(LustreClientLive.layer(liveOptionsFor(host, KERNEL)).pipe(Layer.provide(recording)), NodeSetupEvents.layerLog))
      )),
      Effect.scoped,
      // The setup's log lines would drown the table: warnings only.
      Effect.provideService(References.MinimumLogLevel, "Warn")
    )
  )
  return { millis: performance.now() - started, commands }
}

const packageManager = (commands: ReadonlyArray<string>) => commands.filter((command) => isPackageManagerCommand(command.split(" ")))

export const measureNodeSetup = async (): Promise<{ readonly results: Record<Key, number>; readonly restarts: ReadonlyArray<number>; readonly restartCommands: ReadonlyArray<string> }> => {
  progress("node setup: the node root (mmdebstrap on the first run, about a minute)")
  const host = makeHostRoot(CLIENT, OLD_CLIENT)
  try {
    const first = await setUp(host)
    progress(`node setup: first setup ${first.millis.toFixed(0)} ms (${first.commands.length} commands)`)
    const restarts: Array<number> = []
    let restartCommands: ReadonlyArray<string> = []
    let restartPackageManagerCalls = 0
    for (let run = 1; run <= RESTARTS; run++) {
      const restart = await setUp(host)
      restarts.push(restart.millis)
      restartCommands = restart.commands
      restartPackageManagerCalls += packageManager(restart.commands).length
      progress(`node setup: restart ${run}/${RESTARTS} ${restart.millis.toFixed(0)} ms`)
    }
    return {
      results: {
        restartToReadyMs: median(restarts),
        restartPackageManagerCalls,
        restartHostCommands: restartCommands.length,
        firstSetupMs: first.millis,
        firstPackageManagerCalls: packageManager(first.commands).length
      },
      restarts,
      restartCommands
    }
  } finally {
    host.remove()
  }
}

export const nodeSetupReport = (measured: Awaited<ReturnType<typeof measureNodeSetup>>): string =>
  [
    "Node setup: the Lustre client on a node plugin's start (chroot into a node root, real apt-get and dpkg)",
    "",
    table(nodeSetupMetrics, measured.results, {}),
    "",
    `restarts (ms): ${measured.restarts.map((ms) => ms.toFixed(0)).join(", ")}`,
    `a restart's commands: ${measured.restartCommands.join("; ")}`
  ].join("\n")

runWhenEntryPoint(import.meta.url, async () => {
  if (!canSetUpNodes()) throw new Error("the node-setup benchmark needs root (chroot) and mmdebstrap")
  process.stdout.write(`\n${nodeSetupReport(await measureNodeSetup())}\n`)
})
