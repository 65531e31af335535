/**
 * Benchmarks the driver process (`sim`, over its unix socket): start-up time, memory, and CPU per
 * Identity call; the node plugin's footprint beside a bare grpc-js server (bench/footprint.ts) and the
 * controller's memory over 200,000 calls (bench/controllerFootprint.ts); then, as root, concurrent NodePublishVolume/NodeUnpublishVolume (bench/publish.ts);
 * then dynamic provisioning across duplicate calls and a controller restart (bench/provision.ts, ~8 min);
 * then online expansion with concurrent, retrying callers (bench/expand.ts, ~1 min); then the controller's
 * HSM loop: 20 blob-linked PVCs, an import and an archive annotation on each (bench/hsm.ts, ~3 min); then, as root, a
 * before-start HSM hydration of 10,000 released files in one publish (bench/hydrate.ts, ~2 min, 20 GiB
 * of disk for a while).
 * Prints a table per benchmark of measured value, target, baseline (bench/baseline.json) and delta.
 * Missing a target is reported, not failed: the exit status is 0 unless the benchmark cannot run.
 *
 *   npm run bench                        measure and compare with the baseline
 *   npm run bench -- --update-baseline   also record these numbers as the new baseline
 *   npm run bench -- --no-provision      skip the provision benchmark (the slow one); likewise
 *                                        --no-<name> for any name below
 *   npm run bench -- --only expand       run only these (comma-separated: identity, footprint, controller-footprint,
 *                                        publish, provision, expand, hsm, hydrate, node-setup)
 */
import { cpus } from "node:os"
import type { IdentityClient } from "../src/gen/csi.js"
import { callConcurrently, connect, getPluginCapabilities, getPluginInfo, millisToFirstProbe, probe } from "./client.js"
import { cpuMicros, type DriverProcess, type LogLevel, rssMb, sleep, startDriver } from "./driverProcess.js"
import { measureControllerFootprint } from "./controllerFootprint.js"
import { expandMetrics, expandReport, measureExpand } from "./expand.js"
import { measureFootprint } from "./footprint.js"
import { HSM_SECTION, hsmMetrics, hsmReport, measureHsm } from "./hsm.js"
import { canHydrate, hydrateMetrics, hydrateReport, measureHydrate } from "./hydrate.js"
import { canSetUpNodes, measureNodeSetup, nodeSetupReport } from "./nodeSetup.js"
import { measureProvision, provisionMetrics, provisionReport } from "./provision.js"
import { canMount, measurePublish, publishMetrics, publishReport } from "./publish.js"
import { BASELINE_PATH, type Metric, median, progress, readBaseline, type SectionResults, table, writeBaseline } from "./report.js"

const START_RUNS = 5
const IN_FLIGHT = 32
const MIXED_RPCS = 30_000
const WARMUP_PROBES = 2_000
const CPU_PROBES = 20_000

const metrics = [
  { key: "startToFirstProbeMs", label: `start to first Probe (median of ${START_RUNS})`, unit: "ms", target: { op: "<=", value: 250 } },
  { key: "idleRssMb", label: "idle RSS (1 s after first Probe)", unit: "MB", target: { op: "<=", value: 64 } },
  { key: "rssAfterRpcsMb", label: `RSS after ${MIXED_RPCS / 1000}k mixed Identity RPCs`, unit: "MB", target: { op: "<=", value: 96 } },
  { key: "cpuPerProbeWarnUs", label: "driver CPU per Probe, --log-level warn", unit: "us", target: { op: "<=", value: 100 } },
  { key: "cpuPerProbeInfoUs", label: "driver CPU per Probe, --log-level info", unit: "us", target: { op: "<=", value: 100 } }
] as const satisfies ReadonlyArray<Metric<string>>

type MetricKey = (typeof metrics)[number]["key"]
type Results = Record<MetricKey, number>

const withDriver = async <A>(logLevel: LogLevel, use: (driver: DriverProcess) => Promise<A>): Promise<A> => {
  const driver = startDriver(logLevel)
  try {
    return await use(driver)
  } finally {
    await driver.stop()
  }
}

const withClient = async <A>(driver: DriverProcess, use: (client: IdentityClient) => Promise<A>): Promise<A> => {
  const client = connect(driver.socketPath)
  try {
    return await use(client)
  } finally {
    client.close()
  }
}

/** Driver CPU (user + system) per Probe, over CPU_PROBES Probes after a warm-up. */
const cpuPerProbe = async (driver: DriverProcess, client: IdentityClient): Promise<number> => {
  await callConcurrently(WARMUP_PROBES, IN_FLIGHT, () => probe(client))
  const before = cpuMicros(driver.pid)
  await callConcurrently(CPU_PROBES, IN_FLIGHT, () => probe(client))
  return (cpuMicros(driver.pid) - before) / CPU_PROBES
}

const measure = async (): Promise<{ results: Results; startSamples: ReadonlyArray<number> }> => {
  const startSamples: Array<number> = []
  for (let run = 1; run <= START_RUNS; run++) {
    startSamples.push(await withDriver("warn", millisToFirstProbe))
    progress(`start ${run}/${START_RUNS}: ${startSamples.at(-1)!.toFixed(1)} ms`)
  }

  const warn = await withDriver("warn", async (driver) => {
    await millisToFirstProbe(driver)
    await sleep(1000)
    const idleRssMb = rssMb(driver.pid)
    progress(`idle RSS ${idleRssMb.toFixed(1)} MB; ${MIXED_RPCS} mixed RPCs, ${IN_FLIGHT} in flight`)
    return withClient(driver, async (client) => {
      const calls = [probe, getPluginInfo, getPluginCapabilities] as const
      await callConcurrently(MIXED_RPCS, IN_FLIGHT, (n) => calls[n % calls.length]!(client))
      const rssAfterRpcsMb = rssMb(driver.pid)
      progress(`RSS after RPCs ${rssAfterRpcsMb.toFixed(1)} MB; CPU per Probe at log-level warn`)
      return { idleRssMb, rssAfterRpcsMb, cpuPerProbeWarnUs: await cpuPerProbe(driver, client) }
    })
  })

  progress("CPU per Probe at log-level info")
  const cpuPerProbeInfoUs = await withDriver("info", async (driver) => {
    await millisToFirstProbe(driver)
    return withClient(driver, (client) => cpuPerProbe(driver, client))
  })

  return { results: { startToFirstProbeMs: median(startSamples), ...warn, cpuPerProbeInfoUs }, startSamples }
}

const BENCHMARKS = ["identity", "footprint", "controller-footprint", "publish", "provision", "expand", "hsm", "hydrate", "node-setup"] as const
type Benchmark = (typeof BENCHMARKS)[number]

/** `--only a,b` runs just those; otherwise all but those named `--no-<name>`. */
const selected = (): ReadonlySet<Benchmark> => {
  const at = process.argv.indexOf("--only")
  if (at === -1) return new Set(BENCHMARKS.filter((name) => !process.argv.includes(`--no-${name}`)))
  const named = (process.argv[at + 1] ?? "").split(",").map((name) => name.trim())
  const unknown = named.filter((name) => !BENCHMARKS.some((known) => known === name))
  if (unknown.length > 0 || named.length === 0) {
    throw new Error(`--only takes a comma-separated list of ${BENCHMARKS.join(", ")}; got ${process.argv[at + 1] ?? "nothing"}`)
  }
  return new Set(BENCHMARKS.filter((name) => named.includes(name)))
}

const main = async () => {
  const updateBaseline = process.argv.includes("--update-baseline")
  const running = selected()
  progress(`node ${process.version}, ${cpus().length} CPUs`)
  const measured: Array<SectionResults<string>> = []

  if (running.has("identity")) {
    const { results, startSamples } = await measure()
    process.stdout.write(`\nIdentity: start, memory, CPU per call\n\n${table(metrics, results, readBaseline("results", metrics))}\n\n`)
    process.stdout.write(`start samples (ms): ${startSamples.map((ms) => ms.toFixed(1)).join(", ")}\n`)
    process.stdout.write(`load: ${IN_FLIGHT} calls in flight; CPU measured over ${CPU_PROBES} Probes after ${WARMUP_PROBES} warm-up\n`)
    measured.push({ section: "results", metrics, results })
  } else {
    process.stdout.write("\nidentity benchmark skipped\n")
  }

  if (!running.has("footprint")) {
    process.stdout.write("\nfootprint benchmark skipped\n")
  } else {
    progress("footprint benchmark (about 2 minutes: the node plugin, then a bare grpc-js server)")
    measured.push(await measureFootprint())
  }

  if (!running.has("controller-footprint")) {
    process.stdout.write("\ncontroller-footprint benchmark skipped\n")
  } else {
    progress("controller-footprint benchmark (about 2 minutes)")
    measured.push(await measureControllerFootprint())
  }

  if (!running.has("publish")) {
    process.stdout.write("\npublish benchmark skipped\n")
  } else if (canMount()) {
    progress("publish benchmark")
    const publish = await measurePublish()
    process.stdout.write(`\n${publishReport(publish.results, publish.cycles)}\n`)
    measured.push({ section: "publish", metrics: publishMetrics, results: publish.results })
  } else {
    process.stdout.write("\npublish benchmark skipped: it makes real bind mounts and needs root\n")
  }

  if (!running.has("provision")) {
    process.stdout.write("\nprovision benchmark skipped\n")
  } else {
    progress("provision benchmark (about 8 minutes: the controller polls as in production)")
    const provision = await measureProvision()
    process.stdout.write(`\n${provisionReport(provision.results, provision.details)}\n`)
    measured.push({ section: "provision", metrics: provisionMetrics, results: provision.results })
  }

  if (!running.has("expand")) {
    process.stdout.write("\nexpand benchmark skipped\n")
  } else {
    progress("expand benchmark (about a minute)")
    const expand = await measureExpand()
    process.stdout.write(`\n${expandReport(expand.results, expand.details)}\n`)
    measured.push({ section: "expand", metrics: expandMetrics, results: expand.results })
  }

  if (!running.has("hsm")) {
    process.stdout.write("\nhsm benchmark skipped\n")
  } else {
    progress("hsm benchmark (2 to 3 minutes: the HSM loop resyncs every 30 s)")
    const hsm = await measureHsm()
    process.stdout.write(`\n${hsmReport(hsm.results, hsm.details)}\n`)
    measured.push({ section: HSM_SECTION, metrics: hsmMetrics, results: hsm.results })
  }

  if (!running.has("hydrate")) {
    process.stdout.write("\nhydrate benchmark skipped\n")
  } else if (canHydrate()) {
    progress("hydrate benchmark (1.5 to 2.5 minutes; 20 GiB of disk until it ends)")
    const hydrate = await measureHydrate()
    process.stdout.write(`\n${hydrateReport(hydrate.results, hydrate.details)}\n`)
    measured.push({ section: "hydrate", metrics: hydrateMetrics, results: hydrate.results })
  } else {
    process.stdout.write("\nhydrate benchmark skipped: it makes real bind mounts and needs root\n")
  }

  if (!running.has("node-setup")) {
    process.stdout.write("\nnode-setup benchmark skipped\n")
  } else if (canSetUpNodes()) {
    progress("node-setup benchmark (seconds; a minute more when the node root is made)")
    process.stdout.write(`\n${nodeSetupReport(await measureNodeSetup())}\n`)
  } else {
    process.stdout.write("\nnode-setup benchmark skipped: it runs apt-get in a chroot and needs root and mmdebstrap\n")
  }

  if (updateBaseline) {
    writeBaseline(measured)
    process.stdout.write(`\nbaseline updated (${measured.map(({ section }) => section).join(", ")}): ${BASELINE_PATH}\n`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: could not run: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
