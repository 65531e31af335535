/**
 * Benchmarks dynamic provisioning across retries and a controller restart: 20 volumes created at
 * once, each by 11 concurrent CreateVolume loops (the call and 10 duplicates), with the controller
 * killed (SIGKILL) and restarted midway, against the ARM emulator.
 *
 * `sim` embeds the emulator, so killing it would lose Azure's state too; here the emulator runs in
 * a process of its own (bench/armEmulatorProcess.ts) and the controller is the shipped `serve
 * --mode controller`, pointed at it with AZURE_CONFIG_FILE, ARM_ENDPOINT and NODE_EXTRA_CA_CERTS,
 * signing in with a managed identity whose token endpoint the emulator process serves
 * (IDENTITY_ENDPOINT, IDENTITY_HEADER). `serve` polls as in production (ControllerConfig.polling:
 * no reads for a quiet period after a creation starts, 450 s since db4d4b2, then one every 10 s), so
 * one run takes the quiet period plus ~10 s.
 *
 * `npm run bench` runs it last (bench/run.ts). On its own:
 *
 *   node dist/bench/provision.js [--cluster-creation <seconds>] [--update-baseline]
 */
import * as grpc from "@grpc/grpc-js"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import {
  ControllerClient,
  type CreateVolumeRequest,
  type CreateVolumeResponse,
  VolumeCapability_AccessMode_Mode
} from "../src/gen/csi.js"
import { millisToFirstProbe } from "./client.js"
import { controllerEnvironment, emulatorRequest, RESOURCE_GROUP, startController, startEmulator } from "./controllerProcess.js"
import { killAndWait, sleep } from "./driverProcess.js"
import { BASELINE_PATH, type Metric, median, progress, readBaseline, runWhenEntryPoint, table, writeBaseline } from "./report.js"

export const VOLUMES = 20
export const DUPLICATES = 10
const CALL_DEADLINE_MS = 5_000
/**
 * After ABORTED, UNAVAILABLE or a lost connection a loop waits this long before calling again
 * (DEADLINE_EXCEEDED: at once).
 */
const RETRY_PAUSE_MS = 1_000
const RESTART_AFTER_MS = 8_000
const DEFAULT_CREATION_SECONDS = 20
const creationSecondsOf = () => {
  const at = process.argv.indexOf("--cluster-creation")
  return at === -1 ? DEFAULT_CREATION_SECONDS : Number(process.argv[at + 1])
}
/** The whole benchmark gives up after this long. */
const GIVE_UP_MS = 15 * 60_000

export const provisionMetrics = [
  { key: "armPuts", label: `ARM PUTs for ${VOLUMES} volumes`, unit: "", target: { op: "=", value: VOLUMES }, digits: 0 },
  { key: "volumesFailed", label: "volumes that never answered OK", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "armReadsPerVolumeMean", label: "ARM reads (GETs) per volume, mean", unit: "" },
  { key: "armReadsPerVolumeMax", label: "ARM reads (GETs) per volume, max", unit: "", digits: 0 },
  { key: "detectionLagMedianS", label: "completion detection lag, median", unit: "s" },
  { key: "detectionLagMaxS", label: "completion detection lag, max", unit: "s" },
  { key: "wallS", label: "wall time, first call to last OK", unit: "s" },
  { key: "restartToProbeMs", label: "controller restart to first Probe", unit: "ms" }
] as const satisfies ReadonlyArray<Metric<string>>

export type ProvisionKey = (typeof provisionMetrics)[number]["key"]
export type ProvisionResults = Record<ProvisionKey, number>

export interface ProvisionDetails {
  readonly creationSeconds: number
  readonly callsByCode: Readonly<Record<string, number>>
  readonly otherArmRequests: Readonly<Record<string, number>>
  readonly lagsS: ReadonlyArray<number>
  readonly firstError: string | undefined
}

interface Counters {
  readonly putsByName: Readonly<Record<string, number>>
  readonly getsByName: Readonly<Record<string, number>>
  readonly requests: ReadonlyArray<{ readonly method: string; readonly path: string; readonly statusCode: number }>
}

/**
 * A quiet period a quarter of the creation (the driver's default is 7.5 of 10-20 minutes), so the
 * lag measured is the 10 s reads', not the wait before them.
 */
const pollQuietSeconds = () => Math.max(1, Math.round(creationSecondsOf() / 4))

// ---- the calls ---------------------------------------------------------------------------------

const PARAMETERS = {
  "sku-name": "AMLFS-Durable-Premium-125",
  zone: "1",
  "maintenance-day-of-week": "Sunday",
  "maintenance-time-of-day-utc": "02:00"
}

const request = (name: string): CreateVolumeRequest => ({
  name,
  volumeCapabilities: [{
    accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
    accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
  }],
  parameters: PARAMETERS,
  secrets: {},
  mutableParameters: {}
})

const createVolume = (client: ControllerClient, volume: CreateVolumeRequest) =>
  new Promise<CreateVolumeResponse>((resolve, reject) =>
    client.createVolume(volume, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) =>
      error ? reject(error) : resolve(response))
  )

const RETRIED = new Set([grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED, grpc.status.UNAVAILABLE])

// ---- the benchmark -----------------------------------------------------------------------------

export const measureProvision = async (
  creationSeconds: number = DEFAULT_CREATION_SECONDS
): Promise<{ results: ProvisionResults; details: ProvisionDetails }> => {
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-provision-"))
  const { child: emulatorChild, info } = await startEmulator(dir, creationSeconds)
  progress(`provision: ARM emulator at ${info.url} (creation ${creationSeconds} s)`)
  const env = controllerEnvironment(dir, info)
  let controller = startController(dir, env, pollQuietSeconds())
  const client = new ControllerClient(`unix://${controller.socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    // After the restart the channel must come back within about a second, not after a long backoff.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000
  })
  try {
    await millisToFirstProbe(controller, 30_000)
    const names = Array.from({ length: VOLUMES }, (_, n) => `pvc-bench-${String(n).padStart(2, "0")}-${process.pid}`)
    const okAt = new Map<string, number>()
    const callsByCode: Record<string, number> = {}
    let firstError: string | undefined
    const failed = new Set<string>()
    const started = Date.now()
    const deadline = started + GIVE_UP_MS

    /** One caller's loop for one volume: calls until OK, retrying as the csi-provisioner does. */
    const loop = async (name: string) => {
      const volume = request(name)
      while (!okAt.has(name) && !failed.has(name) && Date.now() < deadline) {
        try {
          await createVolume(client, volume)
          callsByCode["OK"] = (callsByCode["OK"] ?? 0) + 1
          if (!okAt.has(name)) okAt.set(name, Date.now())
          return
        } catch (error) {
          const code = (error as grpc.ServiceError).code
          const codeName = grpc.status[code] ?? String(code)
          callsByCode[codeName] = (callsByCode[codeName] ?? 0) + 1
          // A call in flight when the controller is killed ends INTERNAL (the connection closed
          // under it): a transport failure, retried as the provisioner retries it.
          const connectionLost = code === grpc.status.INTERNAL && /RST_STREAM|Session closed|Connection dropped/i.test((error as Error).message)
          if (connectionLost) {
            callsByCode[codeName] = callsByCode[codeName]! - 1
            callsByCode["INTERNAL (connection lost)"] = (callsByCode["INTERNAL (connection lost)"] ?? 0) + 1
          }
          if (!RETRIED.has(code) && !connectionLost) {
            firstError ??= `${name}: ${(error as Error).message}`
            failed.add(name)
            return
          }
          if (code !== grpc.status.DEADLINE_EXCEEDED) await sleep(RETRY_PAUSE_MS)
        }
      }
    }

    const restart = (async () => {
      await sleep(RESTART_AFTER_MS)
      progress(`provision: SIGKILL of the controller ${RESTART_AFTER_MS / 1000} s in, then a new one`)
      await killAndWait(controller.child, "SIGKILL")
      controller = startController(dir, env, pollQuietSeconds())
      return millisToFirstProbe(controller, 30_000)
    })()

    const ticker = setInterval(() => progress(`provision: ${okAt.size}/${VOLUMES} volumes OK after ${((Date.now() - started) / 1000).toFixed(0)} s`), 30_000)
    await Promise.all(names.flatMap((name) => Array.from({ length: 1 + DUPLICATES }, () => loop(name))))
    clearInterval(ticker)
    const restartToProbeMs = await restart
    const wallS = (Math.max(...okAt.values(), started) - started) / 1000
    if (controller.hasExited()) throw new Error(`the controller exited; it wrote:\n${controller.recentOutput()}`)

    const counters = (await emulatorRequest(info, "GET", "/emulator/counters")) as Counters
    const lagsS: Array<number> = []
    for (const name of names) {
      const ok = okAt.get(name)
      if (ok === undefined) continue
      const fs = (await emulatorRequest(
        info,
        "GET",
        `/subscriptions/${info.subscriptionId}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.StorageCache/amlFilesystems/${name}?api-version=2024-03-01`
      )) as { systemData?: { createdAt?: string } }
      const createdAt = Date.parse(fs.systemData?.createdAt ?? "")
      // The emulator completes a creation exactly creationMillis after its PUT (systemData.createdAt).
      if (Number.isFinite(createdAt)) lagsS.push((ok - (createdAt + creationSeconds * 1000)) / 1000)
    }
    const reads = names.map((name) => counters.getsByName[name] ?? 0)
    const otherArmRequests: Record<string, number> = {}
    for (const { method, path } of counters.requests) {
      const what = /\/amlFilesystems\/[^/?]+/i.test(path)
        ? undefined
        : `${method} ${path.replace(/\?.*$/, "").replace(/^\/subscriptions\/[^/]+/, "").replace(/\/ascOperations\/[^/]+/, "/ascOperations/{id}")}`
      if (what !== undefined) otherArmRequests[what] = (otherArmRequests[what] ?? 0) + 1
    }
    const results: ProvisionResults = {
      armPuts: Object.values(counters.putsByName).reduce((sum, n) => sum + n, 0),
      volumesFailed: VOLUMES - okAt.size,
      armReadsPerVolumeMean: reads.reduce((sum, n) => sum + n, 0) / reads.length,
      armReadsPerVolumeMax: Math.max(...reads),
      detectionLagMedianS: lagsS.length === 0 ? Number.NaN : median(lagsS),
      detectionLagMaxS: lagsS.length === 0 ? Number.NaN : Math.max(...lagsS),
      wallS,
      restartToProbeMs
    }
    return { results, details: { creationSeconds, callsByCode, otherArmRequests, lagsS, firstError } }
  } finally {
    client.close()
    await killAndWait(controller.child, "SIGTERM")
    await killAndWait(emulatorChild, "SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The provision benchmark's table and notes, compared with the baseline's `provision` section. */
export const provisionReport = (results: ProvisionResults, details: ProvisionDetails): string =>
  [
    `Dynamic provisioning: ${VOLUMES} volumes x ${1 + DUPLICATES} concurrent CreateVolume loops, controller SIGKILLed and restarted ${RESTART_AFTER_MS / 1000} s in`,
    "",
    table(provisionMetrics, results, readBaseline("provision", provisionMetrics)),
    "",
    `CreateVolume answers: ${Object.entries(details.callsByCode).filter(([, n]) => n > 0).map(([code, n]) => `${code} ${n}`).join(", ")}` +
      (details.firstError === undefined ? "" : `; first other error: ${details.firstError}`),
    `other ARM requests: ${Object.entries(details.otherArmRequests).map(([what, n]) => `${what} x${n}`).join(", ") || "none"}`,
    `detection lags (s): ${[...details.lagsS].sort((a, b) => a - b).map((s) => s.toFixed(1)).join(", ")}`,
    `load: serve --mode controller against the ARM emulator in its own process (creation ${details.creationSeconds} s, ` +
      `production polling: a quiet period, then every 10 s); each call's deadline ${CALL_DEADLINE_MS / 1000} s; ` +
      `DEADLINE_EXCEEDED retried at once, ABORTED/UNAVAILABLE/INTERNAL (connection lost) after ${RETRY_PAUSE_MS / 1000} s`
  ].join("\n")

runWhenEntryPoint(import.meta.url, async () => {
  const creationSeconds = creationSecondsOf()
  progress(`node ${process.version}, ${cpus().length} CPUs; provision benchmark`)
  const { results, details } = await measureProvision(creationSeconds)
  process.stdout.write(`\n${provisionReport(results, details)}\n`)
  if (process.argv.includes("--update-baseline")) {
    writeBaseline([{ section: "provision", metrics: provisionMetrics, results }])
    process.stdout.write(`baseline updated (provision section): ${BASELINE_PATH}\n`)
  }
})
