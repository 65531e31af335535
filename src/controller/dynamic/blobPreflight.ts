import * as Effect from "effect/Effect"
import type { ArmError } from "../../../layers/azure/AmlfsApi.js"
import { HPC_CACHE_PRINCIPAL_NAME, type StorageAccess } from "../../../layers/azure/StorageAccess.js"
import { type CsiError, FailedPrecondition } from "../../csi/errors.js"
import type { BlobIntegration } from "../../domain/BlobIntegration.js"
import { bounded } from "../../domain/BoundedText.js"
import { csiErrorOfArm, withoutFinalPeriod } from "./armFailure.js"
import { armRetry } from "./armSchedules.js"
import {
  type Finding,
  missingOf,
  type PreflightFindings,
  preflightFailureMessage,
  storageAccountIdOf
} from "./blobPreflightDecision.js"
import type { ControllerConfig } from "./ControllerConfig.js"
import { type PvcRef, recordOnPvc, type VolumeEvents } from "./VolumeEvents.js"

interface Services {
  readonly storage: StorageAccess["Service"]
  readonly config: ControllerConfig["Service"]
  readonly events: VolumeEvents["Service"]
}

export interface PreflightRequest {
  /** The cluster about to be created. */
  readonly name: string
  readonly pvc: PvcRef | undefined
  readonly blob: BlobIntegration
}

/** What would let the controller's identity make a refused read (Reader has both actions). */
const CONTAINER_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/read"
const ROLE_ASSIGNMENTS_READ = "Microsoft.Authorization/roleAssignments/read"

/**
 * One read, retried by armRetry while ARM may heal (throttling, 5xx, no answer; then
 * UNAVAILABLE). Any other refusal (403, an endpoint without the type, ...) means the check
 * cannot be made: a finding, not a failure.
 */
const read = <A>(request: Effect.Effect<A, ArmError>, doing: string): Effect.Effect<Finding<A>, CsiError> =>
  request.pipe(
    Effect.retry(armRetry),
    Effect.map((value): Finding<A> => ({ _tag: "Read", value })),
    Effect.catch((failed) =>
      failed.retryable
        ? Effect.fail(csiErrorOfArm(failed, doing))
        : Effect.succeed<Finding<A>>({
          _tag: "Unreadable",
          // ARM answers SubscriptionNotFound for a subscription the identity has no access to, too.
          refused: failed.statusCode === 403 || failed.code === "SubscriptionNotFound",
          reason: `ARM answered ${failed.statusCode} ${failed.code}: ${withoutFinalPeriod(bounded(failed.message))}`
        })
    )
  )

/** The Warning Event's text for the checks that could not be made, each with the permission that allows it. */
const skippedNote = (request: PreflightRequest, findings: PreflightFindings): string | undefined => {
  const account = request.blob.container
  const grant = (action: string) => `the controller's identity needs ${action} on the storage account ${account.storageAccount} (Reader has it)`
  const skipped = [
    ...findings.containers.flatMap(({ parameter, container, exists }) =>
      exists._tag === "Unreadable"
        ? [`that the container ${container.name} (${parameter}) exists: ${exists.reason}${exists.refused ? `; ${grant(CONTAINER_READ)}` : ""}`]
        : []
    ),
    ...(findings.roleAssignments._tag === "Unreadable"
      ? [
        `the roles of the ${HPC_CACHE_PRINCIPAL_NAME} on the storage account ${account.storageAccount}: ` +
        `${findings.roleAssignments.reason}${findings.roleAssignments.refused ? `; ${grant(ROLE_ASSIGNMENTS_READ)}` : ""}`
      ]
      : [])
  ]
  return skipped.length === 0
    ? undefined
    : `before creating Azure Managed Lustre ${request.name}, the driver could not check ${skipped.join("; and ")}. ` +
      "The creation goes on; if AMLFS cannot use the containers, the creation fails after it started"
}

/**
 * Before the 10-20 minute creation of a cluster with blob integration: both containers exist
 * and the storage account grants AMLFS the roles Azure's blob-integration prerequisites list.
 * Anything missing is one FAILED_PRECONDITION naming all of it with the `az` command for each;
 * a check the controller's identity may not make is a Warning Event, and the creation goes on.
 */
export const blobPreflight = (services: Services, request: PreflightRequest): Effect.Effect<void, CsiError> =>
  Effect.gen(function*() {
    const { storage, config, events } = services
    const { container, loggingContainer } = request.blob
    const accountId = storageAccountIdOf(container)
    const principalId = config.hpcCachePrincipalId
    const [dataExists, loggingExists, roleAssignments] = yield* Effect.all([
      read(storage.containerExists(container.id), `checking that the blob container ${container.name} exists`),
      read(storage.containerExists(loggingContainer.id), `checking that the blob container ${loggingContainer.name} exists`),
      read(storage.roleAssignmentsAt(accountId), `reading the role assignments of the storage account ${container.storageAccount}`)
    ], { concurrency: "unbounded" })
    const findings: PreflightFindings = {
      containers: [
        { parameter: "blob-container", container, exists: dataExists },
        { parameter: "blob-logging-container", container: loggingContainer, exists: loggingExists }
      ],
      roleAssignments
    }
    const logFields = { cluster: request.name, storageAccount: container.storageAccount }
    const skipped = skippedNote(request, findings)
    if (skipped !== undefined) {
      yield* Effect.logWarning(`blob-integration preflight skipped checks: ${skipped}`).pipe(Effect.annotateLogs(logFields))
      yield* recordOnPvc(events, request.pvc, "Provisioning", "Warning", "BlobPreflightSkipped", skipped)
    }
    const missing = missingOf(findings, principalId)
    if (missing.length > 0) {
      return yield* new FailedPrecondition({ message: preflightFailureMessage(request.name, container, missing, principalId) })
    }
    yield* Effect.logInfo("blob-integration preflight passed").pipe(Effect.annotateLogs(logFields))
  })
