/**
 * Benchmarks the driver process (`sim`, over its unix socket): start-up time, memory, and CPU per
 * call. Prints a table of measured value, target, baseline (bench/baseline.json) and delta.
 * Missing a target is reported, not failed: the exit status is 0 unless the benchmark cannot run.
 *
 *   npm run bench                        measure and compare with the baseline
 *   npm run bench -- --update-baseline   also record these numbers as the new baseline
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import type { IdentityClient } from "../src/gen/csi.js"
import { callConcurrently, connect, getPluginCapabilities, getPluginInfo, millisToFirstProbe, probe } from "./client.js"
import { cpuMicros, type DriverProcess, type LogLevel, rssMb, sleep, startDriver } from "./driverProcess.js"

const START_RUNS = 5
const IN_FLIGHT = 32
const MIXED_RPCS = 30_000
const WARMUP_PROBES = 2_000
const CPU_PROBES = 20_000

const metrics = [
  { key: "startToFirstProbeMs", label: `start to first Probe (median of ${START_RUNS})`, unit: "ms", target: 250 },
  { key: "idleRssMb", label: "idle RSS (1 s after first Probe)", unit: "MB", target: 64 },
  { key: "rssAfterRpcsMb", label: `RSS after ${MIXED_RPCS / 1000}k mixed Identity RPCs`, unit: "MB", target: 96 },
  { key: "cpuPerProbeWarnUs", label: "driver CPU per Probe, --log-level warn", unit: "us", target: 100 },
  { key: "cpuPerProbeInfoUs", label: "driver CPU per Probe, --log-level info", unit: "us", target: 100 }
] as const

type MetricKey = (typeof metrics)[number]["key"]
type Results = Record<MetricKey, number>

/** The source bench/ folder (this file runs from dist/bench/). */
const BASELINE_PATH = fileURLToPath(new URL("../../bench/baseline.json", import.meta.url))

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`)

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

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
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

/** The baseline's numbers; a missing file or metric has none. */
const readBaseline = (): Partial<Results> => {
  if (!existsSync(BASELINE_PATH)) return {}
  const json: unknown = JSON.parse(readFileSync(BASELINE_PATH, "utf8"))
  const recorded = typeof json === "object" && json !== null && "results" in json ? json.results : undefined
  const baseline: Partial<Results> = {}
  for (const { key } of metrics) {
    const value: unknown = typeof recorded === "object" && recorded !== null ? Reflect.get(recorded, key) : undefined
    if (typeof value === "number") baseline[key] = value
  }
  return baseline
}

const writeBaseline = (results: Results) => {
  const rounded = Object.fromEntries(metrics.map(({ key }) => [key, Number(results[key].toFixed(1))]))
  const file = { recordedAt: new Date().toISOString(), node: process.version, cpus: cpus().length, results: rounded }
  writeFileSync(BASELINE_PATH, JSON.stringify(file, null, 2) + "\n")
}

const table = (results: Results, baseline: Partial<Results>): string => {
  const header = ["metric", "measured", "target", "meets", "baseline", "delta"]
  const rows = metrics.map(({ key, label, unit, target }) => {
    const value = results[key]
    const before = baseline[key]
    const delta = before === undefined
      ? "-"
      : `${value - before >= 0 ? "+" : ""}${(value - before).toFixed(1)}` +
        (before !== 0 ? ` (${value >= before ? "+" : ""}${(((value - before) / before) * 100).toFixed(0)}%)` : "")
    return [
      label,
      `${value.toFixed(1)} ${unit}`,
      `<= ${target} ${unit}`,
      value <= target ? "yes" : "NO",
      before === undefined ? "-" : `${before.toFixed(1)} ${unit}`,
      delta
    ]
  })
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

const main = async () => {
  const updateBaseline = process.argv.includes("--update-baseline")
  progress(`node ${process.version}, ${cpus().length} CPUs`)
  const { results, startSamples } = await measure()
  const baseline = readBaseline()
  process.stdout.write(`\n${table(results, baseline)}\n\n`)
  process.stdout.write(`start samples (ms): ${startSamples.map((ms) => ms.toFixed(1)).join(", ")}\n`)
  process.stdout.write(`load: ${IN_FLIGHT} calls in flight; CPU measured over ${CPU_PROBES} Probes after ${WARMUP_PROBES} warm-up\n`)
  if (updateBaseline) {
    writeBaseline(results)
    process.stdout.write(`baseline updated: ${BASELINE_PATH}\n`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: could not run: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
