import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import {
  type AmlFilesystem,
  AmlfsApi,
  type AmlFilesystemSpec,
  type ArmError,
  type ArmOperation
} from "../../../layers/azure/AmlfsApi.js"
import { StorageAccess } from "../../../layers/azure/StorageAccess.js"
import { AlreadyExists, type CsiError, FailedPrecondition, ResourceExhausted, Unavailable } from "../../csi/errors.js"
import type { BlobIntegration } from "../../domain/BlobIntegration.js"
import { isCreatedByDriver } from "../../domain/ClusterTags.js"
import { elapsedText } from "../../domain/ElapsedText.js"
import { armOperationWait, timed } from "../../observability/metrics.js"
import { armCall, withoutFinalPeriod } from "./armFailure.js"
import { armPolling, armRetry } from "./armSchedules.js"
import { ControllerConfig } from "./ControllerConfig.js"
import { archiveBeforeDelete, archivesOnDelete, awaitInitialImport, disableAutoExports, ensureAutoJobs } from "./blobIntegration.js"
import { blobPreflight } from "./blobPreflight.js"
import { runOnce } from "./runOnce.js"
import { type PvcRef, recordOnPvc, VolumeEvents } from "./VolumeEvents.js"

export interface ClusterRequest {
  readonly resourceGroup: string
  readonly name: string
  readonly spec: AmlFilesystemSpec
  readonly pvc: PvcRef | undefined
  /** Blob integration: the cluster is ready once its container's namespace is imported, and its auto jobs run. */
  readonly blob?: BlobIntegration | undefined
}

const isSettled = (state: string) => state === "Succeeded" || state === "Failed" || state === "Canceled"

/**
 * Why a creation ended Failed or Canceled, in ARM's words: its operation's error (when this
 * controller started it) and the cluster's health description (when ARM filled it in). ARM may
 * give neither: then it says so, with the health state.
 */
const failureReason = (cluster: AmlFilesystem, operation: Option.Option<ArmOperation>) =>
  Effect.gen(function*() {
    const reasons: Array<string> = []
    if (Option.isSome(operation)) {
      // A reason that cannot be read does not hold up the deletion: the health may still say it.
      const status = yield* operation.value.read.pipe(Effect.retry(armRetry), Effect.option)
      const error = Option.getOrUndefined(status)?.error
      if (error !== undefined && (error.code !== "" || error.message.trim() !== "")) {
        reasons.push(withoutFinalPeriod(error.code === "" ? error.message : `${error.code}: ${error.message}`))
      }
    }
    const description = withoutFinalPeriod(cluster.health?.description ?? "")
    if (description !== "" && !reasons.some((reason) => reason.includes(description))) reasons.push(description)
    return reasons.length > 0
      ? reasons.join("; ")
      : `ARM gave no reason (health ${cluster.health?.state ?? "not reported"})`
  })

/**
 * Creates and deletes AMLFS clusters, exactly once per name. A CreateVolume for a name whose
 * creation is running joins it instead of sending a second PUT; the operation runs in the
 * controller's own scope, so a caller whose deadline passes leaves it running and the next retry
 * joins it again. After a restart, the cluster itself (read with GET) says where things stand.
 */
export class ClusterProvisioner extends Context.Service<ClusterProvisioner, {
  /** The cluster, created if it is not there, once it is ready. */
  readonly ensureCreated: (request: ClusterRequest) => Effect.Effect<AmlFilesystem, CsiError>
  /** Deletes a cluster the driver created, and waits until ARM no longer has it. */
  readonly ensureDeleted: (resourceGroup: string, name: string) => Effect.Effect<void, CsiError>
}>()("azurelustre/controller/ClusterProvisioner") {
  static readonly layer = Layer.effect(
    ClusterProvisioner,
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const config = yield* ControllerConfig
      const events = yield* VolumeEvents
      // serve and sim provide it (ControllerServices); a harness without it skips the blob-integration preflight.
      const storage = Option.getOrUndefined(yield* Effect.serviceOption(StorageAccess))
      const scope = yield* Effect.scope
      const creating = new Map<string, Deferred.Deferred<AmlFilesystem, CsiError>>()
      const deleting = new Map<string, Deferred.Deferred<void, CsiError>>()

      const once = <A>(
        running: Map<string, Deferred.Deferred<A, CsiError>>,
        conflicting: ReadonlyMap<string, unknown>,
        key: string,
        operation: Effect.Effect<A, CsiError>
      ) => Effect.map(runOnce(scope)(running, conflicting, key, operation), ({ value }) => value)

      const read = (resourceGroup: string, name: string) =>
        armCall(api.get(resourceGroup, name), `reading AMLFS ${name} in ${resourceGroup}`)

      const startCreation = Effect.fnUntraced(function*(request: ClusterRequest) {
        const { spec } = request
        const refused = yield* api.checkSubnet(spec.filesystemSubnet, spec.skuName, spec.storageCapacityTiB, spec.location).pipe(
          Effect.as(undefined),
          Effect.catchTag("SubnetRefused", (refusal) => Effect.succeed(refusal)),
          (check) => armCall(check, `checking the subnet ${spec.filesystemSubnet}`)
        )
        if (refused !== undefined) {
          const needed = yield* api.requiredSubnetSize(spec.skuName, spec.storageCapacityTiB).pipe(Effect.option)
          return yield* new ResourceExhausted({
            message: `the subnet ${refused.subnetId} has no room for a ${spec.storageCapacityTiB} TiB ${spec.skuName} ` +
              `filesystem${Option.match(needed, { onNone: () => "", onSome: (n) => `, which needs ${n} addresses` })}: ` +
              `${refused.message}. Use a larger subnet (subnet-name) or free addresses in it`
          })
        }
        // Only here, before a PUT: a retry that joins a running creation or finds the cluster checks nothing again.
        if (request.blob !== undefined && storage !== undefined) {
          yield* blobPreflight({ storage, config, events }, { name: request.name, pvc: request.pvc, blob: request.blob })
        }
        // A PUT that got no answer (or a 408/5xx) may have been accepted: look before sending another.
        const acceptedAnyway = (failed: ArmError) =>
          failed.statusCode === 0 || failed.statusCode === 408 || failed.statusCode >= 500
            ? api.get(request.resourceGroup, request.name).pipe(
              Effect.flatMap((existing) => (Option.isSome(existing) ? Effect.succeed(Option.none<ArmOperation>()) : Effect.fail(failed))),
              Effect.catchTag("ArmError", () => Effect.fail(failed))
            )
            : Effect.fail(failed)
        const operation = yield* armCall(
          api.beginCreate(request.resourceGroup, request.name, spec).pipe(Effect.catchTag("ArmError", acceptedAnyway)),
          `creating AMLFS ${request.name} in ${request.resourceGroup}`
        )
        yield* Effect.logInfo("creating an AMLFS cluster").pipe(
          Effect.annotateLogs({ cluster: request.name, resourceGroup: request.resourceGroup, sku: spec.skuName, tib: spec.storageCapacityTiB })
        )
        yield* recordOnPvc(events, request.pvc, "Provisioning", "Normal", "ProvisioningStarted",
          `creating Azure Managed Lustre ${request.name} (${spec.skuName}, ${spec.storageCapacityTiB} TiB) in ` +
            `${request.resourceGroup}; this takes ${config.creationTakes}`)
        return operation
      })

      const startDeletion = (resourceGroup: string, name: string) =>
        armCall(api.beginDelete(resourceGroup, name), `deleting AMLFS ${name} in ${resourceGroup}`)

      /** Reads the cluster on the polling schedule until it settles or disappears, telling the PVC now and then. */
      const waitUntilSettled = Effect.fnUntraced(function*(request: ClusterRequest, startedAt: number) {
        let lastEventAt = yield* Clock.currentTimeMillis
        const readWithProgress = read(request.resourceGroup, request.name).pipe(
          Effect.tap((current) =>
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              if (Option.isNone(current) || isSettled(current.value.provisioningState)) return
              if (now - lastEventAt < Duration.toMillis(config.progressEventEvery)) return
              lastEventAt = now
              yield* recordOnPvc(events, request.pvc, "Provisioning", "Normal", "ProvisioningInProgress",
                `Azure Managed Lustre ${request.name} is ${current.value.provisioningState} (${elapsedText(now - startedAt)} so far)`)
            })
          )
        )
        return yield* readWithProgress.pipe(
          Effect.repeat({
            schedule: armPolling({ startedAt, ...config.creationPolling }),
            until: (current) => Option.isNone(current) || isSettled(current.value.provisioningState)
          }),
          (waiting) => timed(armOperationWait, { operation: "create" }, waiting)
        )
      })

      const deleteFailed = Effect.fnUntraced(function*(
        request: ClusterRequest,
        cluster: AmlFilesystem,
        operation: Option.Option<ArmOperation>
      ) {
        const reason = yield* failureReason(cluster, operation)
        yield* startDeletion(request.resourceGroup, request.name)
        const message = `Azure Managed Lustre ${request.name} ended ${cluster.provisioningState}: ${reason}. ` +
          "It is being deleted, and the next retry creates it again"
        yield* recordOnPvc(events, request.pvc, "Provisioning", "Warning", "ProvisioningFailed", message)
        return yield* new Unavailable({ message })
      })

      const compatible = (request: ClusterRequest, cluster: AmlFilesystem) =>
        cluster.skuName === request.spec.skuName && cluster.storageCapacityTiB >= request.spec.storageCapacityTiB &&
        cluster.location.toLowerCase() === request.spec.location.toLowerCase()

      const ready = Effect.fnUntraced(function*(request: ClusterRequest, cluster: AmlFilesystem) {
        if (!compatible(request, cluster)) {
          return yield* new AlreadyExists({
            message: `AMLFS ${request.name} exists as ${cluster.skuName}, ${cluster.storageCapacityTiB} TiB in ` +
              `${cluster.location}, not the ${request.spec.skuName}, ${request.spec.storageCapacityTiB} TiB asked for`
          })
        }
        if (cluster.mgsAddress === undefined) {
          return yield* new Unavailable({ message: `AMLFS ${request.name} is provisioned but ARM reports no MGS address yet` })
        }
        return cluster
      })

      /** A cluster with blob integration is ready once its initial import has ended and its auto jobs run. */
      const withBlobIntegration = Effect.fnUntraced(function*(request: ClusterRequest, cluster: AmlFilesystem, startedAt: number) {
        if (request.blob === undefined) return cluster
        yield* awaitInitialImport({ api, config, events }, request, startedAt)
        yield* ensureAutoJobs({ api, config, events }, request, cluster.location, request.blob)
        return cluster
      })

      const create = Effect.fnUntraced(function*(request: ClusterRequest): Effect.fn.Return<AmlFilesystem, CsiError> {
        const existing = yield* read(request.resourceGroup, request.name)
        let startedAt: number
        // The creation's operation, when this controller started it: it says why a creation failed.
        let operation = Option.none<ArmOperation>()
        if (Option.isNone(existing)) {
          startedAt = yield* Clock.currentTimeMillis
          operation = yield* startCreation(request)
        } else {
          const cluster = existing.value
          if (!isCreatedByDriver(cluster.tags)) {
            return yield* new AlreadyExists({
              message: `an AMLFS named ${request.name} exists in ${request.resourceGroup} and was not created by this ` +
                "driver; it is left untouched. Delete it or use another PV name"
            })
          }
          if (cluster.provisioningState === "Succeeded") {
            const ok = yield* ready(request, cluster)
            return yield* withBlobIntegration(request, ok, cluster.createdAt?.getTime() ?? (yield* Clock.currentTimeMillis))
          }
          if (cluster.provisioningState === "Failed" || cluster.provisioningState === "Canceled") {
            return yield* deleteFailed(request, cluster, Option.none())
          }
          if (cluster.provisioningState === "Deleting") {
            yield* waitUntilGone(request.resourceGroup, request.name)
            startedAt = yield* Clock.currentTimeMillis
            operation = yield* startCreation(request)
          } else {
            startedAt = cluster.createdAt?.getTime() ?? (yield* Clock.currentTimeMillis)
          }
        }
        const settled = yield* waitUntilSettled(request, startedAt)
        if (Option.isNone(settled)) {
          return yield* new Unavailable({
            message: `AMLFS ${request.name} disappeared while being created; the next retry creates it again`
          })
        }
        if (settled.value.provisioningState !== "Succeeded") return yield* deleteFailed(request, settled.value, operation)
        const cluster = yield* ready(request, settled.value)
        yield* recordOnPvc(events, request.pvc, "Provisioning", "Normal", "Provisioned",
          `Azure Managed Lustre ${request.name} is ready: MGS ${cluster.mgsAddress}`)
        return yield* withBlobIntegration(request, cluster, startedAt)
      })

      const waitUntilGone = Effect.fnUntraced(function*(resourceGroup: string, name: string) {
        const startedAt = yield* Clock.currentTimeMillis
        yield* read(resourceGroup, name).pipe(
          Effect.repeat({ schedule: armPolling({ startedAt, ...config.deletionPolling }), until: Option.isNone }),
          (waiting) => timed(armOperationWait, { operation: "delete" }, waiting)
        )
      })

      const remove = Effect.fnUntraced(function*(resourceGroup: string, name: string) {
        const existing = yield* read(resourceGroup, name)
        if (Option.isNone(existing)) return
        if (!isCreatedByDriver(existing.value.tags)) {
          return yield* new FailedPrecondition({
            message: `AMLFS ${name} in ${resourceGroup} does not carry the tag of a cluster this driver created; ` +
              "it is left untouched. Delete it yourself if it is no longer needed"
          })
        }
        if (existing.value.provisioningState !== "Deleting") {
          const cluster = { resourceGroup, name, pvc: undefined }
          if (existing.value.hsm !== undefined) yield* disableAutoExports({ api, config, events }, cluster)
          if (archivesOnDelete(existing.value)) yield* archiveBeforeDelete({ api, config, events }, cluster)
          yield* startDeletion(resourceGroup, name)
        }
        yield* Effect.logInfo("deleting an AMLFS cluster").pipe(Effect.annotateLogs({ cluster: name, resourceGroup }))
        yield* waitUntilGone(resourceGroup, name)
      })

      return ClusterProvisioner.of({
        ensureCreated: (request) =>
          once(creating, deleting, `${request.resourceGroup}/${request.name}`, create(request)),
        ensureDeleted: (resourceGroup, name) =>
          once(deleting, creating, `${resourceGroup}/${name}`, remove(resourceGroup, name))
      })
    })
  )
}
