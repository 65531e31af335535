import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { AmlfsApi, type ArmError } from "../../../layers/azure/AmlfsApi.js"
import type { ArchiveStatus, ImportJob } from "../../../layers/azure/AmlfsHsm.js"
import { Kube, type KubePersistentVolumeClaim } from "../../../layers/kube/Kube.js"
import { decodeVolumeId } from "../../domain/VolumeId.js"
import { type DriverCluster, driverClusterOf } from "../driverCluster.js"
import { decideArchive, decideImport, type HsmAction, type HsmDecision } from "./decideHsmWork.js"
import {
  hasOpenRequest,
  hsmAnnotations,
  parseArchiveRequest,
  parseImportRequest,
  readWorkState,
  requestIdOf,
  writeWorkState
} from "./HsmAnnotations.js"
import { type LeaderElectionOptions, runLeaderElection } from "./LeaderElection.js"
import { isRequestEdit } from "./requestEdits.js"

/** How often the leader looks at every PVC's requests and ARM's jobs, at the latest. */
export const HSM_RESYNC = Duration.seconds(30)

/** After a user edits a request, how long the loop waits for more edits to act on them together. */
export const REQUEST_EDIT_SETTLE = Duration.seconds(1)

/** A watch of PVCs that failed (the API server unreachable, no RBAC to watch) is made again 1 s, 2 s, 4 s ... at most 30 s later. */
export const pvcWatchRetry = Schedule.exponential("1 second").pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(30))))
)

/** A PVC of this driver with blob work asked, and the cluster its volume is. */
interface HsmClaim {
  readonly claim: KubePersistentVolumeClaim
  readonly cluster: Result.Result<DriverCluster, string>
}

/** The bound PVCs of `driverName`'s PVs that ask for blob work. */
const claimsAskingForWork = (driverName: string) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const volumes = yield* kube.listPersistentVolumes
    const claims = yield* kube.listPersistentVolumeClaims
    const found: Array<HsmClaim> = []
    for (const volume of volumes) {
      if (volume.driver !== driverName || volume.claim === undefined || volume.volumeHandle === undefined) continue
      const { namespace, name } = volume.claim
      const claim = claims.find((candidate) =>
        candidate.namespace === namespace && candidate.name === name && candidate.volumeName === volume.name
      )
      if (claim === undefined || !hasOpenRequest(claim.annotations)) continue
      const id = decodeVolumeId(volume.volumeHandle)
      const cluster = Result.isFailure(id)
        ? Result.fail(`its volume id is not one of this driver's (${id.failure})`)
        : !id.success.createdByDriver
        ? Result.fail("its volume is a static one: blob work is for clusters the driver created (with blob-container)")
        : Result.mapError(driverClusterOf(id.success), (why) => `its volume id says the driver created it but ${why}`)
      found.push({ claim, cluster })
    }
    return found
  })

const subjectOf = (claim: KubePersistentVolumeClaim) => ({
  kind: "PersistentVolumeClaim" as const,
  namespace: claim.namespace,
  name: claim.name,
  ...(claim.uid === undefined ? {} : { uid: claim.uid })
})

/** Writes a decision's annotations and Events; a refusal of either is logged, the loop goes on. */
const record = (claim: KubePersistentVolumeClaim, decision: Pick<HsmDecision, "annotations" | "events">, action: string) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    if (Object.keys(decision.annotations).length > 0) {
      yield* kube.patchPersistentVolumeClaimAnnotations(claim.namespace, claim.name, decision.annotations).pipe(
        Effect.catch((error) =>
          Effect.logWarning("cannot write the HSM state on the PVC").pipe(
            Effect.annotateLogs({ pvc: `${claim.namespace}/${claim.name}`, reason: error.message })
          )
        )
      )
    }
    for (const event of decision.events) {
      yield* kube.recordEvent({ regarding: subjectOf(claim), action, ...event }).pipe(
        Effect.catch((error) =>
          Effect.logWarning("cannot record an Event").pipe(
            Effect.annotateLogs({ pvc: `${claim.namespace}/${claim.name}`, reason: event.reason, note: event.note, why: error.message })
          )
        )
      )
    }
  })

/** A static volume (or one this driver cannot name) asks for blob work: refused once per request, with a Warning. */
const refuse = (claim: KubePersistentVolumeClaim, why: string) =>
  Effect.gen(function*() {
    const time = new Date(yield* Clock.currentTimeMillis).toISOString()
    const kinds = [
      { value: claim.annotations[hsmAnnotations.import], key: hsmAnnotations.importState, requestOf: (value: string) => requestIdOf(parseImportRequest(value)), reason: "ImportRefused" },
      { value: claim.annotations[hsmAnnotations.archive], key: hsmAnnotations.archiveState, requestOf: (value: string) => requestIdOf(parseArchiveRequest(value)), reason: "ArchiveRefused" }
    ]
    for (const kind of kinds) {
      if (kind.value === undefined) continue
      const request = kind.requestOf(kind.value)
      const recorded = Option.getOrUndefined(readWorkState(claim.annotations[kind.key]))
      if (recorded?.request === request && recorded.state === "Invalid") continue
      const error = `PVC ${claim.namespace}/${claim.name}: ${why}`
      yield* record(claim, {
        annotations: { [kind.key]: writeWorkState({ request, state: "Invalid", time, error }) },
        events: [{ type: "Warning", reason: kind.reason, note: error }]
      }, kind.reason.startsWith("Import") ? "Importing" : "Archiving")
    }
  })

/** Does the decided action in ARM. */
const act = (cluster: DriverCluster, location: string, action: HsmAction) =>
  Effect.gen(function*() {
    const arm = yield* AmlfsApi
    switch (action._tag) {
      case "StartImport":
        return yield* arm.beginImportJob(cluster.resourceGroup, cluster.name, action.request.jobName, {
          location,
          importPrefixes: action.request.prefixes
        })
      case "CancelImport":
        return yield* arm.cancelImportJob(cluster.resourceGroup, cluster.name, action.jobName)
      case "StartArchive":
        return yield* arm.archive(cluster.resourceGroup, cluster.name, action.request.path)
      case "CancelArchive":
        return yield* arm.cancelArchive(cluster.resourceGroup, cluster.name)
    }
  })

/**
 * Acts on a decision, then writes what it decided. A retryable ARM failure writes nothing (the next
 * resync tries again); a start ARM refuses with 409 Conflict (another job of the kind runs, or the
 * cluster is busy) is Queued; any other failure of a start ends the request Failed with ARM's reason.
 */
const carryOut = (
  claim: KubePersistentVolumeClaim,
  cluster: DriverCluster,
  location: string,
  decision: HsmDecision,
  kind: "import" | "archive"
) =>
  Effect.gen(function*() {
    const eventAction = kind === "import" ? "Importing" : "Archiving"
    if (Option.isNone(decision.action)) return yield* record(claim, decision, eventAction)
    const action = decision.action.value
    if (Object.keys(decision.before).length > 0) {
      const written = yield* Effect.result(
        (yield* Kube).patchPersistentVolumeClaimAnnotations(claim.namespace, claim.name, decision.before)
      )
      if (written._tag === "Failure") {
        return yield* Effect.logWarning("cannot record an HSM request's start on the PVC; not starting it this round").pipe(
          Effect.annotateLogs({ pvc: `${claim.namespace}/${claim.name}`, reason: written.failure.message })
        )
      }
    }
    const outcome = yield* Effect.result(act(cluster, location, action))
    if (outcome._tag === "Success") return yield* record(claim, decision, eventAction)
    const failure: ArmError = outcome.failure
    yield* Effect.logWarning("an HSM request's ARM call failed").pipe(
      Effect.annotateLogs({ pvc: `${claim.namespace}/${claim.name}`, action: action._tag, code: failure.code, reason: failure.message })
    )
    if (failure.retryable) return
    const key = kind === "import" ? hsmAnnotations.importState : hsmAnnotations.archiveState
    const decided = Option.getOrUndefined(readWorkState(decision.annotations[key]))
    const starting = action._tag === "StartImport" || action._tag === "StartArchive"
    const time = new Date(yield* Clock.currentTimeMillis).toISOString()
    if (starting && failure.statusCode === 409 && decided !== undefined) {
      // ARM runs another job of the kind (one this round did not see): wait for it, as for any.
      const { startedAt: _startedAt, ...queued } = decided
      return yield* record(claim, {
        annotations: { [key]: writeWorkState({ ...queued, state: "Queued", time, error: failure.message }) },
        events: []
      }, eventAction)
    }
    const reason = kind === "import" ? "ImportFailed" : "ArchiveFailed"
    yield* record(claim, {
      annotations: starting && decided !== undefined
        ? { [key]: writeWorkState({ ...decided, state: "Failed", time, error: `${failure.code}: ${failure.message}` }) }
        : {},
      events: [{ type: "Warning", reason, note: `${action._tag} on ${cluster.name}: ARM answered ${failure.code}: ${failure.message}` }]
    }, eventAction)
  })

/** The requests on one cluster, in PVC order: one job of a kind starts per round at most. */
const reconcileCluster = (cluster: DriverCluster, claims: ReadonlyArray<KubePersistentVolumeClaim>) =>
  Effect.gen(function*() {
    const arm = yield* AmlfsApi
    const filesystem = yield* arm.get(cluster.resourceGroup, cluster.name)
    if (Option.isNone(filesystem)) {
      return yield* Effect.logWarning("an HSM request's cluster does not exist").pipe(
        Effect.annotateLogs({ cluster: `${cluster.resourceGroup}/${cluster.name}` })
      )
    }
    const location = filesystem.value.location
    const archiveStatus: ReadonlyArray<ArchiveStatus> = filesystem.value.hsm?.archiveStatus ?? []
    const wantsImport = claims.some((claim) => claim.annotations[hsmAnnotations.import] !== undefined)
    const jobs: ReadonlyArray<ImportJob> = wantsImport ? yield* arm.listImportJobs(cluster.resourceGroup, cluster.name) : []
    let importBusy = false
    let archiveBusy = false
    for (const claim of claims) {
      const now = new Date(yield* Clock.currentTimeMillis)
      const imported = decideImport({ annotations: claim.annotations, jobs, clusterBusy: importBusy, now })
      importBusy = importBusy || imported.occupies
      yield* carryOut(claim, cluster, location, imported, "import")
      const archived = decideArchive({ annotations: claim.annotations, archiveStatus, clusterBusy: archiveBusy, now })
      archiveBusy = archiveBusy || archived.occupies
      yield* carryOut(claim, cluster, location, archived, "archive")
    }
  })

/**
 * One look at every PVC of `driverName` that asks for blob work: read ARM, decide, act, write
 * the state back. A cluster ARM cannot be asked about is skipped until the next round.
 */
export const reconcileHsmOnce = Effect.fn("HsmReconciler.reconcileOnce")(function*(driverName: string) {
  const found = yield* claimsAskingForWork(driverName)
  const byCluster = new Map<string, { cluster: DriverCluster; claims: Array<KubePersistentVolumeClaim> }>()
  for (const { claim, cluster } of found) {
    if (Result.isFailure(cluster)) {
      yield* refuse(claim, cluster.failure)
      continue
    }
    const key = `${cluster.success.resourceGroup}/${cluster.success.name}`.toLowerCase()
    const group = byCluster.get(key) ?? { cluster: cluster.success, claims: [] }
    group.claims.push(claim)
    byCluster.set(key, group)
  }
  for (const { cluster, claims } of byCluster.values()) {
    yield* reconcileCluster(cluster, claims).pipe(
      Effect.catch((error) =>
        Effect.logWarning("cannot read an HSM request's cluster from ARM; trying again at the next resync").pipe(
          Effect.annotateLogs({ cluster: `${cluster.resourceGroup}/${cluster.name}`, reason: error.message })
        )
      )
    )
  }
})

export interface HsmLoopOptions {
  readonly driverName: string
  readonly lease: LeaderElectionOptions
  /** Default HSM_RESYNC. */
  readonly resync?: Duration.Duration
}

/**
 * Wakes the loop (`wake`) when a user edits a PVC's HSM requests (see requestEdits.ts), from a
 * watch of PVCs made again on `pvcWatchRetry` when it fails.
 */
const wakeOnRequestEdits = (wake: Queue.Queue<void>) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const seen = new Map<string, string>()
    yield* kube.watchPersistentVolumeClaims.pipe(
      Stream.filter((claim) => isRequestEdit(seen, claim)),
      Stream.debounce(REQUEST_EDIT_SETTLE),
      Stream.runForEach(() => Queue.offer(wake, undefined)),
      Effect.tapError((error) =>
        Effect.logWarning("the HSM loop cannot watch PVCs; requests are seen at each resync until the watch is back").pipe(
          Effect.annotateLogs({ reason: error.message })
        )
      ),
      Effect.retry(pvcWatchRetry)
    )
  })

/**
 * The controller's HSM loop: the replicas elect a leader through a Lease; the leader reconciles
 * every `resync` (`HSM_RESYNC`, `--hsm-resync`), and at once (after `REQUEST_EDIT_SETTLE`) when a user edits a request; the
 * others idle. A round that fails (the API server unreachable) is logged and the next one runs as
 * usual.
 */
export const runHsmLoop = (options: HsmLoopOptions) =>
  Effect.gen(function*() {
    const leading = yield* Ref.make(false)
    yield* Effect.forkScoped(runLeaderElection(options.lease, leading))
    // At most one wake waits: edits made during a round are all seen by the next one.
    const wake = yield* Queue.sliding<void>(1)
    yield* Effect.forkScoped(wakeOnRequestEdits(wake))
    const round = Effect.gen(function*() {
      if (!(yield* Ref.get(leading))) return
      yield* reconcileHsmOnce(options.driverName).pipe(
        Effect.catch((error) =>
          Effect.logWarning("the HSM loop cannot list this driver's PVCs; trying again at the next resync").pipe(
            Effect.annotateLogs({ reason: error.message })
          )
        )
      )
    })
    const untilResyncOrEdit = Queue.take(wake).pipe(Effect.timeoutOption(options.resync ?? HSM_RESYNC))
    return yield* Effect.forever(Effect.andThen(round, untilResyncOrEdit))
  })
