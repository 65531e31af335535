/**
 * Benchmarks the controller's HSM work: 20 PVCs of a StorageClass with blob containers created
 * together (CreateVolume answers OK once the cluster is up and its initial import has ended), then
 * on each PVC an import annotation and, once its state says Completed, a new file written into
 * the cluster and an archive annotation; until every archive is Completed.
 *
 * - The ARM emulator runs in a process of its own (bench/armEmulatorHsmProcess.ts), its jobs acting
 *   through the HSM simulation's model on a state directory the benchmark fills first: 20
 *   containers of 200 files of 1 KiB (150 under `data/`, imported at creation with
 *   `import-prefixes: /data`; 50 under `extra/`, imported on demand). Creation 6 s; import jobs
 *   and archives 10 s.
 * - A minimal Kubernetes API server runs in the benchmark (bench/kubeApiServer.ts): the 20 PVCs
 *   (Pending until their CreateVolume answers OK; then the PV, bound, as the provisioner and the PV
 *   controller make it), merge patches of their annotations, the Lease, Events; every request
 *   logged with its time.
 * - The controller is the shipped `serve --mode controller` (bench/controllerProcess.ts), KUBECONFIG
 *   naming that server, POD_NAMESPACE and POD_NAME for its Lease, `--arm-poll-quiet 8`.
 *
 * The HSM loop starts a request about a second after its annotation (it watches PVCs) and looks
 * at every job every 30 s (`--hsm-resync`, left at its default), so the jobs here are shorter
 * than one resync: each is seen ended at the next. Real imports and archives run for minutes to
 * hours, i.e. across many rounds; the per-resync counts let one extrapolate. The run takes about
 * 1.5 minutes.
 *
 * `npm run bench -- --only hsm` runs it; on its own:
 *
 *   npm run build && node dist/bench/hsm.js [--update-baseline]
 */
import * as grpc from "@grpc/grpc-js"
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { hsmAnnotations, type HsmWorkState, isFinalState, readWorkState } from "../src/controller/hsm/HsmAnnotations.js"
import { ControllerClient } from "../src/gen/csi.js"
import { millisToFirstProbe } from "./client.js"
import { controllerEnvironment, type ControllerProcess, type EmulatorInfo, emulatorRequest, startController } from "./controllerProcess.js"
import { cpuMicros, killAndWait, rssMb, sleep } from "./driverProcess.js"
import {
  type ArmRequest,
  armKindOf,
  byMethod,
  clusterRequestsBetween,
  countBy,
  isLeaseRequest,
  maxOf,
  mean,
  type Resync,
  resyncsOf,
  stateWrittenAt
} from "./hsmAnalysis.js"
import {
  containerFolder,
  containerName,
  createRequest,
  EXTRA_FILES,
  EXTRA_PREFIX,
  fillContainer,
  INITIAL_FILES,
  type Provisioned,
  provisionUntilOk,
  RESULTS_PATH,
  writeResult
} from "./hsmWorkload.js"
import { type KubeApiServer, kubeconfigFor, startKubeApiServer } from "./kubeApiServer.js"
import {
  BASELINE_PATH,
  type BaselineSection,
  type Metric,
  median,
  progress,
  readBaseline,
  runWhenEntryPoint,
  table,
  writeBaseline
} from "./report.js"

export const VOLUMES = 20
const NAMESPACE = "ml"
const DRIVER = "azurelustre.csi.azure.com"
const CREATION_SECONDS = 6
/** The creation is read 8 s after its start, then every 10 s (and so is the initial import). */
const POLL_QUIET_SECONDS = 8
const IMPORT_SECONDS = 10
const ARCHIVE_SECONDS = 10
/** `serve --hsm-resync`'s default (HSM_RESYNC in src/controller/hsm/HsmReconciler.ts), which the controller here runs with. */
const HSM_RESYNC_SECONDS = 30
const GIVE_UP_MS = 6 * 60_000
const RSS_SAMPLE_MS = 100
const IDLE_MS = 2_000
/** The Lease the controller's HSM loop is elected with lives in its namespace (POD_NAMESPACE). */
const CONTROLLER_NAMESPACE = "kube-system"

/** report.ts's BaselineSection does not list "hsm" (report.ts is not this benchmark's file); its functions take any section key. */
export const HSM_SECTION = "hsm" as string as BaselineSection

export const hsmMetrics = [
  { key: "volumesFailed", label: `volumes of ${VOLUMES} never answered OK`, unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "importsNotCompleted", label: "import requests not Completed", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "importsMiscounted", label: `Completed imports not counting ${EXTRA_FILES} files`, unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "archivesNotCompleted", label: "archive requests not Completed", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "archivedFilesMissing", label: "written files not in their container after it", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "importJobPuts", label: "import job PUTs", unit: "", target: { op: "=", value: VOLUMES }, digits: 0 },
  { key: "archivePosts", label: "archive POSTs", unit: "", target: { op: "=", value: VOLUMES }, digits: 0 },
  { key: "initialImportGetsMean", label: "ARM GETs per initial import (job list), mean", unit: "" },
  { key: "initialImportGetsMax", label: "ARM GETs per initial import (job list), max", unit: "", digits: 0 },
  { key: "importGetsMean", label: "ARM GETs per import job, annotation to Completed, mean", unit: "" },
  { key: "importGetsMax", label: "ARM GETs per import job, max", unit: "", digits: 0 },
  { key: "archiveGetsMean", label: "ARM GETs per archive, annotation to Completed, mean", unit: "" },
  { key: "archiveGetsMax", label: "ARM GETs per archive, max", unit: "", digits: 0 },
  { key: "importStartLagMedianS", label: "import annotation to the job's PUT, median", unit: "s" },
  { key: "importStartLagMaxS", label: "import annotation to the job's PUT, max", unit: "s", target: { op: "<=", value: HSM_RESYNC_SECONDS + 5 } },
  { key: "archiveStartLagMedianS", label: "archive annotation to its POST, median", unit: "s" },
  { key: "archiveStartLagMaxS", label: "archive annotation to its POST, max", unit: "s", target: { op: "<=", value: HSM_RESYNC_SECONDS + 5 } },
  { key: "importDetectionLagMedianS", label: "import job Completed to Completed on the PVC, median", unit: "s" },
  { key: "importDetectionLagMaxS", label: "import job Completed to Completed on the PVC, max", unit: "s", target: { op: "<=", value: HSM_RESYNC_SECONDS + 5 } },
  { key: "archiveDetectionLagMedianS", label: "archive Completed to Completed on the PVC, median", unit: "s" },
  { key: "archiveDetectionLagMaxS", label: "archive Completed to Completed on the PVC, max", unit: "s", target: { op: "<=", value: HSM_RESYNC_SECONDS + 5 } },
  { key: "kubeRequestsPerResyncMean", label: "Kubernetes API requests per resync (Lease apart), mean", unit: "" },
  { key: "kubeRequestsPerResyncMax", label: "Kubernetes API requests per resync (Lease apart), max", unit: "", digits: 0 },
  { key: "armGetsPerResyncPerClaimMean", label: "ARM GETs per resync per annotated PVC, mean", unit: "" },
  { key: "leaseRequestsPerMinute", label: "Lease requests per minute", unit: "" },
  { key: "rssIdleMb", label: "controller RSS idle, before", unit: "MB" },
  { key: "rssPeakMb", label: "controller RSS peak", unit: "MB" },
  { key: "rssAfterMb", label: "controller RSS after", unit: "MB" },
  { key: "controllerCpuS", label: "controller CPU, first CreateVolume to the end", unit: "s" },
  { key: "wallS", label: "wall time, first CreateVolume to the last archive Completed", unit: "s" }
] as const satisfies ReadonlyArray<Metric<string>>

export type HsmKey = (typeof hsmMetrics)[number]["key"]
export type HsmResults = Record<HsmKey, number>

export interface HsmDetails {
  readonly callsByCode: Readonly<Record<string, number>>
  readonly firstError: string | undefined
  readonly provisionS: ReadonlyArray<number>
  /** The first volume's ARM requests from its first CreateVolume to its OK, with when (s after that first call). */
  readonly oneCreation: ReadonlyArray<string>
  /** ARM requests about no cluster (the preflight's storage reads, the SKU list, subnet checks, operations), by kind. */
  readonly otherArm: Readonly<Record<string, number>>
  readonly perJob: Readonly<Record<"initial import" | "import" | "archive", Readonly<Record<string, number>>>>
  readonly importStates: Readonly<Record<string, number>>
  readonly archiveStates: Readonly<Record<string, number>>
  readonly resyncs: ReadonlyArray<Resync & { readonly offsetS: number }>
  readonly leaseRequests: Readonly<Record<string, number>>
  readonly kubeTotals: Readonly<Record<string, number>>
}

// ---- the emulator process -----------------------------------------------------------------------

const EMULATOR_SCRIPT = fileURLToPath(new URL("./armEmulatorHsmProcess.js", import.meta.url))

const startHsmEmulator = (dir: string, stateDir: string): Promise<{ child: ChildProcess; info: EmulatorInfo }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      EMULATOR_SCRIPT, "--dir", dir, "--state-dir", stateDir,
      "--cluster-creation", String(CREATION_SECONDS), "--import", String(IMPORT_SECONDS), "--archive", String(ARCHIVE_SECONDS)
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4096)))
    createInterface({ input: child.stdout! }).once("line", (line) => resolve({ child, info: JSON.parse(line) as EmulatorInfo }))
    child.once("exit", (code) => reject(new Error(`the ARM emulator process exited (${code}) before it was ready:\n${stderr}`)))
  })

// ---- one PVC's way through the benchmark -----------------------------------------------------------

interface Claim {
  readonly index: number
  readonly name: string
  readonly uid: string
  readonly volumeName: string
  readonly container: string
  readonly importId: string
  readonly archiveId: string
  provisioned?: Provisioned
  cluster?: string
  resourceGroup?: string
  mgsAddress?: string
  importAnnotatedAt?: number
  importEnded?: HsmWorkState
  archiveAnnotatedAt?: number
  archiveEnded?: HsmWorkState
  result?: { readonly path: string; readonly content: string }
}

const claimPath = (claim: Claim) => `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/${claim.name}`

const settled = (claim: Claim) =>
  (claim.provisioned !== undefined && claim.provisioned.okAt === undefined) ||
  claim.archiveEnded !== undefined ||
  (claim.importEnded !== undefined && claim.archiveAnnotatedAt === undefined)

/** Reacts to the controller's writes as a user would: the import ended, so write a result and ask for its archive. */
const followStates = (kube: KubeApiServer, claims: ReadonlyArray<Claim>, stateDir: string) =>
  kube.onPatch((namespace, name, annotations) => {
    const claim = claims.find((candidate) => namespace === NAMESPACE && candidate.name === name)
    if (claim === undefined) return
    const imported = readWorkState(annotations[hsmAnnotations.importState])
    if (claim.importEnded === undefined && imported._tag === "Some" && imported.value.request === claim.importId && isFinalState(imported.value.state)) {
      claim.importEnded = imported.value
      if (["Completed", "CompletedPartial"].includes(imported.value.state) && claim.mgsAddress !== undefined) {
        claim.result = writeResult(stateDir, claim.mgsAddress, claim.name)
        kube.annotate(NAMESPACE, claim.name, { [hsmAnnotations.archive]: `${claim.archiveId}:${RESULTS_PATH}` })
        claim.archiveAnnotatedAt = Date.now()
      }
    }
    const archived = readWorkState(annotations[hsmAnnotations.archiveState])
    if (claim.archiveEnded === undefined && archived._tag === "Some" && archived.value.request === claim.archiveId && isFinalState(archived.value.state)) {
      claim.archiveEnded = archived.value
    }
  })

/** CreateVolume until OK; then the PV, bound, and the import annotation. */
const provision = async (client: ControllerClient, kube: KubeApiServer, info: EmulatorInfo, claim: Claim, giveUpAt: number) => {
  claim.provisioned = await provisionUntilOk(client, createRequest(info.subscriptionId, { namespace: NAMESPACE, claim: claim.name, volumeName: claim.volumeName, container: claim.container }), giveUpAt)
  const volumeId = claim.provisioned.volumeId
  if (volumeId === undefined) return
  // <name>#<fs-name>#<mgs-ip>#<sub-dir>#<t|f>#<resource-group>
  const [cluster, , mgsAddress, , , resourceGroup] = volumeId.split("#")
  if (cluster === undefined || mgsAddress === undefined || resourceGroup === undefined) return
  claim.cluster = cluster
  claim.mgsAddress = mgsAddress
  claim.resourceGroup = resourceGroup
  kube.bind({ name: claim.volumeName, driver: DRIVER, volumeHandle: volumeId, claim: { namespace: NAMESPACE, name: claim.name, uid: claim.uid } })
  kube.annotate(NAMESPACE, claim.name, { [hsmAnnotations.import]: `${claim.importId}:${EXTRA_PREFIX}` })
  claim.importAnnotatedAt = Date.now()
}

// ---- what ARM says happened -------------------------------------------------------------------------

interface JobList {
  readonly value: ReadonlyArray<{ readonly name: string; readonly properties: { readonly status: { readonly lastCompletionTime?: string } } }>
}
interface FilesystemHsm {
  readonly properties?: {
    readonly hsm?: {
      readonly archiveStatus?: ReadonlyArray<{ readonly filesystemPath: string; readonly status: { readonly lastCompletionTime?: string } }>
    }
  }
}

/** When ARM says the claim's import job and archive completed (ms since the epoch; NaN when it does not say). */
const completionTimes = async (info: EmulatorInfo, claim: Claim) => {
  const base = `/subscriptions/${info.subscriptionId}/resourceGroups/${claim.resourceGroup}/providers/Microsoft.StorageCache/amlFilesystems/${claim.cluster}`
  const jobs = (await emulatorRequest(info, "GET", `${base}/importJobs?api-version=2024-07-01`)) as JobList
  const filesystem = (await emulatorRequest(info, "GET", `${base}?api-version=2024-07-01`)) as FilesystemHsm
  const job = jobs.value.find((candidate) => candidate.name === `import-${claim.importId}`)
  const archive = filesystem.properties?.hsm?.archiveStatus?.find((status) => status.filesystemPath === RESULTS_PATH)
  return {
    importAt: Date.parse(job?.properties.status.lastCompletionTime ?? ""),
    archiveAt: Date.parse(archive?.status.lastCompletionTime ?? "")
  }
}

// ---- the benchmark ------------------------------------------------------------------------------------

const seconds = (millis: number) => millis / 1000
const finite = (values: ReadonlyArray<number>) => values.filter(Number.isFinite)
const medianOrNaN = (values: ReadonlyArray<number>) => (values.length === 0 ? Number.NaN : median(values))

export const measureHsm = async (): Promise<{ results: HsmResults; details: HsmDetails }> => {
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-hsm-"))
  const stateDir = join(dir, "state")
  let emulatorChild: ChildProcess | undefined
  let controller: ControllerProcess | undefined
  let client: ControllerClient | undefined
  let kube: KubeApiServer | undefined
  let sampler: NodeJS.Timeout | undefined
  try {
    for (let n = 0; n < VOLUMES; n++) fillContainer(stateDir, n)
    progress(`hsm: ${VOLUMES} containers of ${INITIAL_FILES + EXTRA_FILES} files in ${stateDir}/blob`)
    const emulator = await startHsmEmulator(dir, stateDir)
    emulatorChild = emulator.child
    const info = emulator.info
    kube = await startKubeApiServer()
    const claims: Array<Claim> = Array.from({ length: VOLUMES }, (_, index) => {
      const uid = randomUUID()
      return {
        index,
        name: `data-${String(index).padStart(2, "0")}`,
        uid,
        volumeName: `pvc-${uid}`,
        container: containerName(index),
        importId: `extra-${index}`,
        archiveId: `results-${index}`
      }
    })
    for (const claim of claims) kube.addClaim(NAMESPACE, claim.name, claim.uid)
    followStates(kube, claims, stateDir)
    const kubeconfigPath = join(dir, "kubeconfig-bench")
    writeFileSync(kubeconfigPath, kubeconfigFor(kube))
    const env = {
      ...controllerEnvironment(dir, info),
      KUBECONFIG: kubeconfigPath,
      POD_NAMESPACE: CONTROLLER_NAMESPACE,
      POD_NAME: "bench-hsm-controller"
    }
    progress(`hsm: ARM emulator at ${info.url}, Kubernetes API at ${kube.url}; controller`)
    const started = controller = startController(dir, env, POLL_QUIET_SECONDS)
    const controllerStartedAt = Date.now()
    client = new ControllerClient(`unix://${started.socketPath}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 })
    await millisToFirstProbe(started, 30_000)
    let rssPeakMb = rssMb(started.pid)
    sampler = setInterval(() => {
      if (!started.hasExited()) rssPeakMb = Math.max(rssPeakMb, rssMb(started.pid))
    }, RSS_SAMPLE_MS)
    await sleep(IDLE_MS)
    const rssIdleMb = rssMb(started.pid)

    progress(`hsm: ${VOLUMES} CreateVolume with blob-container, all at once (creation ${CREATION_SECONDS} s, initial import ${IMPORT_SECONDS} s)`)
    const cpuBefore = cpuMicros(started.pid)
    const firstCallAt = Date.now()
    const giveUpAt = firstCallAt + GIVE_UP_MS
    const ticker = setInterval(() => {
      const count = (what: (claim: Claim) => boolean) => claims.filter(what).length
      progress(`hsm: after ${seconds(Date.now() - firstCallAt).toFixed(0)} s: ${count((c) => c.importAnnotatedAt !== undefined)} provisioned, ` +
        `${count((c) => c.importEnded !== undefined)} imports and ${count((c) => c.archiveEnded !== undefined)} archives ended`)
    }, 30_000)
    const controllerClient = client
    const provisioned = Promise.all(claims.map((claim) => provision(controllerClient, kube!, info, claim, giveUpAt)))
    await provisioned
    progress(`hsm: provisioned after ${seconds(Date.now() - firstCallAt).toFixed(1)} s; imports and archives follow the annotations (resync ${HSM_RESYNC_SECONDS} s)`)
    while (!claims.every(settled) && Date.now() < giveUpAt && !started.hasExited()) await sleep(100)
    clearInterval(ticker)
    const endedAt = Math.max(...claims.map((c) => c.archiveEnded === undefined ? 0 : stateWrittenAt(kube!.requests, claimPath(c), hsmAnnotations.archiveState, c.archiveId, [c.archiveEnded.state]) ?? 0), firstCallAt)
    await sleep(IDLE_MS)
    if (started.hasExited()) throw new Error(`the controller exited; it wrote:\n${started.recentOutput()}`)
    const rssAfterMb = rssMb(started.pid)
    const controllerCpuS = (cpuMicros(started.pid) - cpuBefore) / 1e6
    clearInterval(sampler)
    const stoppedAt = Date.now()

    // Read ARM's log before the benchmark's own reads below.
    const arm = ((await emulatorRequest(info, "GET", "/emulator/counters")) as { requests: ReadonlyArray<ArmRequest> }).requests
    const kubeLog = [...kube.requests]
    const bound = claims.filter((c) => c.cluster !== undefined)
    const completions = new Map<Claim, { importAt: number; archiveAt: number }>()
    for (const claim of bound) completions.set(claim, await completionTimes(info, claim))

    const perInitial = bound.map((c) => byMethod(clusterRequestsBetween(arm, c.cluster!, c.provisioned!.firstCallAt, c.provisioned!.okAt!).filter((r) => armKindOf(r).includes("importJobs"))))
    const importWindows = bound.map((c) => {
      const to = stateWrittenAt(kubeLog, claimPath(c), hsmAnnotations.importState, c.importId, ["Completed", "CompletedPartial"])
      return { claim: c, to, requests: to === undefined ? [] : clusterRequestsBetween(arm, c.cluster!, c.importAnnotatedAt!, to) }
    })
    const archiveWindows = bound.filter((c) => c.archiveAnnotatedAt !== undefined).map((c) => {
      const to = stateWrittenAt(kubeLog, claimPath(c), hsmAnnotations.archiveState, c.archiveId, ["Completed"])
      return { claim: c, to, requests: to === undefined ? [] : clusterRequestsBetween(arm, c.cluster!, c.archiveAnnotatedAt!, to) }
    })
    const perImport = importWindows.map((w) => byMethod(w.requests))
    const perArchive = archiveWindows.map((w) => byMethod(w.requests))
    const firstOf = (requests: ReadonlyArray<ArmRequest>, kind: string) => requests.find((r) => armKindOf(r) === kind)?.at
    const importStartLags = importWindows.map((w) => seconds((firstOf(w.requests, "PUT importJobs/{job}") ?? Number.NaN) - w.claim.importAnnotatedAt!))
    const archiveStartLags = archiveWindows.map((w) => seconds((firstOf(w.requests, "POST archive") ?? Number.NaN) - w.claim.archiveAnnotatedAt!))
    const importLags = importWindows.map((w) => seconds((w.to ?? Number.NaN) - (completions.get(w.claim)?.importAt ?? Number.NaN)))
    const archiveLags = archiveWindows.map((w) => seconds((w.to ?? Number.NaN) - (completions.get(w.claim)?.archiveAt ?? Number.NaN)))

    const firstAnnotation = Math.min(...bound.map((c) => c.importAnnotatedAt!))
    const resyncs = resyncsOf(kubeLog, arm, firstAnnotation).filter((r) => r.at <= endedAt)
    const leases = kubeLog.filter((r) => isLeaseRequest(r) && r.at >= controllerStartedAt && r.at <= stoppedAt)
    const archivedFilesMissing = claims.filter((c) => {
      if (c.result === undefined) return true
      const exported = (() => {
        try {
          return readFileSync(join(containerFolder(stateDir, c.container), c.result.path), "utf8")
        } catch {
          return undefined
        }
      })()
      return exported !== c.result.content
    }).length
    const callsByCode: Record<string, number> = {}
    for (const claim of claims) {
      for (const [code, n] of Object.entries(claim.provisioned?.calls ?? {})) callsByCode[code] = (callsByCode[code] ?? 0) + n
    }
    const sumOf = (rows: ReadonlyArray<ReturnType<typeof byMethod>>) => ({
      GET: rows.reduce((s, r) => s + r.GET, 0),
      PUT: rows.reduce((s, r) => s + r.PUT, 0),
      POST: rows.reduce((s, r) => s + r.POST, 0),
      other: rows.reduce((s, r) => s + r.other, 0),
      jobs: rows.length
    })

    const results: HsmResults = {
      volumesFailed: VOLUMES - bound.length,
      importsNotCompleted: claims.filter((c) => c.importEnded?.state !== "Completed").length,
      importsMiscounted: claims.filter((c) => c.importEnded?.state === "Completed" && c.importEnded.counts?.["files"] !== EXTRA_FILES).length,
      archivesNotCompleted: claims.filter((c) => c.archiveEnded?.state !== "Completed").length,
      archivedFilesMissing,
      importJobPuts: arm.filter((r) => armKindOf(r) === "PUT importJobs/{job}").length,
      archivePosts: arm.filter((r) => armKindOf(r) === "POST archive").length,
      initialImportGetsMean: mean(perInitial.map((r) => r.GET)),
      initialImportGetsMax: maxOf(perInitial.map((r) => r.GET)),
      importGetsMean: mean(perImport.map((r) => r.GET)),
      importGetsMax: maxOf(perImport.map((r) => r.GET)),
      archiveGetsMean: mean(perArchive.map((r) => r.GET)),
      archiveGetsMax: maxOf(perArchive.map((r) => r.GET)),
      importStartLagMedianS: medianOrNaN(finite(importStartLags)),
      importStartLagMaxS: maxOf(finite(importStartLags)),
      archiveStartLagMedianS: medianOrNaN(finite(archiveStartLags)),
      archiveStartLagMaxS: maxOf(finite(archiveStartLags)),
      importDetectionLagMedianS: medianOrNaN(finite(importLags)),
      importDetectionLagMaxS: maxOf(finite(importLags)),
      archiveDetectionLagMedianS: medianOrNaN(finite(archiveLags)),
      archiveDetectionLagMaxS: maxOf(finite(archiveLags)),
      kubeRequestsPerResyncMean: mean(resyncs.map((r) => r.kubeTotal)),
      kubeRequestsPerResyncMax: maxOf(resyncs.map((r) => r.kubeTotal)),
      armGetsPerResyncPerClaimMean: mean(resyncs.map((r) =>
        Object.entries(r.arm).filter(([kind]) => kind.startsWith("GET ")).reduce((sum, [, n]) => sum + n, 0) /
        bound.filter((c) => c.importAnnotatedAt! <= r.at).length
      )),
      leaseRequestsPerMinute: leases.length / ((stoppedAt - controllerStartedAt) / 60_000),
      rssIdleMb,
      rssPeakMb,
      rssAfterMb,
      controllerCpuS,
      wallS: seconds(endedAt - firstCallAt)
    }
    const details: HsmDetails = {
      callsByCode,
      firstError: claims.find((c) => c.provisioned?.error !== undefined)?.provisioned?.error,
      provisionS: bound.map((c) => seconds(c.provisioned!.okAt! - c.provisioned!.firstCallAt)),
      oneCreation: bound.slice(0, 1).flatMap((c) =>
        clusterRequestsBetween(arm, c.cluster!, c.provisioned!.firstCallAt, c.provisioned!.okAt!)
          .map((r) => `+${seconds(r.at - c.provisioned!.firstCallAt).toFixed(1)} ${armKindOf(r)}${r.statusCode >= 300 ? ` (${r.statusCode})` : ""}`)
      ),
      otherArm: countBy(arm.filter((r) => !/\/amlfilesystems\/[^/?]+/i.test(r.path)), armKindOf),
      perJob: { "initial import": sumOf(perInitial), import: sumOf(perImport), archive: sumOf(perArchive) },
      importStates: countBy(claims, (c) => c.importEnded?.state ?? "not ended"),
      archiveStates: countBy(claims, (c) => c.archiveEnded?.state ?? "not ended"),
      resyncs: resyncs.map((r) => ({ ...r, offsetS: seconds(r.at - firstCallAt) })),
      leaseRequests: countBy(leases, (r) => r.kind),
      kubeTotals: countBy(kubeLog.filter((r) => r.at <= stoppedAt), (r) => r.kind)
    }
    return { results, details }
  } finally {
    if (sampler !== undefined) clearInterval(sampler)
    client?.close()
    if (controller !== undefined) await killAndWait(controller.child, "SIGTERM")
    if (emulatorChild !== undefined) await killAndWait(emulatorChild, "SIGTERM")
    await kube?.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const counts = (record: Readonly<Record<string, number>>) =>
  Object.entries(record).filter(([, n]) => n > 0).map(([what, n]) => `${what} ${n}`).join(", ") || "none"

/** The HSM benchmark's table and notes, compared with the baseline's `hsm` section. */
export const hsmReport = (results: HsmResults, details: HsmDetails): string =>
  [
    `HSM controller: ${VOLUMES} PVCs with blob containers created together, then an import and an archive annotation on each`,
    "",
    table(hsmMetrics, results, readBaseline(HSM_SECTION, hsmMetrics)),
    "",
    `CreateVolume answers: ${counts(details.callsByCode)}${details.firstError === undefined ? "" : `; first error: ${details.firstError}`}`,
    `CreateVolume call to OK (s): ${[...details.provisionS].sort((a, b) => a - b).map((s) => s.toFixed(1)).join(", ")}`,
    `one volume's ARM requests from its first CreateVolume to its OK (s): ${details.oneCreation.join(", ")}`,
    `other ARM requests: ${counts(details.otherArm)}`,
    `import states: ${counts(details.importStates)}; archive states: ${counts(details.archiveStates)}`,
    ...Object.entries(details.perJob).map(([job, sums]) => `ARM requests, all ${job}s: ${counts(sums)}`),
    "resyncs (s after the first CreateVolume: Kubernetes requests; ARM requests):",
    ...details.resyncs.map((r) => `  +${r.offsetS.toFixed(1)}: ${counts(r.kube)}; ${counts(r.arm)}`),
    `Lease requests: ${counts(details.leaseRequests)}`,
    `Kubernetes requests in all: ${counts(details.kubeTotals)}`,
    `load: serve --mode controller against the ARM emulator in its own process (creation ${CREATION_SECONDS} s, ` +
      `--arm-poll-quiet ${POLL_QUIET_SECONDS}, import jobs and archives ${IMPORT_SECONDS} and ${ARCHIVE_SECONDS} s at least, ` +
      `${INITIAL_FILES} files imported at creation and ${EXTRA_FILES} on demand per container) and the bench's API server; ` +
      `the HSM loop resyncs every ${HSM_RESYNC_SECONDS} s (--hsm-resync's default)`
  ].join("\n")

runWhenEntryPoint(import.meta.url, async () => {
  progress(`node ${process.version}, ${cpus().length} CPUs; hsm benchmark`)
  const { results, details } = await measureHsm()
  process.stdout.write(`\n${hsmReport(results, details)}\n`)
  if (process.argv.includes("--update-baseline")) {
    writeBaseline([{ section: HSM_SECTION, metrics: hsmMetrics, results }])
    process.stdout.write(`baseline updated (hsm section): ${BASELINE_PATH}\n`)
  }
})
