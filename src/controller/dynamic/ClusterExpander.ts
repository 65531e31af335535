import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { type AmlFilesystem, AmlfsApi, type ExpansionJob } from "../../../layers/azure/AmlfsApi.js"
import { type CsiError, FailedPrecondition, InvalidArgument, NotFound, OutOfRange, Unavailable } from "../../csi/errors.js"
import { isCreatedByDriver, PVC_NAME_TAG, PVC_NAMESPACE_TAG } from "../../domain/ClusterTags.js"
import { holdsRequired } from "../../domain/ExpansionCapacity.js"
import { expansionAttemptOf, expansionJobName } from "../../domain/ExpansionJobName.js"
import { type CapacityRange, capacityForSku } from "../../domain/SkuCapacity.js"
import { armOperationWait, count, expansionJobDuration, expansionJobs, observeMillis, timed } from "../../observability/metrics.js"
import { armCall } from "./armFailure.js"
import { armPolling } from "./armSchedules.js"
import { ControllerConfig } from "./ControllerConfig.js"
import { runOnce } from "./runOnce.js"
import { SkuCatalog } from "./SkuCatalog.js"
import { type PvcRef, recordOnPvc, VolumeEvents } from "./VolumeEvents.js"

/** A job in these states is still changing the cluster: no other job may start meanwhile. */
const isRunning = (job: ExpansionJob) => job.status === "InProgress" || job.status === "RollingBack" || job.status === "Deleting"
const isEnded = (job: ExpansionJob) => job.status === "Completed" || job.status === "Failed" || job.status === "RollingBack"

const capacityOf = (cluster: AmlFilesystem) => cluster.currentStorageCapacityTiB ?? cluster.storageCapacityTiB

const pvcOf = (cluster: AmlFilesystem): PvcRef | undefined => {
  const name = cluster.tags[PVC_NAME_TAG]
  const namespace = cluster.tags[PVC_NAMESPACE_TAG]
  return name !== undefined && namespace !== undefined ? { name, namespace } : undefined
}

/**
 * Grows AMLFS clusters through ARM expansion jobs, one job at a time per cluster. Concurrent and
 * retried calls for a cluster join the expansion that runs; it runs in the controller's scope, so
 * a caller whose deadline passes leaves it running. Job names are deterministic (see
 * ExpansionJobName), so after a restart the next call finds the job and waits for it instead of
 * starting another.
 */
export class ClusterExpander extends Context.Service<ClusterExpander, {
  /** The cluster's capacity in TiB once it is at least `range.requiredBytes`, rounded up to its SKU's step. */
  readonly ensureExpanded: (resourceGroup: string, name: string, range: CapacityRange) => Effect.Effect<number, CsiError>
}>()("azurelustre/controller/ClusterExpander") {
  static readonly layer = Layer.effect(
    ClusterExpander,
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const config = yield* ControllerConfig
      const events = yield* VolumeEvents
      const skus = yield* SkuCatalog
      const once = runOnce(yield* Effect.scope)
      const expanding = new Map<string, Deferred.Deferred<number, CsiError>>()
      const nothingConflicts: ReadonlyMap<string, unknown> = new Map()
      const expansionPolling = config.expansionPolling ??
        { quietPeriod: Duration.zero, interval: config.creationPolling.interval, firstRead: Duration.seconds(1) }

      const readyCluster = Effect.fnUntraced(function*(resourceGroup: string, name: string) {
        const found = yield* armCall(api.get(resourceGroup, name), `reading AMLFS ${name} in ${resourceGroup}`)
        if (Option.isNone(found)) {
          return yield* new NotFound({ message: `AMLFS ${name} does not exist in ${resourceGroup}; the volume is gone` })
        }
        const cluster = found.value
        if (!isCreatedByDriver(cluster.tags)) {
          return yield* new FailedPrecondition({
            message: `AMLFS ${name} in ${resourceGroup} does not carry the tag of a cluster this driver created; ` +
              "it is left untouched. Grow it in Azure yourself"
          })
        }
        if (cluster.provisioningState !== "Succeeded") {
          return yield* new FailedPrecondition({
            message: `AMLFS ${name} is ${cluster.provisioningState}; it can be expanded only once it is Succeeded`
          })
        }
        return cluster
      })

      /** The capacity to grow to: the requirement rounded up to the SKU's step, within its maximum. */
      const targetOf = Effect.fnUntraced(function*(cluster: AmlFilesystem, range: CapacityRange) {
        const sku = (yield* skus.skusIn(cluster.location)).find((s) => s.name.toLowerCase() === cluster.skuName.toLowerCase())
        if (sku === undefined) {
          return yield* new FailedPrecondition({
            message: `AMLFS ${cluster.name} is ${cluster.skuName}, which ARM no longer lists in ${cluster.location}; ` +
              "its step and maximum are unknown, so it cannot be expanded"
          })
        }
        const capacity = capacityForSku(range, sku)
        if (Result.isFailure(capacity)) {
          return yield* (capacity.failure.code === "OutOfRange"
            ? new OutOfRange({ message: capacity.failure.message })
            : new InvalidArgument({ message: capacity.failure.message }))
        }
        return capacity.success.tib
      })

      /** Reads the job on the polling schedule until it ends; its capacity when it Completed. */
      const waitFor = Effect.fnUntraced(function*(cluster: AmlFilesystem, jobName: string, startedAt: number) {
        const doing = `reading expansion job ${jobName} of AMLFS ${cluster.name}`
        const ended = yield* armCall(api.getExpansionJob(cluster.resourceGroup, cluster.name, jobName), doing).pipe(
          Effect.repeat({
            schedule: armPolling({ startedAt, ...expansionPolling }),
            until: (job) => Option.isNone(job) || isEnded(job.value)
          }),
          (waiting) => timed(armOperationWait, { operation: "expand" }, waiting)
        )
        if (Option.isNone(ended)) {
          return yield* new Unavailable({ message: `expansion job ${jobName} of AMLFS ${cluster.name} disappeared; the CO retries` })
        }
        const jobOutcome = ended.value.status === "Completed" ? "completed" : "failed"
        yield* count(expansionJobs, { outcome: jobOutcome })
        yield* observeMillis(expansionJobDuration, { outcome: jobOutcome }, (yield* Clock.currentTimeMillis) - startedAt)
        return yield* outcome(cluster, ended.value)
      })

      const outcome = Effect.fnUntraced(function*(cluster: AmlFilesystem, job: ExpansionJob) {
        if (job.status === "Completed") {
          yield* recordOnPvc(events, pvcOf(cluster), "Expanding", "Normal", "Expanded",
            `Azure Managed Lustre ${cluster.name} now has ${job.newStorageCapacityTiB} TiB (expansion job ${job.name})`)
          return job.newStorageCapacityTiB
        }
        const message = `expansion job ${job.name} of AMLFS ${cluster.name} to ${job.newStorageCapacityTiB} TiB ` +
          `${isRunning(job) ? "is" : "ended"} ${job.status}${job.statusCode === undefined ? "" : ` (${job.statusCode})`}: ` +
          `${(job.statusMessage ?? "ARM gave no reason").replace(/\.$/, "")}. The volume keeps its size; once the job has ended, the next ` +
          "retry starts a new one"
        yield* recordOnPvc(events, pvcOf(cluster), "Expanding", "Warning", "ExpansionFailed", message)
        return yield* new Unavailable({ message })
      })

      const expand = Effect.fnUntraced(function*(cluster: AmlFilesystem, tib: number): Effect.fn.Return<number, CsiError> {
        const { name, resourceGroup } = cluster
        const jobs = yield* armCall(api.listExpansionJobs(resourceGroup, name), `listing the expansion jobs of AMLFS ${name}`)
        const ours = jobs
          .map((job) => ({ job, attempt: expansionAttemptOf(tib, job.name) }))
          .filter((entry): entry is { job: ExpansionJob; attempt: number } => entry.attempt !== undefined)
          .sort((a, b) => b.attempt - a.attempt)
        const latest = ours[0]
        if (latest !== undefined && latest.job.status === "InProgress") {
          return yield* waitFor(cluster, latest.job.name, latest.job.startTime?.getTime() ?? (yield* Clock.currentTimeMillis))
        }
        if (latest !== undefined && latest.job.status === "Completed") return latest.job.newStorageCapacityTiB
        if (latest !== undefined && isRunning(latest.job)) return yield* outcome(cluster, latest.job)
        const other = jobs.find(isRunning)
        if (other !== undefined) {
          return yield* new FailedPrecondition({
            message: `AMLFS ${name} is being changed by expansion job ${other.name} (${other.status}, to ` +
              `${other.newStorageCapacityTiB} TiB); it can be expanded to ${tib} TiB once that job ends`
          })
        }
        const jobName = expansionJobName(tib, (latest?.attempt ?? 0) + 1)
        const startedAt = yield* Clock.currentTimeMillis
        yield* armCall(
          api.beginExpansion(resourceGroup, name, jobName, tib, cluster.location),
          `starting expansion job ${jobName} of AMLFS ${name} in ${resourceGroup}`
        )
        yield* count(expansionJobs, { outcome: "started" })
        yield* Effect.logInfo("expanding an AMLFS cluster").pipe(
          Effect.annotateLogs({ cluster: name, resourceGroup, job: jobName, fromTiB: capacityOf(cluster), toTiB: tib })
        )
        yield* recordOnPvc(events, pvcOf(cluster), "Expanding", "Normal", "ExpansionStarted",
          `expanding Azure Managed Lustre ${name} from ${capacityOf(cluster)} to ${tib} TiB (expansion job ${jobName})`)
        return yield* waitFor(cluster, jobName, startedAt)
      })

      const ensureExpanded = (resourceGroup: string, name: string, range: CapacityRange): Effect.Effect<number, CsiError> =>
        Effect.gen(function*() {
          const cluster = yield* readyCluster(resourceGroup, name)
          const current = capacityOf(cluster)
          if (holdsRequired(current, range)) return current
          const tib = yield* targetOf(cluster, range)
          const { joined, value } = yield* once(expanding, nothingConflicts, `${resourceGroup}/${name}`, expand(cluster, tib))
          // A joined expansion may have been to less than this call asks: then grow further.
          return joined && !holdsRequired(value, range)
            ? yield* ensureExpanded(resourceGroup, name, range)
            : value
        })

      return ClusterExpander.of({ ensureExpanded })
    })
  )
}
