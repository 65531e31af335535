/**
 * A model-based property test of the controller's blob-integration job lifecycle against the fake
 * ARM and the fake Kubernetes API (issue 13).
 *
 * Generated sequences of steps (a command, then some time) run over two volume slots, each a PVC
 * of a StorageClass with a blob container (archive-on-delete and auto-export drawn per slot; both
 * PVCs bound before the steps or not; the first import job Completed, CompletedPartial or Failed):
 * - Create: CreateVolume (ClusterProvisioner.ensureCreated, forked like the CO's call, sometimes
 *   with a deadline that interrupts the caller only); once it answers OK the PV is made and the
 *   PVC bound, as the external-provisioner does;
 * - Import, Archive: a request on the PVC's annotations, with a request id drawn from a small set
 *   (so ids repeat) or none (the value's hash), sometimes canceled once the step's time passed;
 *   CancelImport, CancelArchive: the cancel annotation (`true`, the current request's id, another
 *   id, or removed);
 * - Delete: the PVC is deleted, then DeleteVolume (ensureDeleted); the slot's next Create is a new
 *   PVC and a new cluster;
 * - Restart: the controller process crashes (its calls and the HSM loop are interrupted) and a new
 *   one starts with new layers (a new ClusterProvisioner, a new HSM loop under another Lease
 *   identity) over the same fake ARM and the same Kubernetes objects;
 * - CrashAfter: the process dies right after its next call of a kind took effect (an ARM call, or
 *   the HSM loop's write of a PVC's annotations), and a new one starts;
 * - Advance, and each step's wait: virtual time passes (TestClock): creations, jobs and archives
 *   move on, the HSM loop resyncs, Leases expire;
 * - Faults: failNextImport, partialNextImport, failNextArchive (the fake ARM's), an ARM operation
 *   throttled (429) a few times, an ARM call whose answer is lost after ARM acted, a Kubernetes
 *   API call refused (500), a PVC patch refused.
 *
 * After every step these hold:
 *  (1) at most one active import job and one active archive per cluster;
 *  (2) a job PUT never names a job ARM already lists (one PUT per job name);
 *  (3) an archive request (PVC, request id) is POSTed at most once, across restarts, and a cancel
 *      is sent only while something of its kind runs;
 *  (4) CreateVolume answers OK only when the cluster is Succeeded and its initial import is
 *      Completed or CompletedPartial (the latter with a Warning Event carrying the counts), and
 *      the auto-export job the StorageClass asks for runs;
 *  (5) DeleteVolume answers FAILED_PRECONDITION only with ARM's reason for a failed archive, the
 *      cluster untouched; the DELETE is sent only after every auto-export job was disabled and,
 *      with archive-on-delete, after an archive of `/` that this deletion started (after the PVC
 *      was deleted and the auto-export jobs disabled) completed;
 *  (6) no call answers INTERNAL, a code the spec does not allow there, or a defect.
 * After the sequence, faults stop and the CO retries each slot's last intent until it is answered
 * OK (liveness), the HSM loop runs on, and then each bound PVC's state annotations agree with ARM:
 * hsm-import-state with the request's import job, hsm-archive-state and hsm-last-archive with
 * how ARM ended the request's archive.
 *
 * MODEL_RUNS sets the number of sequences (default 100, about 15 s); MODEL_SEED another seed than
 * the fixed default (the same sequences every run). A failure prints the shrunk sequence and a
 * replay token holding the seed (MODEL_REPLAY=<token> reruns exactly that case).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Random, Ref, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { ArmError } from "../../layers/azure/AmlfsApi.js"
import { type FakeFilesystem, provisioningStateAt } from "../../layers/azure/AmlfsApiFake.js"
import { archiveFailedError, type HsmTimings, type ImportJobRecord } from "../../layers/azure/hsmJobTimeline.js"
import { KubeError } from "../../layers/kube/Kube.js"
import type { ClusterRequest } from "../../src/controller/dynamic/ClusterProvisioner.js"
import type { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { hsmAnnotations, readWorkState } from "../../src/controller/hsm/HsmAnnotations.js"
import { clusterNameFor } from "../../src/domain/ClusterName.js"
import { ARCHIVE_ON_DELETE_TAG } from "../../src/domain/ClusterTags.js"
import { parseDynamicVolumeParameters } from "../../src/domain/DynamicVolumeParameters.js"
import { encodeVolumeId } from "../../src/domain/VolumeId.js"
import { testClusterSpec, testControllerDefaults } from "../support/clusterFixtures.js"
import { dynamicParameters } from "../support/csiRequests.js"
import { archiveIdOf, checkConvergence, importIdOf } from "../support/hsmJobsConvergence.js"
import {
  activeArchives,
  activeImports,
  armState,
  DRIVER,
  crashPoints,
  importStateAt,
  losableCalls,
  makeWorld,
  type Process,
  RG,
  startedImports,
  type World
} from "../support/hsmJobsWorld.js"

const MINUTE = 60_000
const NAMESPACE = "ml"
/** Shorter than Azure's (10-20 minute creations), so that a sequence sees many jobs begin and end. */
const TIMINGS: Partial<HsmTimings> = { importMillis: 5 * MINUTE, archiveMillis: 5 * MINUTE, cancelMillis: 30_000 }
const CREATE_MILLIS = 4 * MINUTE
const DELETE_MILLIS = MINUTE
const CONTROLLER: ControllerConfig["Service"] = {
  ...testControllerDefaults,
  creationPolling: { quietPeriod: Duration.minutes(2), interval: Duration.seconds(10) }
}
const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets"

// ---------------------------------------------------------------------------------------------
// Commands

const Slot = Schema.Literals([0, 1])
const RequestId = Schema.Literals(["r1", "r2", "r3", ""])
/** `current`: the id of the PVC's request of that kind now; `other`: an id that is not it. */
const CancelTarget = Schema.Literals(["current", "true", "other", "remove"])
/** A CO deadline in seconds; absent: the caller waits as long as it takes. */
const Deadline = Schema.UndefinedOr(Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 15 * 60 })))
const ThrottledOperation = Schema.Literals([
  "get",
  "listImportJobs",
  "beginImportJob",
  "cancelImportJob",
  "archive",
  "cancelArchive",
  "listAutoExportJobs",
  "disableAutoExportJob",
  "beginDelete"
])

const Command = Schema.Union([
  Schema.TaggedStruct("Create", { slot: Slot, deadlineSeconds: Deadline }),
  Schema.TaggedStruct("Delete", { slot: Slot, deadlineSeconds: Deadline }),
  /** `cancelAfterWait`: once the step's time has passed, the user cancels the request (by its id). */
  Schema.TaggedStruct("Import", { slot: Slot, id: RequestId, prefix: Schema.Literals(["/", "/train", "/val"]), cancelAfterWait: Schema.Boolean }),
  Schema.TaggedStruct("Archive", { slot: Slot, id: RequestId, path: Schema.Literals(["/", "/results", "/train"]), cancelAfterWait: Schema.Boolean }),
  Schema.TaggedStruct("CancelImport", { slot: Slot, target: CancelTarget }),
  Schema.TaggedStruct("CancelArchive", { slot: Slot, target: CancelTarget }),
  Schema.TaggedStruct("Restart", {}),
  Schema.TaggedStruct("Advance", { seconds: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 * 60 })) }),
  Schema.TaggedStruct("Fault", { fault: Schema.Literals(["failNextImport", "partialNextImport", "kubeError", "pvcPatchRefused"]) }),
  /** ARM acts on the next such call, and its answer never reaches the controller. */
  Schema.TaggedStruct("LoseAnswer", { call: Schema.Literals(losableCalls) }),
  /** The controller process dies right after its next such call took effect; a new one starts. */
  Schema.TaggedStruct("CrashAfter", { call: Schema.Literals(crashPoints) }),
  Schema.TaggedStruct("FailNextArchive", {}),
  Schema.TaggedStruct("Throttle", { operation: ThrottledOperation, times: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3 })) })
])
type Command = typeof Command.Type

const SlotConfig = Schema.Struct({ archiveOnDelete: Schema.Boolean, autoExport: Schema.Boolean })
type SlotConfig = typeof SlotConfig.Type

/** A command, then time passing (seconds): creations, jobs and the HSM loop move on between commands. */
const Step = Schema.Struct({ command: Command, wait: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 * 60 })) })
type Step = typeof Step.Type

const Scenario = Schema.Struct({
  slots: Schema.Tuple([SlotConfig, SlotConfig]),
  /** Both PVCs created and bound before the steps (most of the lifecycle is after binding). */
  warmStart: Schema.Boolean,
  /** How the first import job ends (the first creation's initial import, unless another starts first). */
  firstImport: Schema.Literals(["Completed", "CompletedPartial", "Failed"]),
  steps: Schema.Array(Step).check(Schema.isMinLength(10), Schema.isMaxLength(30))
})
type Scenario = typeof Scenario.Type

// ---------------------------------------------------------------------------------------------
// The model: what the CO and the users did, per slot and generation

interface Generation {
  readonly slot: number
  readonly gen: number
  /** The PVC, `data-<slot>-<gen>`; the PV (CreateVolume's name) `pvc-<slot>-<gen>`. */
  readonly pvc: string
  readonly pv: string
  readonly cluster: string
  readonly config: SlotConfig
  readonly request: ClusterRequest
  bound: boolean
  /** When the Delete command deleted the PVC. */
  deletedAt: number | undefined
}

interface CallRecord {
  readonly kind: "Create" | "Delete"
  readonly pvc: string
  /** The error's tag, "ok", "interrupted" (a restart) or "defect". */
  readonly result: string
  readonly message: string
}

const resultOf = <A, E>(exit: Exit.Exit<A, E>): { readonly result: string; readonly message: string } => {
  if (Exit.isSuccess(exit)) return { result: "ok", message: "" }
  const error = Option.getOrUndefined(Exit.findErrorOption(exit)) as { _tag?: string; message?: string } | undefined
  if (error !== undefined) return { result: error._tag ?? "unknown", message: error.message ?? "" }
  if (Exit.hasInterrupts(exit)) return { result: "interrupted", message: "" }
  return { result: "defect", message: String(exit) }
}

const clusterRequestOf = (pvc: string, pv: string, config: SlotConfig): ClusterRequest => {
  const parsed = parseDynamicVolumeParameters({
    ...dynamicParameters,
    "csi.storage.k8s.io/pvc/name": pvc,
    "csi.storage.k8s.io/pvc/namespace": NAMESPACE,
    "blob-container": `${account}/blobServices/default/containers/datasets`,
    "blob-logging-container": `${account}/blobServices/default/containers/amlfs-logs`,
    "import-prefixes": "/train,/val",
    "archive-on-delete": String(config.archiveOnDelete),
    ...(config.autoExport ? { "auto-export": "/results" } : {})
  })
  if (Result.isFailure(parsed)) throw new Error(parsed.failure)
  const blob = parsed.success.blobIntegration
  if (blob === undefined) throw new Error("the StorageClass asks for no blob integration")
  return {
    resourceGroup: RG,
    name: clusterNameFor(pv),
    pvc: { namespace: NAMESPACE, name: pvc },
    blob,
    spec: {
      ...testClusterSpec,
      tags: { ...testClusterSpec.tags, [ARCHIVE_ON_DELETE_TAG]: String(blob.archiveOnDelete) },
      hsm: { container: blob.container.id, loggingContainer: blob.loggingContainer.id, importPrefixesInitial: blob.importPrefixes }
    }
  }
}

/** The attempts at the import a creation needs: ARM's own, then any the controller started again. */
const initialImportAttempts = (fs: FakeFilesystem | undefined, now: number): ReadonlyArray<ImportJobRecord> =>
  startedImports(fs, now).filter((job) => job.name === "initial-import" || job.name.startsWith("initial-import-"))

const latestOf = (jobs: ReadonlyArray<ImportJobRecord>) =>
  [...jobs].sort((a, b) => a.startedAt - b.startedAt).at(-1)

const now = TestClock.testClockWith((clock) => clock.currentTimeMillis)

/** Forks `effect`, then advances virtual time in `step`s until it is done. */
const runToEnd = <A, E>(effect: Effect.Effect<A, E>, step: Duration.Input = "10 seconds", maxSteps = 1_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < maxSteps; i++) {
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return exit
      yield* TestClock.adjust(step)
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.die(new Error(`still running after ${maxSteps} steps of ${Duration.format(Duration.fromInputUnsafe(step))}`))
  })

/** What the generated sequences exercised, summed over the runs. */
const coverage = {
  runs: 0,
  commands: 0,
  restarts: 0,
  crashes: 0,
  createdOk: 0,
  partialImports: 0,
  initialImportRetries: 0,
  deletesOk: 0,
  deletesRefused: 0,
  archivesOnDelete: 0,
  importJobs: 0,
  archivesByLoop: 0,
  cancels: 0,
  timeouts: 0
}

// ---------------------------------------------------------------------------------------------
// One run

const runModel = (scenario: Scenario) =>
  Effect.gen(function*() {
    const world: World = yield* makeWorld({ createMillis: CREATE_MILLIS, deleteMillis: DELETE_MILLIS, timings: TIMINGS, controller: CONTROLLER })
    const { fake, kubeFake, seen } = world
    const violations: Array<string> = []
    const violation = (text: string) => Effect.sync(() => violations.push(text))
    const calls: Array<CallRecord> = []
    const generations: Array<Generation> = []
    const current: Array<Generation | undefined> = [undefined, undefined]
    let replicas = 0
    let process: Process = yield* world.startProcess(replicas++)

    const newGeneration = (slot: 0 | 1) =>
      Effect.gen(function*() {
        const gen = generations.filter((g) => g.slot === slot).length
        const pvc = `data-${slot}-${gen}`
        const pv = `pvc-${slot}-${gen}`
        const config = scenario.slots[slot]
        const generation: Generation = {
          slot,
          gen,
          pvc,
          pv,
          cluster: clusterNameFor(pv),
          config,
          request: clusterRequestOf(pvc, pv, config),
          bound: false,
          deletedAt: undefined
        }
        generations.push(generation)
        current[slot] = generation
        yield* Ref.update(kubeFake.claims, (claims) => [
          ...claims,
          { namespace: NAMESPACE, name: pvc, uid: `uid-${pvc}`, volumeName: undefined, annotations: {} }
        ])
        return generation
      })

    /** A user's `kubectl annotate`: the watch of PVCs sends it, so the HSM loop may act before its resync. */
    const annotate = (generation: Generation, annotations: Readonly<Record<string, string | undefined>>) =>
      kubeFake.editClaim(NAMESPACE, generation.pvc, Object.fromEntries(Object.entries(annotations).map(([key, value]) => [key, value ?? null])))

    /** The external-provisioner, once CreateVolume answered OK: the PV, and the PVC bound to it. */
    const bind = (generation: Generation) =>
      Effect.gen(function*() {
        if (generation.bound || generation.deletedAt !== undefined) return
        generation.bound = true
        const fs = (yield* armState(fake)).filesystem(generation.cluster)
        const handle = encodeVolumeId({
          name: generation.cluster,
          fsName: "lustrefs",
          mgsAddress: fs?.mgsAddress ?? "",
          subDir: "",
          createdByDriver: true,
          resourceGroup: RG
        })
        yield* Ref.update(kubeFake.volumes, (volumes) => [
          ...volumes,
          { name: generation.pv, driver: DRIVER, volumeHandle: handle, claim: { namespace: NAMESPACE, name: generation.pvc, uid: `uid-${generation.pvc}` } }
        ])
        yield* Ref.update(kubeFake.claims, (claims) =>
          claims.map((claim) => claim.name === generation.pvc ? { ...claim, volumeName: generation.pv } : claim))
      })

    /** (4) CreateVolume answered OK: the cluster and its initial import are ready. */
    const checkCreated = (generation: Generation) =>
      Effect.gen(function*() {
        const arm = yield* armState(fake)
        const fs = arm.filesystem(generation.cluster)
        const state = fs === undefined ? "Gone" : provisioningStateAt(fs, arm.now)
        if (state !== "Succeeded") yield* violation(`(4) CreateVolume ${generation.pv} answered OK while its cluster is ${state}`)
        const initial = latestOf(initialImportAttempts(fs, arm.now))
        const importState = initial === undefined ? "absent" : importStateAt(initial, arm.now, arm.timings)
        if (importState !== "Completed" && importState !== "CompletedPartial") {
          yield* violation(`(4) CreateVolume ${generation.pv} answered OK while its initial import is ${importState}`)
        }
        if (importState === "CompletedPartial") {
          coverage.partialImports++
          const events = yield* Ref.get(kubeFake.events)
          const warned = events.some((event) =>
            event.regarding.name === generation.pvc && event.type === "Warning" && event.reason === "ImportedPartially" &&
            event.note.includes("error(s)")
          )
          if (!warned) yield* violation(`(4) ${generation.pv}'s initial import completed partially without a Warning Event with the counts`)
        }
        const autoExports = fs?.hsm?.autoExportJobs ?? []
        if (generation.config.autoExport && !autoExports.some((job) => job.name === "auto-export" && job.disableRequestedAt === undefined)) {
          yield* violation(`(4) CreateVolume ${generation.pv} answered OK without its auto-export job running`)
        }
        if (initialImportAttempts(fs, arm.now).length > 1) coverage.initialImportRetries++
        coverage.createdOk++
      })

    /** (5) DeleteVolume answered: FAILED_PRECONDITION leaves the cluster as it was, OK leaves none. */
    const checkDeleted = (generation: Generation, result: string, message: string) =>
      Effect.gen(function*() {
        const arm = yield* armState(fake)
        const fs = arm.filesystem(generation.cluster)
        const state = fs === undefined ? "Gone" : provisioningStateAt(fs, arm.now)
        if (result === "FailedPrecondition") {
          coverage.deletesRefused++
          if (state !== "Succeeded") yield* violation(`(5) DeleteVolume ${generation.pv} answered FAILED_PRECONDITION and its cluster is ${state}`)
          if (seen.deletes.some((sent) => sent.cluster === generation.cluster)) {
            yield* violation(`(5) DeleteVolume ${generation.pv} answered FAILED_PRECONDITION after sending a DELETE`)
          }
          // Only failNextArchive fails an archive here; nobody can cancel a deletion's archive (its PVC is gone).
          if (!message.includes(`archiving its files to the blob container ended Failed (${archiveFailedError.code}): ${archiveFailedError.message.replace(/\.$/, "")}`)) {
            yield* violation(`(5) DeleteVolume ${generation.pv} answered FAILED_PRECONDITION without a failed archive: ${message}`)
          }
        }
        if (result === "ok") {
          coverage.deletesOk++
          if (state !== "Gone") yield* violation(`(5) DeleteVolume ${generation.pv} answered OK and its cluster is ${state}`)
        }
      })

    const allowed = {
      Create: ["ok", "Unavailable", "Aborted", "TimeoutError", "interrupted"],
      Delete: ["ok", "FailedPrecondition", "Unavailable", "Aborted", "TimeoutError", "interrupted"]
    }

    /** A CO call in the current process: forked, with its deadline; its answer checked when it comes. */
    const call = (kind: "Create" | "Delete", generation: Generation, deadlineSeconds: number | undefined) =>
      Effect.gen(function*() {
        const operation: Effect.Effect<unknown, unknown> = kind === "Create"
          ? process.provisioner.ensureCreated(generation.request)
          : process.provisioner.ensureDeleted(RG, generation.cluster)
        const withDeadline = deadlineSeconds === undefined ? operation : Effect.timeout(operation, Duration.seconds(deadlineSeconds))
        const fiber = yield* Effect.forkChild(withDeadline.pipe(
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              const { result, message } = resultOf(exit)
              calls.push({ kind, pvc: generation.pvc, result, message })
              if (!allowed[kind].includes(result)) yield* violation(`(6) ${kind} ${generation.pv} answered ${result}: ${message}`)
              if (result === "TimeoutError") coverage.timeouts++
              if (kind === "Create" && result === "ok") {
                yield* checkCreated(generation)
                yield* bind(generation)
              }
              if (kind === "Delete") yield* checkDeleted(generation, result, message)
            })
          ),
          Effect.ignore
        ))
        process.callers.push(fiber)
        return fiber
      })

    /** (1), (2), (3), (5): what ARM holds now and what the controller sent since the last look. */
    let deletesChecked = 0
    const checkStep = (label: string) =>
      Effect.gen(function*() {
        const arm = yield* armState(fake)
        for (const fs of arm.all) {
          if (activeImports(fs, arm.now, arm.timings).length > 1) yield* violation(`(1) ${label}: two active import jobs on ${fs.name}`)
          if (activeArchives(fs, arm.now, arm.timings).length > 1) yield* violation(`(1) ${label}: two active archives on ${fs.name}`)
        }
        for (const [at, put] of seen.jobPuts.entries()) {
          // The same PUT again after its answer was lost is how a PUT is retried: ARM answers it as done.
          const previous = seen.jobPuts.slice(0, at).filter((one) => one.cluster === put.cluster && one.job === put.job).at(-1)
          if (put.existed && previous?.outcome !== "ok, answer lost") {
            yield* violation(`(2) ${label}: ${put.caller} PUT job ${put.job} of ${put.cluster}, which ARM already listed (${put.outcome})`)
          }
        }
        const requests = new Map<string, number>()
        for (const post of seen.archives) {
          if (post.caller !== "loop" || !post.outcome.startsWith("ok")) continue
          const key = `${post.request?.pvc}/${post.request?.id}`
          requests.set(key, (requests.get(key) ?? 0) + 1)
        }
        for (const [request, times] of requests) {
          if (times > 1) yield* violation(`(3) ${label}: archive request ${request} was started ${times} times`)
        }
        for (const cancel of seen.cancels) {
          if (!cancel.runningThen) yield* violation(`(3) ${label}: ${cancel.caller} canceled the ${cancel.kind} of ${cancel.cluster} with none running`)
        }
        for (const sent of seen.deletes.slice(deletesChecked)) {
          const generation = generations.find((g) => g.cluster === sent.cluster)
          if (generation?.deletedAt === undefined) {
            yield* violation(`(5) ${label}: a DELETE of ${sent.cluster}, whose PVC was not deleted`)
            continue
          }
          if (sent.autoExportsDisabledAt.some((at) => at === undefined)) {
            yield* violation(`(5) ${label}: the DELETE of ${sent.cluster} was sent with an auto-export job enabled`)
          }
          if (!generation.config.archiveOnDelete) continue
          coverage.archivesOnDelete++
          const archive = sent.rootArchive
          if (archive === undefined || sent.rootArchiveState !== "Completed") {
            yield* violation(`(5) ${label}: the DELETE of ${sent.cluster} was sent while the archive of / was ${sent.rootArchiveState ?? "never started"}`)
            continue
          }
          if (archive.startedAt < generation.deletedAt) {
            yield* violation(`(5) ${label}: the DELETE of ${sent.cluster} relied on an archive of / started before its PVC was deleted`)
          }
          const ours = seen.archives.some((post) =>
            post.caller === "provisioner" && post.cluster === sent.cluster && post.path === "/" && post.outcome.startsWith("ok") &&
            post.atMillis === archive.startedAt
          )
          if (!ours) yield* violation(`(5) ${label}: the DELETE of ${sent.cluster} relied on an archive of / that DeleteVolume did not start`)
          if (sent.autoExportsDisabledAt.some((at) => at !== undefined && at > archive.startedAt)) {
            yield* violation(`(5) ${label}: the archive of ${sent.cluster} before its DELETE started before its auto-export was disabled`)
          }
        }
        deletesChecked = seen.deletes.length
        // The fakes' call logs are not read here; kept short, they keep each call cheap.
        yield* Ref.set(fake.calls, [])
        yield* Ref.set(kubeFake.calls, [])
        if (violations.length > 0) {
          return yield* Effect.fail(`${violations.join("\n")}\ncalls: ${calls.map((c) => `${c.kind} ${c.pvc} ${c.result}`).join(", ")}`)
        }
      })

    /** `<pvc>|<kind>|<id>` of each request a cancel annotation named while it was the PVC's request. */
    const canceledRequests = new Set<string>()
    const noteCancels = Effect.gen(function*() {
      for (const claim of yield* Ref.get(kubeFake.claims)) {
        const kinds = [
          { kind: "import", value: claim.annotations[hsmAnnotations.import], cancel: claim.annotations[hsmAnnotations.importCancel], idOf: importIdOf },
          { kind: "archive", value: claim.annotations[hsmAnnotations.archive], cancel: claim.annotations[hsmAnnotations.archiveCancel], idOf: archiveIdOf }
        ] as const
        for (const { kind, value, cancel, idOf } of kinds) {
          if (value === undefined || cancel === undefined) continue
          const id = idOf(value)
          if (cancel === "true" || cancel === id) canceledRequests.add(`${claim.name}|${kind}|${id}`)
        }
      }
    })

    const settleFibers = Effect.gen(function*() {
      for (let i = 0; i < 50; i++) yield* Effect.yieldNow
    })

    /** A process that died at a crash point is replaced, as Kubernetes restarts the controller's pod. */
    const restartIfCrashed = Effect.gen(function*() {
      if (!(yield* world.takeCrash)) return
      coverage.crashes++
      yield* process.stop
      process = yield* world.startProcess(replicas++)
      yield* settleFibers
    })

    const cancelValue = (target: typeof CancelTarget.Type, generation: Generation, kind: "import" | "archive") =>
      Effect.gen(function*() {
        const key = kind === "import" ? hsmAnnotations.importCancel : hsmAnnotations.archiveCancel
        if (target === "remove") return { [key]: undefined }
        if (target === "true") return { [key]: "true" }
        const annotations = (yield* Ref.get(kubeFake.claims)).find((claim) => claim.name === generation.pvc)?.annotations ?? {}
        const value = annotations[kind === "import" ? hsmAnnotations.import : hsmAnnotations.archive]
        const id = value === undefined ? "r1" : kind === "import" ? importIdOf(value) : archiveIdOf(value)
        return { [key]: target === "current" ? id : id === "r9" ? "r8" : "r9" }
      })

    if (scenario.firstImport === "CompletedPartial") yield* fake.partialNextImport(2)
    if (scenario.firstImport === "Failed") yield* fake.failNextImport()
    const warmStart: ReadonlyArray<Step> = scenario.warmStart
      ? [{ command: { _tag: "Create", slot: 0, deadlineSeconds: undefined }, wait: 0 }, { command: { _tag: "Create", slot: 1, deadlineSeconds: undefined }, wait: 10 * 60 }]
      : []
    for (const [at, { command, wait }] of [...warmStart, ...scenario.steps].entries()) {
      const label = `after step ${at} (${command._tag}, then ${wait} s)`
      switch (command._tag) {
        case "Create": {
          const existing = current[command.slot]
          const generation = existing === undefined || existing.deletedAt !== undefined ? yield* newGeneration(command.slot) : existing
          if (!generation.bound) yield* call("Create", generation, command.deadlineSeconds)
          break
        }
        case "Delete": {
          const generation = current[command.slot]
          if (generation === undefined || !generation.bound) break
          if (generation.deletedAt === undefined) {
            generation.deletedAt = yield* now
            yield* Ref.update(kubeFake.claims, (claims) => claims.filter((claim) => claim.name !== generation.pvc))
          }
          yield* call("Delete", generation, command.deadlineSeconds)
          break
        }
        case "Import":
        case "Archive": {
          const generation = current[command.slot]
          if (generation === undefined || generation.deletedAt !== undefined) break
          const body = command._tag === "Import" ? command.prefix : command.path
          yield* annotate(generation, {
            [command._tag === "Import" ? hsmAnnotations.import : hsmAnnotations.archive]: command.id === "" ? body : `${command.id}:${body}`
          })
          break
        }
        case "CancelImport":
        case "CancelArchive": {
          const generation = current[command.slot]
          if (generation === undefined || generation.deletedAt !== undefined) break
          yield* annotate(generation, yield* cancelValue(command.target, generation, command._tag === "CancelImport" ? "import" : "archive"))
          break
        }
        case "Restart":
          coverage.restarts++
          yield* process.stop
          process = yield* world.startProcess(replicas++)
          break
        case "Advance":
          yield* TestClock.adjust(Duration.seconds(command.seconds))
          break
        case "Fault":
          switch (command.fault) {
            case "failNextImport":
              yield* fake.failNextImport()
              break
            case "partialNextImport":
              yield* fake.partialNextImport(2)
              break
            case "pvcPatchRefused":
              yield* kubeFake.failNext(
                "PatchPersistentVolumeClaimAnnotations",
                new KubeError({ operation: "patchPersistentVolumeClaim", status: 500, message: "the API server answered HTTP 500" })
              )
              break
            case "kubeError":
              yield* Ref.update(kubeFake.failures, (queued) => [
                ...queued,
                new KubeError({ operation: "scripted", status: 500, message: "the API server answered HTTP 500" })
              ])
              break
          }
          break
        case "CrashAfter":
          yield* world.crashAfterNext(command.call)
          break
        case "LoseAnswer":
          yield* world.loseNextAnswer(command.call)
          break
        case "FailNextArchive":
          yield* fake.failNextArchive()
          break
        case "Throttle":
          yield* fake.failNext(
            new ArmError({
              operation: "scripted",
              statusCode: 429,
              code: "TooManyRequests",
              message: "The request is being throttled.",
              retryAfterMillis: 2_000
            }),
            { operation: command.operation, times: command.times }
          )
          break
      }
      yield* noteCancels
      yield* settleFibers
      if (wait > 0) yield* TestClock.adjust(Duration.seconds(wait))
      yield* restartIfCrashed
      if ((command._tag === "Import" || command._tag === "Archive") && command.cancelAfterWait) {
        const generation = current[command.slot]
        if (generation !== undefined && generation.deletedAt === undefined) {
          yield* annotate(generation, yield* cancelValue("current", generation, command._tag === "Import" ? "import" : "archive"))
          yield* noteCancels
          yield* settleFibers
        }
      }
      yield* checkStep(label)
    }

    // Settle: faults stop; the CO retries each slot's last intent until it is answered OK.
    yield* Ref.set(fake.nextImports, [])
    yield* Ref.set(fake.nextArchives, [])
    yield* Ref.set(fake.failures, [])
    yield* Ref.set(kubeFake.failures, [])
    yield* Ref.set(kubeFake.failuresByCall, [])
    yield* world.stopFaults
    // Long enough for any creation, job, archive or deletion under way to end.
    yield* TestClock.adjust(Duration.minutes(12))
    yield* restartIfCrashed
    yield* checkStep("after the last command's work")
    const retries: Array<string> = []
    for (const generation of generations) {
      const kind = generation.deletedAt !== undefined ? "Delete" : generation.bound ? undefined : "Create"
      if (kind === undefined) continue
      let answer = "unanswered"
      for (let attempt = 0; attempt < 4 && answer !== "ok"; attempt++) {
        const fiber = yield* call(kind, generation, undefined)
        const exit = yield* runToEnd(Fiber.join(fiber))
        const last = calls.at(-1)
        answer = Exit.isSuccess(exit) ? last?.result ?? "unanswered" : "defect"
        retries.push(`${kind} ${generation.pv}: ${answer}${last?.message ? ` (${last.message})` : ""}`)
        if (!["Unavailable", "Aborted", "FailedPrecondition"].includes(answer)) break
      }
      if (answer !== "ok") yield* violation(`(liveness) the CO's retries of ${kind} ${generation.pv} did not converge: ${retries.join("; ")}`)
    }
    // The HSM loop runs on: queued requests start, every job and archive ends, the states are written.
    for (let round = 0; round < 2; round++) yield* TestClock.adjust(Duration.minutes(6))
    // The HSM loop is alive: its leader looked at the PVs at every resync of the last 6 minutes.
    const looks = (yield* Ref.get(kubeFake.calls)).filter((kubeCall) => kubeCall._tag === "ListPersistentVolumes").length
    if (looks < 11) yield* violation(`(liveness) the HSM loop listed the PVs ${looks} times in the last 12 minutes`)
    yield* checkStep("after the CO's retries")
    yield* checkConvergence(world, generations, canceledRequests, violation)
    if (violations.length > 0) return yield* Effect.fail(violations.join("\n"))

    coverage.runs++
    coverage.commands += scenario.steps.length
    coverage.importJobs += seen.jobPuts.filter((put) => put.caller === "loop" && put.outcome === "ok").length
    coverage.archivesByLoop += seen.archives.filter((post) => post.caller === "loop" && post.outcome === "ok").length
    coverage.cancels += seen.cancels.length
    yield* process.stop
    return { calls, retries, seen, claims: yield* Ref.get(kubeFake.claims), events: yield* Ref.get(kubeFake.events) }
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------

/** The sequences are the same on every run (MODEL_SEED=<any text> explores others). */
const DEFAULT_SEED = "issue-13"

/** Jitter (armRetry) draws from Random: seeded, a run is the same every time. */
const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Random.withSeed("hsm-jobs-model"))

const cmd = {
  create: (slot: 0 | 1, deadlineSeconds?: number): Command => ({ _tag: "Create", slot, deadlineSeconds }),
  remove: (slot: 0 | 1, deadlineSeconds?: number): Command => ({ _tag: "Delete", slot, deadlineSeconds }),
  importing: (slot: 0 | 1, id: "r1" | "r2" | "r3" | "", prefix: "/" | "/train" | "/val" = "/train"): Command => ({
    _tag: "Import",
    slot,
    id,
    prefix,
    cancelAfterWait: false
  }),
  archive: (slot: 0 | 1, id: "r1" | "r2" | "r3" | "", path: "/" | "/results" | "/train" = "/results"): Command => ({
    _tag: "Archive",
    slot,
    id,
    path,
    cancelAfterWait: false
  }),
  restart: { _tag: "Restart" } as Command,
  advance: (seconds: number): Command => ({ _tag: "Advance", seconds }),
  fault: (fault: "failNextImport" | "partialNextImport" | "kubeError" | "pvcPatchRefused"): Command => ({ _tag: "Fault", fault }),
  failNextArchive: { _tag: "FailNextArchive" } as Command
}

const steps = (...commands: ReadonlyArray<Command>): ReadonlyArray<Step> => commands.map((command) => ({ command, wait: 0 }))

const both = (archiveOnDelete: boolean, autoExport: boolean) =>
  [{ archiveOnDelete, autoExport }, { archiveOnDelete, autoExport }] as const

describe("the HSM job lifecycle against the fake ARM and the fake Kubernetes API", () => {
  // Before the fix, the retry in the restarted controller found the first archive running, waited
  // for an archive started after its own start (less a minute of clock skew), and so polled forever.
  it.effect("a restart while DeleteVolume archives: the retry waits for that archive, archives / again, then deletes", () =>
    seeded(Effect.gen(function*() {
      const { calls, seen } = yield* runModel({
        slots: both(true, true),
        warmStart: false,
        firstImport: "Completed",
        steps: steps(
          cmd.create(0),
          cmd.advance(10 * 60),
          cmd.remove(0, 60),
          cmd.advance(61),
          cmd.restart,
          cmd.remove(0),
          cmd.advance(15 * 60)
        )
      })
      assert.deepStrictEqual(calls.map((c) => `${c.kind} ${c.pvc} ${c.result}`), [
        "Create data-0-0 ok",
        "Delete data-0-0 TimeoutError",
        "Delete data-0-0 ok",
        // the CO's retry once the sequence is over: the cluster is gone
        "Delete data-0-0 ok"
      ])
      const archives = seen.archives.filter((post) => post.cluster === "pvc-0-0")
      assert.deepStrictEqual(archives.map((post) => `${post.caller} ${post.path} ${post.outcome}`), ["provisioner / ok", "provisioner / ok"])
      assert.isAtLeast((archives[1]?.atMillis ?? 0) - (archives[0]?.atMillis ?? 0), 3 * MINUTE)
      assert.strictEqual(seen.deletes.length, 1)
    })))

  it.effect("a CreateVolume retry after a failed initial import imports again as initial-import-2, with the failure in a Warning Event", () =>
    seeded(Effect.gen(function*() {
      const { calls, events, seen } = yield* runModel({
        slots: both(true, false),
        warmStart: false,
        firstImport: "Completed",
        steps: steps(cmd.fault("failNextImport"), cmd.create(0), cmd.advance(10 * 60), cmd.create(0), cmd.advance(6 * 60))
      })
      // Before the fix every retry answered UNAVAILABLE: the failed import was the cluster's for good.
      assert.deepStrictEqual(calls.map((c) => `${c.kind} ${c.pvc} ${c.result}`), ["Create data-0-0 Unavailable", "Create data-0-0 ok"])
      assert.match(calls[0]?.message ?? "", /\(job initial-import\) ended Failed: Import job failed/)
      assert.deepStrictEqual(seen.jobPuts.map((put) => `${put.caller} ${put.job} ${put.outcome}`), ["provisioner initial-import-2 ok"])
      const warnings = events.filter((event) => event.type === "Warning").map((event) => event.reason)
      assert.deepStrictEqual(warnings, ["ImportFailed", "ImportRetried"])
      const retried = events.find((event) => event.reason === "ImportRetried")
      assert.match(retried?.note ?? "", /\(job initial-import\) ended Failed: .*; importing it again as job initial-import-2$/)
    })))

  it.effect("an archive request id used again after another request is not archived again: its state says Lost, once", () =>
    seeded(Effect.gen(function*() {
      const { claims, events, seen } = yield* runModel({
        slots: both(false, false),
        warmStart: true,
        firstImport: "Completed",
        steps: steps(
          cmd.archive(0, "r1", "/results"),
          cmd.advance(6 * 60),
          cmd.archive(0, "r2", "/train"),
          cmd.advance(6 * 60),
          cmd.archive(0, "r1", "/results"),
          cmd.advance(2 * 60)
        )
      })
      // Before the fix r1 was archived a second time: the state remembered only the current request.
      const posts = seen.archives.filter((post) => post.caller === "loop").map((post) => `${post.request?.id} ${post.path} ${post.outcome}`)
      assert.deepStrictEqual(posts, ["r1 /results ok", "r2 /train ok"])
      const annotations = claims.find((claim) => claim.name === "data-0-0")?.annotations ?? {}
      const state = Option.getOrUndefined(readWorkState(annotations[hsmAnnotations.archiveState]))
      assert.strictEqual(state?.request, "r1")
      assert.strictEqual(state?.state, "Lost")
      assert.match(state?.error ?? "", /archive request r1 was started before and a request runs once/)
      assert.strictEqual(annotations[hsmAnnotations.archiveStarted], "r1,r2")
      assert.strictEqual(events.filter((event) => event.reason === "ArchiveRefused").length, 1)
    })))

  it.effect("an archive's path edited under the same request id changes nothing: the request ends as ARM ended its archive", () =>
    seeded(Effect.gen(function*() {
      const { claims, seen } = yield* runModel({
        slots: both(false, false),
        warmStart: true,
        firstImport: "Completed",
        steps: steps(cmd.archive(0, "r1", "/results"), cmd.advance(60), cmd.archive(0, "r1", "/train"), cmd.advance(10 * 60))
      })
      // Before the fix the request waited for an archive of /train that never started: Started for ever.
      assert.deepStrictEqual(seen.archives.map((post) => `${post.request?.id} ${post.path}`), ["r1 /results"])
      const annotations = claims.find((claim) => claim.name === "data-0-0")?.annotations ?? {}
      const state = Option.getOrUndefined(readWorkState(annotations[hsmAnnotations.archiveState]))
      assert.deepStrictEqual([state?.request, state?.state, state?.path], ["r1", "Completed", "/results"])
      assert.strictEqual(Option.getOrUndefined(readWorkState(annotations[hsmAnnotations.lastArchive]))?.state, "Completed")
    })))

  it.effect.prop(
    "random creates, requests, cancels, restarts, deadlines, deletes, time and faults keep the invariants",
    [Scenario],
    ([scenario]) => seeded(Effect.asVoid(runModel(scenario))),
    {
      timeout: 600_000,
      arbitrary: {
        runs: Number(process.env["MODEL_RUNS"] ?? 100),
        size: 30,
        seed: process.env["MODEL_SEED"] ?? DEFAULT_SEED,
        ...(process.env["MODEL_REPLAY"] === undefined ? {} : { replay: process.env["MODEL_REPLAY"] })
      }
    }
  )

  afterAll(() => {
    if (coverage.runs < 100) return
    for (const counted of ["restarts", "crashes", "createdOk", "partialImports", "initialImportRetries", "deletesOk", "deletesRefused", "archivesOnDelete", "importJobs", "archivesByLoop", "cancels", "timeouts"] as const) {
      assert.isAtLeast(coverage[counted], 3, `the model exercised too few ${counted}: ${JSON.stringify(coverage)}`)
    }
  })
})
