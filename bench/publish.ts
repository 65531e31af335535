/**
 * Benchmarks NodePublishVolume and NodeUnpublishVolume of the driver process (`sim`, real bind
 * mounts, so it needs root): 50 publishes of one static volume to 50 targets, all in flight at
 * once, then 50 unpublishes, also at once; the whole cycle 3 times on one driver, the median of
 * each number reported. All publishes of one filesystem on a node must share one Lustre mount.
 *
 * `npm run bench` runs it after the Identity benchmark (bench/run.ts). On its own:
 *
 *   node dist/bench/publish.js                     measure and compare with the baseline
 *   node dist/bench/publish.js --update-baseline   also record these numbers (its section only)
 *
 * Whatever is still mounted under its folders afterwards, because a call or the benchmark failed,
 * is unmounted lazily (`umount -l`), also on SIGINT/SIGTERM.
 */
import { rmSync } from "node:fs"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { type NodeClient, type NodePublishVolumeRequest, VolumeCapability_AccessMode_Mode } from "../src/gen/csi.js"
import { connectNode, millisToFirstProbe, nodePublishVolume, nodeUnpublishVolume } from "./client.js"
import { type DriverProcess, killNow, mountPoints, startDriver, unmountUnder } from "./driverProcess.js"
import { BASELINE_PATH, type Metric, median, percentile, progress, readBaseline, runWhenEntryPoint, table, writeBaseline } from "./report.js"

export const VOLUME_ID = "bench#lustrefs#10.0.0.4#data#f#"
export const PUBLISHES = 50
export const CYCLES = 3

export const publishMetrics = [
  { key: "lustreMounts", label: `Lustre mounts for ${PUBLISHES} publishes`, unit: "", target: { op: "=", value: 1 }, digits: 0 },
  { key: "targetBindMounts", label: `bind mounts at the ${PUBLISHES} targets`, unit: "", target: { op: "=", value: PUBLISHES }, digits: 0 },
  { key: "publishFailures", label: "publishes failed", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "publishP50Ms", label: "publish latency p50", unit: "ms" },
  { key: "publishP99Ms", label: "publish latency p99", unit: "ms" },
  { key: "publishMaxMs", label: "publish latency max", unit: "ms" },
  { key: "publishWallMs", label: `${PUBLISHES} publishes, wall time`, unit: "ms" },
  { key: "unpublishP50Ms", label: "unpublish latency p50", unit: "ms" },
  { key: "unpublishP99Ms", label: "unpublish latency p99", unit: "ms" },
  { key: "unpublishFailures", label: "unpublishes failed", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "mountsLeft", label: "mounts left after unpublish", unit: "", target: { op: "=", value: 0 }, digits: 0 }
] as const satisfies ReadonlyArray<Metric<string>>

export type PublishKey = (typeof publishMetrics)[number]["key"]
export type PublishResults = Record<PublishKey, number>

const request = (targetPath: string): NodePublishVolumeRequest => ({
  volumeId: VOLUME_ID,
  publishContext: {},
  stagingTargetPath: "",
  targetPath,
  volumeCapability: {
    accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
    accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
  },
  readonly: false,
  secrets: {},
  volumeContext: {}
})

interface Timed {
  readonly ms: number
  readonly error?: string
}

const timed = async (call: () => Promise<unknown>): Promise<Timed> => {
  const started = performance.now()
  try {
    await call()
    return { ms: performance.now() - started }
  } catch (error) {
    return { ms: performance.now() - started, error: error instanceof Error ? error.message : String(error) }
  }
}

const isWithin = (dir: string, path: string) => path === dir || path.startsWith(`${dir}/`)

const reportFailures = (what: string, calls: ReadonlyArray<Timed>) => {
  const failed = calls.filter((call) => call.error !== undefined)
  if (failed.length > 0) progress(`${failed.length} ${what} failed, e.g.: ${failed[0]!.error}`)
  return failed.length
}

/** One cycle: PUBLISHES publishes at once to fresh targets, count the mounts, PUBLISHES unpublishes at once. */
const cycle = async (driver: DriverProcess, client: NodeClient, folder: string): Promise<PublishResults> => {
  const mountRoot = join(driver.stateDir, "mounts")
  const targets = Array.from({ length: PUBLISHES }, (_, n) => join(folder, `pod-${n}`, "mount"))

  const started = performance.now()
  const published = await Promise.all(targets.map((targetPath) => timed(() => nodePublishVolume(client, request(targetPath)))))
  const publishWallMs = performance.now() - started
  const mounted = mountPoints()
  const targetSet = new Set(targets)

  const unpublished = await Promise.all(
    targets.map((targetPath) => timed(() => nodeUnpublishVolume(client, { volumeId: VOLUME_ID, targetPath })))
  )
  const left = mountPoints().filter((point) => isWithin(mountRoot, point) || isWithin(folder, point))
  if (left.length > 0) progress(`still mounted after unpublish: ${left.join(", ")}`)

  const publishMs = published.map((call) => call.ms)
  const unpublishMs = unpublished.map((call) => call.ms)
  return {
    lustreMounts: mounted.filter((point) => dirname(point) === mountRoot).length,
    targetBindMounts: mounted.filter((point) => targetSet.has(point)).length,
    publishFailures: reportFailures("publishes", published),
    publishP50Ms: percentile(publishMs, 50),
    publishP99Ms: percentile(publishMs, 99),
    publishMaxMs: Math.max(...publishMs),
    publishWallMs,
    unpublishP50Ms: percentile(unpublishMs, 50),
    unpublishP99Ms: percentile(unpublishMs, 99),
    unpublishFailures: reportFailures("unpublishes", unpublished),
    mountsLeft: left.length
  }
}

/** Runs CYCLES cycles on one `sim` driver (log level warn); each number is the median over the cycles. */
export const measurePublish = async (): Promise<{ results: PublishResults; cycles: ReadonlyArray<PublishResults> }> => {
  const driver = startDriver("warn")
  // The simulated kubelet's pods folder: the node plugin publishes only below it.
  const targetRoot = join(driver.stateDir, "kubelet", "pods")
  const driverFolder = dirname(driver.stateDir)
  // On ^C or kill, no async cleanup runs: unmount synchronously, then go.
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: unmounting and stopping the driver`)
    killNow(driver.pid)
    unmountUnder(targetRoot)
    unmountUnder(driverFolder)
    rmSync(targetRoot, { recursive: true, force: true })
    rmSync(driverFolder, { recursive: true, force: true })
    process.exit(signal === "SIGINT" ? 130 : 143)
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const client = connectNode(driver.socketPath)
  try {
    await millisToFirstProbe(driver)
    const cycles: Array<PublishResults> = []
    for (let n = 1; n <= CYCLES; n++) {
      const result = await cycle(driver, client, join(targetRoot, `cycle-${n}`))
      cycles.push(result)
      if (driver.hasExited()) throw new Error(`the driver exited during publish cycle ${n}; it wrote:\n${driver.recentOutput()}`)
      progress(
        `publish cycle ${n}/${CYCLES}: ${result.lustreMounts} Lustre mount(s), ${result.targetBindMounts} target binds, ` +
          `publish p50 ${result.publishP50Ms.toFixed(1)} / max ${result.publishMaxMs.toFixed(1)} ms, ` +
          `wall ${result.publishWallMs.toFixed(1)} ms; unpublish p50 ${result.unpublishP50Ms.toFixed(1)} ms; ${result.mountsLeft} left`
      )
    }
    const results = Object.fromEntries(
      publishMetrics.map(({ key }) => [key, median(cycles.map((result) => result[key]))])
    ) as PublishResults
    return { results, cycles }
  } finally {
    client.close()
    await driver.stop() // unmounts what is left in its folder (the shared mount), then removes it
    const unmounted = unmountUnder(targetRoot)
    if (unmounted > 0) progress(`cleaned up ${unmounted} mount(s) left at the targets`)
    rmSync(targetRoot, { recursive: true, force: true })
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
}

/** The publish benchmark's table and notes, compared with the baseline's `publish` section. */
export const publishReport = (results: PublishResults, cycles: ReadonlyArray<PublishResults>): string =>
  [
    `Node publish: one static volume, ${PUBLISHES} publishes and unpublishes at once`,
    "",
    table(publishMetrics, results, readBaseline("publish", publishMetrics)),
    "",
    `publish wall time per cycle (ms): ${cycles.map((result) => result.publishWallMs.toFixed(1)).join(", ")}`,
    `load: ${PUBLISHES} NodePublishVolume of ${VOLUME_ID} (MULTI_NODE_MULTI_WRITER, mount) to ${PUBLISHES} targets, ` +
      `all in flight, then ${PUBLISHES} NodeUnpublishVolume; median of ${CYCLES} cycles on one driver`
  ].join("\n")

/** Whether the publish benchmark can run here: bind mounts need root. */
export const canMount = (): boolean => process.getuid?.() === 0

// Run as `node dist/bench/publish.js` (not imported by run.js).
runWhenEntryPoint(import.meta.url, async () => {
  if (!canMount()) throw new Error("the publish benchmark makes real bind mounts: run it as root")
  progress(`node ${process.version}, ${cpus().length} CPUs; publish benchmark`)
  const { results, cycles } = await measurePublish()
  process.stdout.write(`\n${publishReport(results, cycles)}\n`)
  if (process.argv.includes("--update-baseline")) {
    writeBaseline([{ section: "publish", metrics: publishMetrics, results }])
    process.stdout.write(`baseline updated (publish section): ${BASELINE_PATH}\n`)
  }
})
