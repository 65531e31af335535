/**
 * Benchmarks online expansion (ControllerExpandVolume) as the csi-resizer drives it: 5 volumes
 * created, then each grown from 32 to 48 TiB by 3 concurrent callers that retry as the resizer
 * does, against the ARM emulator in a process of its own (bench/armEmulatorProcess.ts) and the
 * shipped `serve --mode controller` (the setup bench/provision.ts uses too: bench/controllerProcess.ts).
 *
 * ClusterExpander reads a running job once when it starts it and then every
 * `creationPolling.interval` (10 s in `serve`, ControllerConfig.polling), with no quiet period:
 * `--arm-poll-quiet` applies to creations only. It is set to 2 s here so that the 1 s creations
 * before the expansions are seen at once. The expansions take 22, 24, 26, 28 and 34 s, so that
 * their completion falls at different points of the 10 s read interval, and the last one's in a
 * caller's wait between two calls.
 *
 * `npm run bench` runs it after the provision benchmark (bench/run.ts). On its own:
 *
 *   node dist/bench/expand.js [--update-baseline]
 */
import * as grpc from "@grpc/grpc-js"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import {
  ControllerClient,
  type ControllerExpandVolumeRequest,
  type ControllerExpandVolumeResponse,
  type CreateVolumeRequest,
  type CreateVolumeResponse,
  VolumeCapability_AccessMode_Mode
} from "../src/gen/csi.js"
import { millisToFirstProbe } from "./client.js"
import { controllerEnvironment, type EmulatorInfo, emulatorRequest, RESOURCE_GROUP, startController, startEmulator } from "./controllerProcess.js"
import { killAndWait, sleep } from "./driverProcess.js"
import { BASELINE_PATH, type Metric, median, progress, readBaseline, runWhenEntryPoint, table, writeBaseline } from "./report.js"

export const VOLUMES = 5
export const CALLERS = 3
const TIB = 1n << 40n
const FROM_TIB = 32n
/** Asked: 40 TiB; AMLFS-Durable-Premium-125 grows in 16 TiB steps, so the answer is 48 TiB. */
const REQUIRED_TIB = 40n
const EXPECTED_TIB = 48n
/** The csi-resizer's default --timeout. */
const CALL_DEADLINE_MS = 10_000
/** The csi-resizer's --retry-interval-start and --retry-interval-max: its work queue doubles the wait after each failure. */
const RETRY_START_MS = 1_000
const RETRY_MAX_MS = 300_000
const CREATION_SECONDS = 1
const POLL_QUIET_SECONDS = 2
const EXPANSION_SECONDS = [22, 24, 26, 28, 34] as const
const expansionSecondsOf = (volume: number) => EXPANSION_SECONDS[volume % EXPANSION_SECONDS.length]!
const GIVE_UP_MS = 5 * 60_000
/** Codes the csi-resizer takes for "may still be running": it calls again. */
const RETRIED = new Set([
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.CANCELLED
])

export const expandMetrics = [
  { key: "expansionPuts", label: `expansion job PUTs for ${VOLUMES} volumes`, unit: "", target: { op: "=", value: VOLUMES }, digits: 0 },
  { key: "expansionPutsPerVolumeMax", label: "expansion job PUTs per volume, max", unit: "", target: { op: "=", value: 1 }, digits: 0 },
  { key: "volumesFailed", label: "volumes not answered OK with 48 TiB", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "armReadsPerExpansionMean", label: "ARM reads (GETs) per expansion, mean", unit: "" },
  { key: "armReadsPerExpansionMax", label: "ARM reads (GETs) per expansion, max", unit: "", digits: 0 },
  { key: "detectionLagMedianS", label: "job Completed to OK answer, median", unit: "s" },
  { key: "detectionLagMaxS", label: "job Completed to OK answer, max", unit: "s" },
  { key: "readLagMedianS", label: "job Completed to the waiting loop's next read of it, median", unit: "s" },
  { key: "readLagMaxS", label: "job Completed to the waiting loop's next read of it, max", unit: "s", target: { op: "<=", value: 10 } },
  { key: "wallS", label: "wall time, first expand call to last OK", unit: "s" }
] as const satisfies ReadonlyArray<Metric<string>>

export type ExpandKey = (typeof expandMetrics)[number]["key"]
export type ExpandResults = Record<ExpandKey, number>

export interface ExpandDetails {
  readonly callsByCode: Readonly<Record<string, number>>
  readonly readsByKind: Readonly<Record<string, number>>
  readonly perVolume: ReadonlyArray<{
    readonly expansionS: number
    readonly lagS: number
    readonly readLagS: number
    readonly reads: number
  }>
  readonly firstError: string | undefined
}

// ---- what the emulator answers ------------------------------------------------------------------

interface Counters {
  readonly expansionPutsByFilesystem: Readonly<Record<string, number>>
  readonly expansionsStartedByFilesystem: Readonly<Record<string, number>>
  readonly requests: ReadonlyArray<{ readonly method: string; readonly path: string; readonly statusCode: number; readonly at: number }>
}

const counters = async (info: EmulatorInfo) => (await emulatorRequest(info, "GET", "/emulator/counters")) as Counters

interface JobList {
  readonly value: ReadonlyArray<{
    readonly name: string
    readonly properties: { readonly status: { readonly state: string; readonly completionTimeUTC?: string } }
  }>
}

// ---- the calls -------------------------------------------------------------------------------------

const capability = {
  accessType: { $case: "mount" as const, value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
  accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
}

const createRequest = (name: string): CreateVolumeRequest => ({
  name,
  capacityRange: { requiredBytes: FROM_TIB * TIB, limitBytes: 0n },
  volumeCapabilities: [capability],
  parameters: {
    "sku-name": "AMLFS-Durable-Premium-125",
    zone: "1",
    "maintenance-day-of-week": "Sunday",
    "maintenance-time-of-day-utc": "02:00"
  },
  secrets: {},
  mutableParameters: {}
})

const expandRequest = (volumeId: string): ControllerExpandVolumeRequest => ({
  volumeId,
  capacityRange: { requiredBytes: REQUIRED_TIB * TIB, limitBytes: 0n },
  secrets: {},
  volumeCapability: capability
})

const unary = <Res>(call: (deadline: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: Res) => void) => void) =>
  new Promise<Res>((resolve, reject) =>
    call({ deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) => (error ? reject(error) : resolve(response)))
  )

const codeOf = (error: unknown): grpc.status =>
  typeof error === "object" && error !== null && typeof Reflect.get(error, "code") === "number"
    ? (Reflect.get(error, "code") as grpc.status)
    : grpc.status.UNKNOWN

// ---- the benchmark -------------------------------------------------------------------------------

export const measureExpand = async (): Promise<{ results: ExpandResults; details: ExpandDetails }> => {
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-expand-"))
  const { child: emulatorChild, info } = await startEmulator(dir, CREATION_SECONDS)
  progress(`expand: ARM emulator at ${info.url}`)
  const controller = startController(dir, controllerEnvironment(dir, info), POLL_QUIET_SECONDS)
  const client = new ControllerClient(`unix://${controller.socketPath}`, grpc.credentials.createInsecure())
  try {
    await millisToFirstProbe(controller, 30_000)
    const names = Array.from({ length: VOLUMES }, (_, n) => `pvc-expand-${n}-${process.pid}`)
    const giveUpAt = Date.now() + GIVE_UP_MS

    progress(`expand: creating ${VOLUMES} volumes of ${FROM_TIB} TiB`)
    const volumeIds = await Promise.all(names.map(async (name) => {
      for (;;) {
        try {
          const created = await unary<CreateVolumeResponse>((options, callback) =>
            client.createVolume(createRequest(name), new grpc.Metadata(), options, callback)
          )
          return created.volume?.volumeId ?? ""
        } catch (error) {
          if (!RETRIED.has(codeOf(error)) || Date.now() > giveUpAt) throw error
          if (codeOf(error) !== grpc.status.DEADLINE_EXCEEDED) await sleep(RETRY_START_MS)
        }
      }
    }))
    const requestsBefore = (await counters(info)).requests.length

    const callsByCode: Record<string, number> = {}
    const okAt = new Map<string, number>()
    const failed = new Set<string>()
    let firstError: string | undefined

    /** One caller: the resizer's loop for one PVC, from the first call until OK or an error it does not retry. */
    const resizer = async (name: string, volumeId: string) => {
      for (let failures = 0; Date.now() < giveUpAt; failures++) {
        try {
          const answer = await unary<ControllerExpandVolumeResponse>((options, callback) =>
            client.controllerExpandVolume(expandRequest(volumeId), new grpc.Metadata(), options, callback)
          )
          callsByCode["OK"] = (callsByCode["OK"] ?? 0) + 1
          if (answer.capacityBytes !== EXPECTED_TIB * TIB) {
            firstError ??= `${name}: answered ${answer.capacityBytes} bytes, not ${EXPECTED_TIB} TiB`
            failed.add(name)
          }
          if (!okAt.has(name)) okAt.set(name, Date.now())
          return
        } catch (error) {
          const code = codeOf(error)
          const codeName = grpc.status[code] ?? String(code)
          callsByCode[codeName] = (callsByCode[codeName] ?? 0) + 1
          if (!RETRIED.has(code)) {
            firstError ??= `${name}: ${error instanceof Error ? error.message : String(error)}`
            failed.add(name)
            return
          }
          await sleep(Math.min(RETRY_MAX_MS, RETRY_START_MS * 2 ** failures))
        }
      }
    }

    progress(`expand: growing each to ${REQUIRED_TIB} TiB with ${CALLERS} callers each; expansions take ${EXPANSION_SECONDS.join(", ")} s`)
    const started = Date.now()
    const loops: Array<Promise<void>> = []
    for (const [n, name] of names.entries()) {
      await emulatorRequest(info, "POST", "/emulator/faults", { expansionMillis: expansionSecondsOf(n) * 1000 })
      loops.push(...Array.from({ length: CALLERS }, () => resizer(name, volumeIds[n]!)))
      // The next duration applies to the next job only once this one has started.
      while ((await counters(info)).expansionsStartedByFilesystem[name] === undefined && Date.now() < giveUpAt) await sleep(10)
    }
    await Promise.all(loops)
    const wallS = (Math.max(...okAt.values(), started) - started) / 1000
    if (controller.hasExited()) throw new Error(`the controller exited; it wrote:\n${controller.recentOutput()}`)

    const bases = names.map((name) => `/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.StorageCache/amlFilesystems/${name}`.toLowerCase())
    const isJobOf = (n: number, path: string) => /\/expansionjobs\/[^/]+$/.test(path.toLowerCase()) && path.toLowerCase().includes(bases[n]!)
    // A caller may have been answered from the filesystem before the waiting loop's next read of
    // the job (at most one interval later): wait for that read, to time it too. The job completes
    // its duration after its PUT.
    let seen = await counters(info)
    for (const stopWaitingAt = Date.now() + 15_000; Date.now() < stopWaitingAt; seen = await counters(info)) {
      const readSinceCompletion = names.every((_, n) => {
        const put = seen.requests.find((r) => r.method === "PUT" && isJobOf(n, r.path))
        return put !== undefined &&
          seen.requests.some((r) => r.method === "GET" && isJobOf(n, r.path) && r.at > put.at + expansionSecondsOf(n) * 1000)
      })
      if (readSinceCompletion) break
      await sleep(200)
    }
    // Read after the snapshot, so that these reads are not counted as the driver's.
    const completed = await Promise.all(bases.map(async (base) => {
      const jobs = (await emulatorRequest(info, "GET", `/subscriptions/${info.subscriptionId}${base}/expansionJobs?api-version=2026-01-01`)) as JobList
      const job = jobs.value.find((j) => j.properties.status.state === "Completed")
      return { jobPath: `${base}/expansionjobs/${job?.name.toLowerCase()}`, at: Date.parse(job?.properties.status.completionTimeUTC ?? "") }
    }))
    const during = seen.requests.slice(requestsBefore)
    const readsByKind: Record<string, number> = {}
    const perVolume: Array<ExpandDetails["perVolume"][number]> = []
    for (const [n, name] of names.entries()) {
      const base = bases[n]!
      const reads = during.filter((r) => r.method === "GET" && r.path.toLowerCase().includes(base))
      for (const read of reads) {
        const rest = read.path.toLowerCase().slice(read.path.toLowerCase().indexOf(base) + base.length)
        const kind = rest === "" ? "GET amlFilesystem" : rest === "/expansionjobs" ? "GET expansionJobs (list)" : "GET expansionJobs/{job}"
        readsByKind[kind] = (readsByKind[kind] ?? 0) + 1
      }
      const completedAt = completed[n]!.at
      const ok = okAt.get(name)
      const nextRead = during.find((r) => r.method === "GET" && r.at >= completedAt && r.path.toLowerCase().endsWith(completed[n]!.jobPath))
      perVolume.push({
        expansionS: expansionSecondsOf(n),
        lagS: ok === undefined || !Number.isFinite(completedAt) ? Number.NaN : (ok - completedAt) / 1000,
        readLagS: nextRead === undefined ? Number.NaN : (nextRead.at - completedAt) / 1000,
        reads: reads.length
      })
    }
    const puts = names.map((name) => seen.expansionPutsByFilesystem[name] ?? 0)
    const lags = perVolume.map((v) => v.lagS).filter(Number.isFinite)
    const readLags = perVolume.map((v) => v.readLagS).filter(Number.isFinite)
    const reads = perVolume.map((v) => v.reads)
    const results: ExpandResults = {
      expansionPuts: puts.reduce((sum, n) => sum + n, 0),
      expansionPutsPerVolumeMax: Math.max(...puts),
      volumesFailed: VOLUMES - [...okAt.keys()].filter((name) => !failed.has(name)).length,
      armReadsPerExpansionMean: reads.reduce((sum, n) => sum + n, 0) / reads.length,
      armReadsPerExpansionMax: Math.max(...reads),
      detectionLagMedianS: lags.length === 0 ? Number.NaN : median(lags),
      detectionLagMaxS: lags.length === 0 ? Number.NaN : Math.max(...lags),
      readLagMedianS: readLags.length === 0 ? Number.NaN : median(readLags),
      readLagMaxS: readLags.length === 0 ? Number.NaN : Math.max(...readLags),
      wallS
    }
    return { results, details: { callsByCode, readsByKind, perVolume, firstError } }
  } finally {
    client.close()
    await killAndWait(controller.child, "SIGTERM")
    await killAndWait(emulatorChild, "SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The expand benchmark's table and notes, compared with the baseline's `expand` section. */
export const expandReport = (results: ExpandResults, details: ExpandDetails): string =>
  [
    `Online expansion: ${VOLUMES} volumes ${FROM_TIB} -> ${REQUIRED_TIB} TiB asked (${EXPECTED_TIB} TiB answered), ${CALLERS} concurrent resizer-like callers each`,
    "",
    table(expandMetrics, results, readBaseline("expand", expandMetrics)),
    "",
    `ControllerExpandVolume answers: ${Object.entries(details.callsByCode).map(([code, n]) => `${code} ${n}`).join(", ")}` +
      (details.firstError === undefined ? "" : `; first error: ${details.firstError}`),
    `ARM reads during the expansions: ${Object.entries(details.readsByKind).map(([kind, n]) => `${kind} x${n}`).join(", ") || "none"}`,
    `per volume (expansion s: Completed->OK s, Completed->next job read s, ARM reads): ${
      details.perVolume.map((v) => `${v.expansionS}: ${v.lagS.toFixed(1)}, ${v.readLagS.toFixed(1)}, ${v.reads}`).join("; ")
    }`,
    `load: serve --mode controller against the ARM emulator in its own process (creation ${CREATION_SECONDS} s, ` +
      `--arm-poll-quiet ${POLL_QUIET_SECONDS}); a running expansion job is read at its start and then every 10 s ` +
      `(creationPolling.interval, no quiet period); each call's deadline ${CALL_DEADLINE_MS / 1000} s; a retryable code is ` +
      `retried after ${RETRY_START_MS / 1000} s, doubling (the csi-resizer's work queue)`
  ].join("\n")

runWhenEntryPoint(import.meta.url, async () => {
  progress(`node ${process.version}, ${cpus().length} CPUs; expand benchmark`)
  const { results, details } = await measureExpand()
  process.stdout.write(`\n${expandReport(results, details)}\n`)
  if (process.argv.includes("--update-baseline")) {
    writeBaseline([{ section: "expand", metrics: expandMetrics, results }])
    process.stdout.write(`baseline updated (expand section): ${BASELINE_PATH}\n`)
  }
})
