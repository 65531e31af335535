/**
 * The blob-integration preflight's reads in virtual time against the fake StorageAccess: ARM
 * failures that may heal are retried on armRetry, then UNAVAILABLE; any other refusal means the
 * check cannot be made (a Warning Event, the creation goes on); ARM's words echoed are bounded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import { ArmError } from "../../layers/azure/AmlfsApi.js"
import { StorageAccess } from "../../layers/azure/StorageAccess.js"
import { StorageAccessFake, type StorageAccessFakeOptions } from "../../layers/azure/StorageAccessFake.js"
import { blobPreflight } from "../../src/controller/dynamic/blobPreflight.js"
import type { VolumeEvent } from "../../src/controller/dynamic/VolumeEvents.js"
import { grpcCodeOf } from "../../src/csi/errors.js"
import { blobIntegrationOf } from "../../src/domain/BlobIntegration.js"
import { testControllerDefaults } from "../support/clusterFixtures.js"

const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets"
const blob = Result.getOrThrow(blobIntegrationOf({
  "blob-container": `${account}/blobServices/default/containers/imagenet`,
  "blob-logging-container": `${account}/blobServices/default/containers/amlfs-logs`
}))
if (blob === undefined) throw new Error("the test's parameters ask for blob integration")
const pvc = { namespace: "ml", name: "training-data" }

const armError = (statusCode: number, code: string, message = `${code} from ARM`, operation = "getBlobContainer") =>
  new ArmError({ operation, statusCode, code, message, retryAfterMillis: undefined })

/** The preflight on a fresh fake, run to its end in virtual time (armRetry's backoff fits in a minute). */
const preflight = (
  script: (fake: StorageAccessFake["Service"]) => Effect.Effect<void>,
  options: StorageAccessFakeOptions = {},
  withPvc = true
) =>
  Effect.gen(function*() {
    const fake = yield* StorageAccessFake.make(options)
    yield* script(fake)
    const events = yield* Ref.make<ReadonlyArray<VolumeEvent>>([])
    const storage = yield* Effect.provide(
      Effect.gen(function*() {
        return yield* StorageAccess
      }),
      StorageAccessFake.layerOf(fake)
    )
    const fiber = yield* Effect.forkChild(
      blobPreflight(
        { storage, config: testControllerDefaults, events: { record: (event) => Ref.update(events, (all) => [...all, event]) } },
        { name: "pvc-reads", pvc: withPvc ? pvc : undefined, blob }
      ).pipe(Effect.exit)
    )
    yield* TestClock.adjust("2 minutes")
    const exit = yield* Fiber.join(fiber)
    return { exit, events: yield* Ref.get(events), fake }
  })

const failureOf = <E>(exit: Exit.Exit<void, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

describe("blobPreflight's reads", () => {
  it.effect("throttling and server errors are retried on armRetry; the answer after them counts", () =>
    Effect.gen(function*() {
      const { exit, events, fake } = yield* preflight((fake) =>
        Effect.all([
          fake.failNext(armError(429, "TooManyRequests", "slow down", "listRoleAssignments"), { times: 2, operation: "roleAssignmentsAt" }),
          fake.failNext(armError(503, "ServiceUnavailable"), { times: 3, operation: "containerExists" })
        ], { discard: true })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(events, [])
      assert.strictEqual(yield* fake.count("roleAssignmentsAt"), 3)
      assert.strictEqual(yield* fake.count("containerExists"), 5)
    }))

  it.effect("a server error that does not heal is UNAVAILABLE naming the read, after armRetry gives up (6 tries)", () =>
    Effect.gen(function*() {
      const { exit, fake } = yield* preflight((fake) =>
        fake.failNext(armError(503, "ServiceUnavailable", "try later", "listRoleAssignments"), { times: 20, operation: "roleAssignmentsAt" })
      )
      const failure = failureOf(exit)
      assert.strictEqual(failure?._tag, "Unavailable")
      assert.strictEqual(failure === undefined ? undefined : grpcCodeOf[failure._tag], 14)
      assert.strictEqual(
        failure?.message,
        "reading the role assignments of the storage account datasets: ARM answered 503 ServiceUnavailable: try later. The CO retries"
      )
      assert.strictEqual(yield* fake.count("roleAssignmentsAt"), 6)
    }))

  it.effect("an endpoint without the type (404 InvalidResourceType) cannot check: a Warning without a permission hint", () =>
    Effect.gen(function*() {
      const { exit, events } = yield* preflight((fake) =>
        fake.failNext(armError(404, "InvalidResourceType", "The resource type 'containers' could not be found"), { times: 2, operation: "containerExists" })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(events.length, 1)
      assert.include(events[0]?.note, "exists: ARM answered 404 InvalidResourceType: The resource type 'containers' could not be found; and")
      assert.notInclude(events[0]?.note, "Reader has it")
    }))

  it.effect("SubscriptionNotFound (a subscription the identity may not see) cannot check: a Warning with the Reader hint", () =>
    Effect.gen(function*() {
      const { exit, events } = yield* preflight((fake) =>
        fake.failNext(armError(404, "SubscriptionNotFound", "The subscription could not be found"), { times: 2, operation: "containerExists" })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(events.length, 1)
      assert.include(events[0]?.note, "ARM answered 404 SubscriptionNotFound: The subscription could not be found; the controller's identity needs")
      assert.include(events[0]?.note, "(Reader has it)")
    }))

  it.effect("a refusal's ARM message is bounded in the Event", () =>
    Effect.gen(function*() {
      const { exit, events } = yield* preflight((fake) =>
        fake.failNext(armError(403, "AuthorizationFailed", "x".repeat(70_000), "listRoleAssignments"), { operation: "roleAssignmentsAt" })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.isBelow(events[0]?.note.length ?? Number.POSITIVE_INFINITY, 1_000)
      assert.include(events[0]?.note, "(70000 characters)")
    }))

  it.effect("without a PVC there is no Event to record; the creation goes on all the same", () =>
    Effect.gen(function*() {
      const { exit, events } = yield* preflight(() => Effect.void, { refused: ["containerExists", "roleAssignmentsAt"] }, false)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(events, [])
    }))

  it.effect("a missing container is FAILED_PRECONDITION, gRPC code 9", () =>
    Effect.gen(function*() {
      const { exit } = yield* preflight((fake) => fake.removeContainer(blob.container.id.toUpperCase()))
      const failure = failureOf(exit)
      assert.strictEqual(failure?._tag, "FailedPrecondition")
      assert.strictEqual(grpcCodeOf.FailedPrecondition, 9)
    }))
})
