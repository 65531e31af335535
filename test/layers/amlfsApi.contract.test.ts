/**
 * One contract, two ARM models. Every scenario here runs twice: against the deterministic fake
 * (AmlfsApiFake, virtual time) and against the live AmlfsApi (the real @azure/arm-storagecache
 * client over HTTPS) talking to the ARM emulator, whose clock the test moves. Both must answer
 * alike: same states, same ARM codes, same counts of requests, so a test written against the
 * fake means what it means against the emulator, and the two cannot drift apart.
 *
 * What only one model has (the fake's call log and scripted per-operation failures, the
 * emulator's wire shapes and SDK pollers) stays in amlfsApiFake.test.ts, armAmlfsApiLive.test.ts
 * and armEmulator.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Option, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApi, type ArmError, type SubnetRefused } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, armErrors } from "../../layers/azure/AmlfsApiFake.js"
import { AmlfsApiLive } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator } from "../../layers/azure/ArmEmulator.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { selfSignedCertificate } from "../../layers/azure/selfSignedCertificate.js"
import { emulatorClusterSpec, emulatorSmallSubnet, emulatorSubnet } from "../support/clusterFixtures.js"

const MINUTE = 60_000
/** The same durations in both models. */
const durations = { creation: 10 * MINUTE, deletion: 2 * MINUTE, expansion: 20 * MINUTE, rollback: 5 * MINUTE }

const subnet = emulatorSubnet
const small = emulatorSmallSubnet
const rg = "rg1"
const spec = emulatorClusterSpec

interface Counters {
  readonly putsByName: Readonly<Record<string, number>>
  readonly getsByName: Readonly<Record<string, number>>
  readonly deletesByName: Readonly<Record<string, number>>
  readonly expansionPutsByFilesystem: Readonly<Record<string, number>>
}

/** A filesystem that exists before the scenario's calls. */
interface Seed {
  readonly name: string
  readonly state?: "Succeeded" | "Failed" | "Creating" | "Deleting"
  readonly storageCapacityTiB?: number
  readonly tags?: Readonly<Record<string, string>>
}

/** What a scenario may do to ARM besides calling it: time, faults, seeds, counters. */
interface World {
  /** ARM's time now (ms). */
  readonly now: Effect.Effect<number>
  /** Lets `millis` of ARM's time pass. */
  readonly advance: (millis: number) => Effect.Effect<void>
  readonly seed: (seed: Seed) => Effect.Effect<void>
  readonly failNextCreate: (error: { code: string; message: string }) => Effect.Effect<void>
  readonly failNextExpansion: (error: { code: string; message: string }) => Effect.Effect<void>
  readonly rollBackNextExpansion: (error: { code: string; message: string }) => Effect.Effect<void>
  readonly quota: (max: number | undefined) => Effect.Effect<void>
  /** The next `count` requests answer 429 with Retry-After `seconds`. */
  readonly throttle: (count: number, seconds: number) => Effect.Effect<void>
  /** The next `count` requests answer 503. */
  readonly unavailable: (count: number) => Effect.Effect<void>
  /** The next request answers 403 AuthorizationFailed. */
  readonly forbidNext: Effect.Effect<void>
  readonly counters: Effect.Effect<Counters>
}

type Scenario = (world: World) => Effect.Effect<void, ArmError | SubnetRefused, AmlfsApi>

interface Model {
  readonly name: string
  readonly test: (title: string, scenario: Scenario) => void
}

const fakeModel: Model = {
  name: "AmlfsApiFake (virtual time)",
  test: (title, scenario) =>
    it.effect(title, () =>
      Effect.gen(function*() {
        const fake = yield* AmlfsApiFake
        const world: World = {
          now: Clock.currentTimeMillis,
          advance: (millis) => TestClock.adjust(Duration.millis(millis)),
          seed: (seed) =>
            fake.seed({
              resourceGroup: rg,
              name: seed.name,
              ...(seed.state === undefined ? {} : { state: seed.state }),
              spec: {
                ...(seed.storageCapacityTiB === undefined ? {} : { storageCapacityTiB: seed.storageCapacityTiB }),
                ...(seed.tags === undefined ? {} : { tags: seed.tags })
              }
            }),
          failNextCreate: (error) => fake.failNextCreate(error),
          failNextExpansion: (error) => fake.failNextExpansion(error),
          rollBackNextExpansion: (error) => fake.rollBackNextExpansion(error),
          quota: (max) => Ref.set(fake.filesystemQuota, max),
          throttle: (count, seconds) => fake.failNext(armErrors.throttled(seconds * 1000), { times: count }),
          unavailable: (count) => fake.failNext(armErrors.unavailable(), { times: count }),
          forbidNext: fake.failNext(armErrors.forbidden()),
          counters: Effect.map(fake.counters, ({ putsByName, getsByName, deletesByName, expansionPutsByFilesystem }) => ({
            putsByName,
            getsByName,
            deletesByName,
            expansionPutsByFilesystem
          }))
        }
        yield* scenario(world)
      }).pipe(Effect.provide(AmlfsApiFake.layer({
        createDurationMillis: durations.creation,
        deleteDurationMillis: durations.deletion,
        expansionDurationMillis: durations.expansion,
        rollbackDurationMillis: durations.rollback,
        subnetFreeAddresses: { [small]: 20 }
      }))))
}

/** One certificate for every emulator this file starts: openssl runs once. */
let certificate: Promise<{ certificatePem: string; keyPem: string }> | undefined
const sharedCertificate = Effect.promise(() => (certificate ??= Effect.runPromise(selfSignedCertificate())))

const liveModel: Model = {
  name: "AmlfsApiLive over HTTPS to the ARM emulator (its clock moved by the test)",
  test: (title, scenario) =>
    it.live(title, () =>
      Effect.scoped(Effect.gen(function*() {
        let now = Date.UTC(2026, 0, 1)
        const emulator = yield* ArmEmulator.start({
          certificate: yield* sharedCertificate,
          clock: () => now,
          creationDuration: Duration.millis(durations.creation),
          deletionDuration: Duration.millis(durations.deletion),
          expansionDuration: Duration.millis(durations.expansion),
          rollbackDuration: Duration.millis(durations.rollback),
          subnetFreeAddresses: { [small]: 20 }
        })
        const { faults } = emulator
        let forbidden = false
        const world: World = {
          now: Effect.sync(() => now),
          advance: (millis) => Effect.sync(() => void (now += millis)),
          seed: (seed) =>
            emulator.seed({
              resourceGroup: rg,
              name: seed.name,
              ...(seed.state === undefined ? {} : { provisioningState: seed.state }),
              ...(seed.storageCapacityTiB === undefined ? {} : { storageCapacityTiB: seed.storageCapacityTiB }),
              ...(seed.tags === undefined ? {} : { tags: seed.tags })
            }),
          failNextCreate: (error) => faults.failNextCreate(error),
          failNextExpansion: (error) => faults.failNextExpansion(error),
          rollBackNextExpansion: (error) => faults.rollBackNextExpansion(error),
          quota: (max) => faults.filesystemQuota(max),
          throttle: (count, seconds) => faults.throttle(count, seconds),
          unavailable: (count) => faults.serverErrors(count, 503),
          forbidNext: Effect.sync(() => void (forbidden = true)).pipe(Effect.andThen(faults.forbidden(true))),
          counters: Effect.map(emulator.counters, ({ putsByName, getsByName, deletesByName, expansionPutsByFilesystem }) => ({
            putsByName,
            getsByName,
            deletesByName,
            expansionPutsByFilesystem
          }))
        }
        const api = AmlfsApiLive.layer({
          subscriptionId: emulator.subscriptionId,
          credential: staticCredential("contract"),
          endpoint: emulator.url,
          trustedCertificatePem: emulator.certificatePem
        })
        // The emulator's 403 is a switch: off again after the one request it is meant for.
        const oneForbidden = Layer.effect(
          AmlfsApi,
          Effect.map(Effect.service(AmlfsApi), (live) => {
            const after = <A, E>(call: Effect.Effect<A, E>) =>
              call.pipe(Effect.ensuring(forbidden ? Effect.andThen(faults.forbidden(false), Effect.sync(() => void (forbidden = false))) : Effect.void))
            return AmlfsApi.of({
              get: (...args) => after(live.get(...args)),
              beginCreate: (...args) => after(live.beginCreate(...args)),
              beginDelete: (...args) => after(live.beginDelete(...args)),
              getExpansionJob: (...args) => after(live.getExpansionJob(...args)),
              beginExpansion: (...args) => after(live.beginExpansion(...args)),
              listExpansionJobs: (...args) => after(live.listExpansionJobs(...args)),
              listSkus: (...args) => after(live.listSkus(...args)),
              requiredSubnetSize: (...args) => after(live.requiredSubnetSize(...args)),
              checkSubnet: (...args) => after(live.checkSubnet(...args)),
              beginImportJob: (...args) => after(live.beginImportJob(...args)),
              getImportJob: (...args) => after(live.getImportJob(...args)),
              listImportJobs: (...args) => after(live.listImportJobs(...args)),
              cancelImportJob: (...args) => after(live.cancelImportJob(...args)),
              beginAutoExportJob: (...args) => after(live.beginAutoExportJob(...args)),
              getAutoExportJob: (...args) => after(live.getAutoExportJob(...args)),
              listAutoExportJobs: (...args) => after(live.listAutoExportJobs(...args)),
              disableAutoExportJob: (...args) => after(live.disableAutoExportJob(...args)),
              beginAutoImportJob: (...args) => after(live.beginAutoImportJob(...args)),
              getAutoImportJob: (...args) => after(live.getAutoImportJob(...args)),
              listAutoImportJobs: (...args) => after(live.listAutoImportJobs(...args)),
              disableAutoImportJob: (...args) => after(live.disableAutoImportJob(...args)),
              archive: (...args) => after(live.archive(...args)),
              cancelArchive: (...args) => after(live.cancelArchive(...args))
            })
          })
        ).pipe(Layer.provide(api))
        yield* scenario(world).pipe(Effect.provide(oneForbidden))
      })))
}

// ---------------------------------------------------------------------------------------------
// The scenarios

const api = Effect.service(AmlfsApi)

/** The error a call failed with (the scenario fails if it succeeded). */
const failure = <A, E>(call: Effect.Effect<A, E, AmlfsApi>) =>
  Effect.flatMap(Effect.result(call), (result) =>
    Result.isFailure(result) ? Effect.succeed(result.failure) : Effect.die(new Error("the call succeeded")))

/** "<provisioningState> <mgsAddress or ->", or "absent". */
const look = (name: string) =>
  Effect.map(Effect.flatMap(api, (arm) => arm.get(rg, name)), (found) =>
    Option.match(found, { onNone: () => "absent", onSome: (fs) => `${fs.provisioningState} ${fs.mgsAddress ?? "-"}` }))

/** ArmError fields two models must agree on. */
const shape = (error: ArmError | SubnetRefused) =>
  error._tag === "ArmError"
    ? { _tag: error._tag, operation: error.operation, statusCode: error.statusCode, code: error.code, retryable: error.retryable }
    : { _tag: error._tag, subnetId: error.subnetId }

const scenarios: ReadonlyArray<readonly [string, Scenario]> = [
  [
    "a creation runs for its duration: Creating without an MGS, then Succeeded with ARM's fields; its operation reads Succeeded",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        assert.strictEqual(yield* look("fs1"), "absent")
        const startedAt = yield* world.now
        const operation = yield* arm.beginCreate(rg, "fs1", spec())
        assert.isTrue(Option.isSome(operation))
        const creating = Option.getOrThrow(yield* arm.get(rg, "fs1"))
        assert.deepStrictEqual([creating.provisioningState, creating.mgsAddress, creating.health], [
          "Creating",
          undefined,
          { state: "Transitioning", description: "amlFilesystem is transitioning." }
        ])
        assert.strictEqual((yield* Option.getOrThrow(operation).read).status, "InProgress")
        yield* world.advance(durations.creation - 1)
        assert.strictEqual(yield* look("fs1"), "Creating -")
        yield* world.advance(1)
        const done = Option.getOrThrow(yield* arm.get(rg, "FS1"))
        assert.deepStrictEqual({ ...done, createdAt: done.createdAt?.getTime() }, {
          name: "fs1",
          resourceGroup: rg,
          location: "eastus",
          tags: { "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver" },
          skuName: "AMLFS-Durable-Premium-125",
          zones: ["2"],
          storageCapacityTiB: 16,
          currentStorageCapacityTiB: 16,
          provisioningState: "Succeeded",
          health: { state: "Available", description: "amlFilesystem is ok." },
          mgsAddress: "10.0.0.4",
          filesystemSubnet: subnet,
          createdAt: startedAt,
          hsm: undefined
        })
        assert.deepStrictEqual(yield* Option.getOrThrow(operation).read, { status: "Succeeded", error: undefined })
        assert.deepStrictEqual(yield* world.counters, {
          putsByName: { fs1: 1 },
          getsByName: { fs1: 3, FS1: 1 },
          deletesByName: {},
          expansionPutsByFilesystem: {}
        })
      })
  ],
  [
    "a PUT over a Creating filesystem is 409 Conflict; over a Succeeded one it takes new tags and starts nothing; other immutable fields are 400",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* arm.beginCreate(rg, "fs1", spec())
        assert.deepStrictEqual(shape(yield* failure(arm.beginCreate(rg, "fs1", spec()))), {
          _tag: "ArmError",
          operation: "createAmlFilesystem",
          statusCode: 409,
          code: "Conflict",
          retryable: false
        })
        yield* world.advance(durations.creation)
        const again = yield* arm.beginCreate(rg, "fs1", spec({ tags: { team: "ml" } }))
        assert.isTrue(Option.isNone(again), "a PUT that changes only tags starts no operation")
        assert.deepStrictEqual(Option.getOrThrow(yield* arm.get(rg, "fs1")).tags, { team: "ml" })
        for (const changed of [{ storageCapacityTiB: 32 }, { zones: ["3"] }, { skuName: "AMLFS-Durable-Premium-250" }]) {
          const refused = yield* failure(arm.beginCreate(rg, "fs1", spec(changed)))
          assert.deepStrictEqual([refused._tag === "ArmError" && refused.statusCode, refused._tag === "ArmError" && refused.code], [
            400,
            "PropertyChangeNotAllowed"
          ])
        }
        assert.strictEqual(yield* look("fs1"), "Succeeded 10.0.0.4")
        assert.deepStrictEqual((yield* world.counters).putsByName, { fs1: 6 })
      })
  ],
  [
    "a failed creation: Failed without an MGS and without a health description; its operation says why; a new PUT tries again with the same MGS",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        const createdAt = yield* world.now
        yield* world.failNextCreate({ code: "CreateTimeout", message: "Amlfilesystem creation did not complete because an operation timed out." })
        const operation = Option.getOrThrow(yield* arm.beginCreate(rg, "bad", spec()))
        yield* world.advance(durations.creation)
        const failed = Option.getOrThrow(yield* arm.get(rg, "bad"))
        assert.deepStrictEqual([failed.provisioningState, failed.mgsAddress, failed.health], [
          "Failed",
          undefined,
          { state: "Unavailable", description: "" }
        ])
        assert.deepStrictEqual(yield* operation.read, {
          status: "Failed",
          error: { code: "CreateTimeout", message: "Amlfilesystem creation did not complete because an operation timed out." }
        })
        const retry = Option.getOrThrow(yield* arm.beginCreate(rg, "bad", spec()))
        assert.strictEqual(yield* look("bad"), "Creating -")
        yield* world.advance(durations.creation)
        assert.strictEqual(yield* look("bad"), "Succeeded 10.0.0.4")
        assert.strictEqual((yield* retry.read).status, "Succeeded")
        assert.strictEqual(Option.getOrThrow(yield* arm.get(rg, "bad")).createdAt?.getTime(), createdAt)
      })
  ],
  [
    "a deletion runs for its duration, then the filesystem is gone; a second DELETE changes nothing; deleting an absent one succeeds",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* arm.beginDelete(rg, "nothing")
        yield* arm.beginCreate(rg, "fs1", spec())
        yield* world.advance(durations.creation)
        yield* arm.beginDelete(rg, "fs1")
        assert.strictEqual(yield* look("fs1"), "Deleting 10.0.0.4")
        assert.strictEqual(shape(yield* failure(arm.beginCreate(rg, "fs1", spec()))).statusCode, 409)
        yield* world.advance(durations.deletion / 2)
        yield* arm.beginDelete(rg, "fs1")
        yield* world.advance(durations.deletion / 2 - 1)
        assert.strictEqual(yield* look("fs1"), "Deleting 10.0.0.4")
        yield* world.advance(1)
        assert.strictEqual(yield* look("fs1"), "absent")
        assert.deepStrictEqual(yield* world.counters, {
          putsByName: { fs1: 2 },
          getsByName: { fs1: 3 },
          deletesByName: { nothing: 1, fs1: 2 },
          expansionPutsByFilesystem: {}
        })
      })
  ],
  [
    "deleting a Creating filesystem cancels its creation (the operation reads Canceled), then the filesystem is gone",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        const operation = Option.getOrThrow(yield* arm.beginCreate(rg, "fs1", spec()))
        yield* world.advance(1_000)
        yield* arm.beginDelete(rg, "fs1")
        assert.deepStrictEqual(yield* operation.read, { status: "Canceled", error: undefined })
        assert.strictEqual(yield* look("fs1"), "Deleting -")
        yield* world.advance(durations.deletion)
        assert.strictEqual(yield* look("fs1"), "absent")
      })
  ],
  [
    "quota: one filesystem more than the quota is 409 QuotaExceeded with ARM's message; a deletion frees it",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.quota(1)
        yield* arm.beginCreate(rg, "fs1", spec())
        const refused = yield* failure(arm.beginCreate(rg, "fs2", spec()))
        assert.deepStrictEqual(shape(refused), { _tag: "ArmError", operation: "createAmlFilesystem", statusCode: 409, code: "QuotaExceeded", retryable: false })
        assert.strictEqual(
          refused.message,
          "Operation results in exceeding quota limits of resource type AmlFilesystem. Maximum allowed: 1, Current in use: 1, " +
            "Additional requested: 1. Please request a quota increase."
        )
        yield* arm.beginDelete(rg, "fs1")
        yield* world.advance(durations.deletion)
        yield* arm.beginCreate(rg, "fs2", spec())
        assert.strictEqual(yield* look("fs2"), "Creating -")
      })
  ],
  [
    "subnets: a filesystem takes its addresses; checkSubnet and a PUT refuse a subnet without room; an unknown SKU is 400 InvalidSku",
    () =>
      Effect.gen(function*() {
        const arm = yield* api
        assert.deepStrictEqual(
          [yield* arm.requiredSubnetSize("AMLFS-Durable-Premium-125", 16), yield* arm.requiredSubnetSize("AMLFS-Durable-Premium-125", 32)],
          [10, 12]
        )
        yield* arm.checkSubnet(small, "AMLFS-Durable-Premium-125", 16, "eastus")
        yield* arm.beginCreate(rg, "fs1", spec({ filesystemSubnet: small }))
        const refused = yield* failure(arm.checkSubnet(small, "AMLFS-Durable-Premium-125", 32, "eastus"))
        assert.deepStrictEqual(shape(refused), { _tag: "SubnetRefused", subnetId: small })
        assert.include(refused.message, "12 are required, 10 are available")
        const put = yield* failure(arm.beginCreate(rg, "fs2", spec({ filesystemSubnet: small, storageCapacityTiB: 32 })))
        assert.deepStrictEqual(shape(put), { _tag: "ArmError", operation: "createAmlFilesystem", statusCode: 400, code: "InvalidSubnet", retryable: false })
        assert.include(put.message, "12 are required, 10 are available")
        yield* arm.checkSubnet(subnet, "AMLFS-Durable-Premium-125", 128, "eastus")
        const unknownSku = yield* failure(arm.requiredSubnetSize("AMLFS-Nope", 16))
        assert.deepStrictEqual(shape(unknownSku), {
          _tag: "ArmError",
          operation: "getRequiredAmlFSSubnetsSize",
          statusCode: 400,
          code: "InvalidSku",
          retryable: false
        })
        const badCapacity = yield* failure(arm.checkSubnet(subnet, "AMLFS-Durable-Premium-125", 20, "eastus"))
        assert.deepStrictEqual(shape(badCapacity).statusCode, 400)
      })
  ],
  [
    "SKUs of a location: increments, maxima and zones; a PUT outside them is 400 with ARM's code for what is wrong",
    () =>
      Effect.gen(function*() {
        const arm = yield* api
        const eastus = yield* arm.listSkus("eastus")
        assert.deepStrictEqual(eastus.map((s) => [s.name, s.incrementTiB, s.maximumTiB, s.zones.join("")]), [
          ["AMLFS-Durable-Premium-40", 48, 768, "123"],
          ["AMLFS-Durable-Premium-125", 16, 128, "123"],
          ["AMLFS-Durable-Premium-250", 8, 128, "123"],
          ["AMLFS-Durable-Premium-500", 4, 128, "123"]
        ])
        assert.deepStrictEqual((yield* arm.listSkus("West US")).map((s) => s.zones.length), [0, 0, 0, 0])
        assert.deepStrictEqual(yield* arm.listSkus("northeurope"), [])
        for (
          const [bad, code] of [
            [{ storageCapacityTiB: 20 }, "InvalidParameter"],
            [{ storageCapacityTiB: 144 }, "InvalidParameter"],
            [{ skuName: "AMLFS-Durable-Premium-9" }, "InvalidSku"],
            [{ location: "westus" }, "InvalidAvailabilityZone"],
            [{ zones: ["7"] }, "InvalidAvailabilityZone"],
            [{ location: "mars" }, "LocationNotAvailableForResourceType"]
          ] as const
        ) {
          const refused = yield* failure(arm.beginCreate(rg, "fs1", spec(bad)))
          assert.deepStrictEqual([shape(refused).statusCode, shape(refused).code], [400, code], JSON.stringify(bad))
        }
        yield* arm.beginCreate(rg, "fs1", spec({ location: "westus", zones: [] }))
        assert.strictEqual(yield* look("fs1"), "Creating -")
      })
  ],
  [
    "faults: throttling with Retry-After, 503 and 403 answer one request each, as ArmErrors; nothing else changes",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.throttle(1, 3)
        const throttled = yield* failure(arm.get(rg, "fs1"))
        assert.deepStrictEqual(shape(throttled), { _tag: "ArmError", operation: "getAmlFilesystem", statusCode: 429, code: "TooManyRequests", retryable: true })
        assert.strictEqual(throttled._tag === "ArmError" && throttled.retryAfterMillis, 3_000)
        yield* world.unavailable(1)
        const unavailable = yield* failure(arm.beginCreate(rg, "fs1", spec()))
        assert.deepStrictEqual(shape(unavailable), {
          _tag: "ArmError",
          operation: "createAmlFilesystem",
          statusCode: 503,
          code: "ServiceUnavailable",
          retryable: true
        })
        yield* world.forbidNext
        const forbidden = yield* failure(arm.listSkus("eastus"))
        assert.deepStrictEqual(shape(forbidden), { _tag: "ArmError", operation: "listSkus", statusCode: 403, code: "AuthorizationFailed", retryable: false })
        assert.include(forbidden.message, "authorization to perform action")
        assert.strictEqual(yield* look("fs1"), "absent")
        // Requests a fault answered reach no filesystem: the emulator counts none of them.
        assert.deepStrictEqual(yield* world.counters, { putsByName: {}, getsByName: { fs1: 1 }, deletesByName: {}, expansionPutsByFilesystem: {} })
      })
  ],
  [
    "seeded filesystems: a creation already running (a controller restart) and a Succeeded one; MGS addresses in seeding order",
    (world) =>
      Effect.gen(function*() {
        yield* world.seed({ name: "pvc-old", state: "Creating", tags: { "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver" } })
        yield* world.seed({ name: "static" })
        yield* world.seed({ name: "broken", state: "Failed" })
        assert.deepStrictEqual([yield* look("pvc-old"), yield* look("static"), yield* look("broken")], [
          "Creating -",
          "Succeeded 10.0.1.4",
          "Failed -"
        ])
        const broken = Option.getOrThrow(yield* (yield* api).get(rg, "broken"))
        assert.deepStrictEqual(broken.health, { state: "Unavailable", description: "An internal execution error occurred. Please retry later." })
        yield* world.advance(durations.creation)
        assert.strictEqual(yield* look("pvc-old"), "Succeeded 10.0.0.4")
      })
  ],
  [
    "an expansion: InProgress (health Expanding) for its duration, then Completed with the new capacity; the same job joins, another is 409",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed({ name: "big", storageCapacityTiB: 16 })
        const capacity = Effect.map(arm.get(rg, "big"), (fs) => {
          const found = Option.getOrThrow(fs)
          return [found.storageCapacityTiB, found.currentStorageCapacityTiB, found.health?.state]
        })
        assert.isTrue(Option.isNone(yield* arm.getExpansionJob(rg, "big", "grow-32")))
        const startedAt = yield* world.now
        yield* arm.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        assert.deepStrictEqual(yield* capacity, [16, 16, "Expanding"])
        yield* world.advance(durations.expansion / 2)
        const running = Option.getOrThrow(yield* arm.getExpansionJob(rg, "big", "grow-32"))
        assert.deepStrictEqual(
          [running.status, running.percentComplete, running.provisioningState, running.startTime?.getTime(), running.completionTime],
          ["InProgress", 50, "Creating", startedAt, undefined]
        )
        yield* arm.beginExpansion(rg, "BIG", "GROW-32", 32, "East US")
        const busy = yield* failure(arm.beginExpansion(rg, "big", "grow-48", 48, "eastus"))
        assert.deepStrictEqual(shape(busy), { _tag: "ArmError", operation: "createExpansionJob", statusCode: 409, code: "Conflict", retryable: false })
        assert.include(busy.message, "grow-32")
        yield* world.advance(durations.expansion / 2)
        const done = Option.getOrThrow(yield* arm.getExpansionJob(rg, "big", "grow-32"))
        assert.deepStrictEqual(
          [done.status, done.percentComplete, done.provisioningState, done.completionTime?.getTime()],
          ["Completed", 100, "Succeeded", startedAt + durations.expansion]
        )
        assert.deepStrictEqual(yield* capacity, [16, 32, "Available"])
        yield* arm.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        const notGreater = yield* failure(arm.beginExpansion(rg, "big", "grow-again", 32, "eastus"))
        assert.deepStrictEqual([shape(notGreater).statusCode, shape(notGreater).code], [400, "InvalidParameter"])
        assert.include(notGreater.message, "current storage capacity of the AML file system, 32 TiB")
        yield* arm.beginExpansion(rg, "big", "grow-48", 48, "eastus")
        assert.deepStrictEqual((yield* arm.listExpansionJobs(rg, "big")).map((j) => [j.name, j.status, j.newStorageCapacityTiB]), [
          ["grow-32", "Completed", 32],
          ["grow-48", "InProgress", 48]
        ])
        assert.deepStrictEqual((yield* world.counters).expansionPutsByFilesystem, { big: 5, BIG: 1 })
      })
  ],
  [
    "a failed and a rolled-back expansion: Failed with ARM's reason; RollingBack (still Expanding, another job 409), then Failed; capacity unchanged",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed({ name: "big", storageCapacityTiB: 16 })
        const job = (name: string) => Effect.map(arm.getExpansionJob(rg, "big", `job-${name}`), Option.getOrThrow)
        const expand = (name: string) => arm.beginExpansion(rg, "big", `job-${name}`, 32, "eastus")
        const capacity = Effect.map(arm.get(rg, "big"), (fs) => [Option.getOrThrow(fs).currentStorageCapacityTiB, Option.getOrThrow(fs).health?.state])
        yield* world.failNextExpansion({ code: "InsufficientCapacity", message: "Not enough storage capacity in the region to expand." })
        yield* world.rollBackNextExpansion({ code: "ExpansionRolledBack", message: "The expansion could not be completed and was rolled back." })
        yield* expand("a")
        yield* world.advance(durations.expansion)
        assert.deepStrictEqual(
          [(yield* job("a")).status, (yield* job("a")).statusCode, (yield* job("a")).statusMessage, (yield* job("a")).provisioningState],
          ["Failed", "InsufficientCapacity", "Not enough storage capacity in the region to expand.", "Failed"]
        )
        assert.deepStrictEqual(yield* capacity, [16, "Available"])
        yield* expand("a")
        assert.strictEqual((yield* job("a")).status, "Failed", "the same PUT once the job failed starts nothing")

        yield* expand("b")
        yield* world.advance(durations.expansion)
        assert.deepStrictEqual([(yield* job("b")).status, (yield* job("b")).statusCode], ["RollingBack", "ExpansionRolledBack"])
        assert.deepStrictEqual(yield* capacity, [16, "Expanding"])
        assert.strictEqual(shape(yield* failure(expand("c"))).statusCode, 409)
        yield* world.advance(durations.rollback)
        const rolledBack = yield* job("b")
        assert.deepStrictEqual([rolledBack.status, rolledBack.statusCode], ["Failed", "ExpansionRolledBack"])
        assert.include(rolledBack.statusMessage ?? "", "rolled back")
        assert.deepStrictEqual(yield* capacity, [16, "Available"])

        yield* expand("c")
        yield* world.advance(durations.expansion)
        assert.deepStrictEqual(yield* capacity, [32, "Available"])
      })
  ],
  [
    "expansion refusals: the SKU's step and maximum, not above the current capacity, another location, another capacity for a job, no filesystem, not Succeeded",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed({ name: "big", storageCapacityTiB: 16 })
        yield* world.seed({ name: "young", state: "Creating" })
        for (
          const [tib, location, text] of [
            [40, "eastus", "multiple of the SKU step size, 16 TiB"],
            [144, "eastus", "maximum of 128 TiB"],
            [16, "eastus", "greater than the current storage capacity"],
            [32, "westus", "location"]
          ] as const
        ) {
          const refused = yield* failure(arm.beginExpansion(rg, "big", "grow", tib, location))
          assert.deepStrictEqual(shape(refused), { _tag: "ArmError", operation: "createExpansionJob", statusCode: 400, code: "InvalidParameter", retryable: false })
          assert.include(refused.message, text)
        }
        yield* arm.beginExpansion(rg, "big", "grow", 32, "eastus")
        const changed = yield* failure(arm.beginExpansion(rg, "big", "grow", 48, "eastus"))
        assert.deepStrictEqual([shape(changed).statusCode, shape(changed).code], [400, "PropertyChangeNotAllowed"])
        assert.isTrue(Option.isNone(yield* arm.getExpansionJob(rg, "nothing", "grow")))
        const orphan = yield* failure(arm.beginExpansion(rg, "nothing", "grow", 32, "eastus"))
        assert.deepStrictEqual([shape(orphan).statusCode, shape(orphan).code], [404, "ParentResourceNotFound"])
        const noList = yield* failure(arm.listExpansionJobs(rg, "nothing"))
        assert.deepStrictEqual([shape(noList).statusCode, shape(noList).code], [404, "ParentResourceNotFound"])
        const creating = yield* failure(arm.beginExpansion(rg, "young", "grow", 32, "eastus"))
        assert.deepStrictEqual([shape(creating).statusCode, shape(creating).code], [409, "Conflict"])
        for (const name of ["x", "-grow", "grow_", "g".repeat(81)]) {
          const refused = yield* failure(arm.beginExpansion(rg, "big", name, 48, "eastus"))
          assert.deepStrictEqual([shape(refused).statusCode, shape(refused).code], [400, "InvalidResourceName"], name)
          const filesystem = yield* failure(arm.beginCreate(rg, name, spec()))
          assert.deepStrictEqual([shape(filesystem).statusCode, shape(filesystem).code], [400, "InvalidResourceName"], name)
        }
        assert.deepStrictEqual((yield* world.counters).expansionPutsByFilesystem, { big: 10, nothing: 1, young: 1 })
      })
  ]
]

for (const model of [fakeModel, liveModel]) {
  describe(`AmlfsApi contract: ${model.name}`, () => {
    for (const [title, scenario] of scenarios) model.test(title, scenario)
  })
}
