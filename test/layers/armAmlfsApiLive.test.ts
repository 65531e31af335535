import type { TokenCredential } from "@azure/core-auth"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import * as Net from "node:net"
import { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiLive, type AmlfsApiLiveOptions, retryAfterMillis } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator, type ArmEmulatorOptions } from "../../layers/azure/ArmEmulator.js"
import { emulatorClusterSpec, emulatorSmallSubnet } from "../support/clusterFixtures.js"

const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: "emulator-token", expiresOnTimestamp: Date.now() + 3_600_000 })
}

const small = emulatorSmallSubnet
const rg = "rg1"
const spec = emulatorClusterSpec

/** An emulator and an AmlfsApiLive pointed at it, trusting its certificate. */
const withEmulator = <A, E>(
  program: (emulator: ArmEmulator) => Effect.Effect<A, E, AmlfsApi>,
  options: ArmEmulatorOptions = {},
  trustEmulator = true
) =>
  Effect.gen(function*() {
    const emulator = yield* ArmEmulator.start({
      creationDuration: "500 millis",
      deletionDuration: "200 millis",
      subnetFreeAddresses: { [small]: 12 },
      ...options
    })
    const live: AmlfsApiLiveOptions = { subscriptionId: emulator.subscriptionId, credential, endpoint: emulator.url }
    const layer = AmlfsApiLive.layer(trustEmulator ? { ...live, trustedCertificatePem: emulator.certificatePem } : live)
    return yield* program(emulator).pipe(Effect.provide(layer))
  })

const pollUntil = (name: string, done: (state: string | undefined) => boolean) =>
  Effect.gen(function*() {
    const api = yield* AmlfsApi
    return yield* api.get(rg, name).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })),
        until: (fs) => done(Option.getOrUndefined(fs)?.provisioningState)
      })
    )
  })

describe("AmlfsApiLive against the ARM emulator over HTTPS", () => {
  it.live("beginCreate returns once ARM accepted, with its Azure-AsyncOperation; nothing polls it but a read", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const operation = yield* api.beginCreate(rg, "fs1", spec())
        assert.isTrue(Option.isSome(operation))
        assert.isFalse((yield* emulator.counters).requests.some((r) => r.path.includes("ascOperations")))
        assert.strictEqual((yield* Option.getOrThrow(operation).read).status, "InProgress")
        yield* pollUntil("fs1", (s) => s === "Succeeded")
        // A retried CreateVolume: the same PUT on a Succeeded filesystem is accepted (200) and starts nothing.
        assert.isTrue(Option.isNone(yield* api.beginCreate(rg, "fs1", spec())))
        yield* api.beginDelete(rg, "fs1")
        yield* pollUntil("fs1", (s) => s === undefined)
        const operationReads = (yield* emulator.counters).requests.filter((r) => r.path.includes("ascOperations"))
        assert.deepStrictEqual(operationReads.map((r) => r.statusCode), [200])
      })
    ))

  it.live("quota, throttling (Retry-After), server errors and 403 are ArmErrors as ARM sent them, each one request", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.faults.filesystemQuota(0)
        const quota = yield* Effect.flip(api.beginCreate(rg, "qq", spec()))
        assert.include(quota, { statusCode: 409, code: "QuotaExceeded" })
        assert.include(quota.message, "exceeding quota limits")
        yield* emulator.faults.filesystemQuota(undefined)

        yield* emulator.faults.throttle(1, 3)
        const throttled = yield* Effect.flip(api.get(rg, "qq"))
        assert.include(throttled, { operation: "getAmlFilesystem", statusCode: 429, code: "TooManyRequests", retryAfterMillis: 3_000 })
        assert.isTrue(throttled.retryable)

        yield* emulator.faults.throttle(1, 2)
        const throttledPut = yield* Effect.flip(api.beginCreate(rg, "qq", spec()))
        assert.include(throttledPut, { statusCode: 429, retryAfterMillis: 2_000 })

        yield* emulator.faults.serverErrors(1, 503)
        const unavailable = yield* Effect.flip(api.listSkus("eastus"))
        assert.include(unavailable, { operation: "listSkus", statusCode: 503, code: "ServiceUnavailable" })
        assert.isTrue(unavailable.retryable)

        yield* emulator.faults.forbidden(true)
        const forbidden = yield* Effect.flip(api.beginDelete(rg, "qq"))
        assert.include(forbidden, { statusCode: 403, code: "AuthorizationFailed" })
        assert.include(forbidden.message, "Microsoft.StorageCache/amlFilesystems/delete")
        yield* emulator.faults.forbidden(false)

        // The SDK did not retry behind our back: one request per call.
        const statuses = (yield* emulator.counters).requests.map((r) => r.statusCode)
        assert.deepStrictEqual(statuses, [409, 429, 429, 503, 403])
      })
    ))

  it.live("no answer (closed port) and an untrusted certificate are ArmErrors with status 0", () =>
    Effect.gen(function*() {
      const port = yield* Effect.callback<number>((resume) => {
        const server = Net.createServer()
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const closed = yield* AmlfsApi.use((api) => Effect.flip(api.get(rg, "x"))).pipe(
        Effect.provide(AmlfsApiLive.layer({ subscriptionId: "s", credential, endpoint: `https://127.0.0.1:${port}` }))
      )
      assert.include(closed, { statusCode: 0, code: "NoResponse" })
      assert.isTrue(closed.retryable)

      const untrusted = yield* withEmulator(() => AmlfsApi.use((api) => Effect.flip(api.get(rg, "x"))), {}, false)
      assert.include(untrusted, { statusCode: 0 })
      assert.match(untrusted.message, /certificate/i)
    }))

  it("Retry-After: seconds, HTTP date, milliseconds headers", () => {
    const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] })
    assert.strictEqual(retryAfterMillis(headers({ "retry-after": "5" })), 5_000)
    assert.strictEqual(retryAfterMillis(headers({ "retry-after": "Wed, 21 Oct 2015 07:28:10 GMT" }), Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")), 10_000)
    assert.strictEqual(retryAfterMillis(headers({ "retry-after-ms": "250", "retry-after": "5" })), 250)
    assert.strictEqual(retryAfterMillis(headers({ "retry-after": "soon" })), undefined)
    assert.strictEqual(retryAfterMillis(headers({})), undefined)
  })
})

/** Polls an expansion job until `done` holds for its status (or 50 polls). */
const pollJob = (filesystem: string, job: string, done: (status: string | undefined) => boolean) =>
  Effect.gen(function*() {
    const api = yield* AmlfsApi
    return yield* api.getExpansionJob(rg, filesystem, job).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 50 })),
        until: (found) => done(Option.getOrUndefined(found)?.status)
      })
    )
  })

const expansionEmulator: ArmEmulatorOptions = {
  expansionDuration: "400 millis",
  rollbackDuration: "300 millis",
  filesystems: [{ resourceGroup: rg, name: "big", storageCapacityTiB: 16, skuName: "AMLFS-Durable-Premium-125", location: "eastus" }]
}

describe("AmlfsApiLive expansion jobs against the ARM emulator (api-version 2026-01-01)", () => {
  it.live("beginExpansion returns once ARM accepted (201), the same job again is 200 and another 409: one job started", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        // It did not wait for the job: the job still runs.
        assert.notStrictEqual(Option.getOrUndefined(yield* api.getExpansionJob(rg, "big", "grow-32"))?.status, "Completed")
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "East US")
        yield* Effect.flip(api.beginExpansion(rg, "big", "grow-48", 48, "eastus"))
        const done = Option.getOrThrow(yield* pollJob("big", "grow-32", (s) => s === "Completed"))
        assert.instanceOf(done.completionTime, Date)
        const counters = yield* emulator.counters
        assert.deepStrictEqual(counters.expansionsStartedByFilesystem, { big: 1 })
        assert.deepStrictEqual(
          counters.requests.filter((r) => r.method === "PUT" && r.path.includes("expansionJobs")).map((r) => r.statusCode),
          [201, 200, 409]
        )
      }), expansionEmulator))

  it.live("an api-version without expansionJobs: 400 NoRegisteredProviderFound; get falls back to the client's own", () =>
    Effect.gen(function*() {
      const emulator = yield* ArmEmulator.start(expansionEmulator)
      const layerFor = (expansionApiVersion: string) =>
        AmlfsApiLive.layer({
          subscriptionId: emulator.subscriptionId,
          credential,
          endpoint: emulator.url,
          trustedCertificatePem: emulator.certificatePem,
          expansionApiVersion
        })
      const older = yield* AmlfsApi.use((api) =>
        Effect.gen(function*() {
          const refused = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 32, "eastus"))
          const fs = Option.getOrThrow(yield* api.get(rg, "big"))
          return { refused, fs }
        })
      ).pipe(Effect.provide(layerFor("2025-07-01")))
      assert.include(older.refused, { statusCode: 400, code: "NoRegisteredProviderFound", apiVersion: "2025-07-01" })
      assert.isTrue(older.refused.featureMissing)
      assert.include(older.refused.message, "amlFilesystems/expansionJobs")
      // 2025-07-01 knows amlFilesystems but not currentStorageCapacityTiB.
      assert.deepStrictEqual([older.fs.storageCapacityTiB, older.fs.currentStorageCapacityTiB], [16, undefined])

      // A cloud that refuses the version for amlFilesystems too: one refused GET, then the client's.
      const unknown = yield* AmlfsApi.use((api) =>
        Effect.gen(function*() {
          const first = Option.getOrThrow(yield* api.get(rg, "big"))
          const second = Option.getOrThrow(yield* api.get(rg, "big"))
          return [first.provisioningState, second.provisioningState, first.currentStorageCapacityTiB]
        })
      ).pipe(Effect.provide(layerFor("2020-01-01")))
      assert.deepStrictEqual(unknown, ["Succeeded", "Succeeded", undefined])
      const gets = (yield* emulator.counters).requests.filter((r) => r.method === "GET").map((r) => r.statusCode)
      assert.deepStrictEqual(gets, [200, 400, 200, 200])
    }))

  it.live("an ARM without a resource type: 404 InvalidResourceType or InvalidResourceNamespace is an ArmError naming the api-version, never 'not there'", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        // An ARM that lags behind (a sovereign cloud, Azure Stack, an older test server): no expansionJobs.
        yield* emulator.faults.latestApiVersion("2025-07-01")
        const job = yield* Effect.flip(api.getExpansionJob(rg, "big", "grow-32"))
        assert.include(job, { operation: "getExpansionJob", statusCode: 404, code: "InvalidResourceType", apiVersion: "2026-01-01" })
        assert.isTrue(job.featureMissing)
        assert.include((yield* Effect.flip(api.listExpansionJobs(rg, "big"))), { code: "InvalidResourceType" })
        // amlFilesystems is there at the client's own api-version: get falls back to it.
        assert.strictEqual(Option.getOrThrow(yield* api.get(rg, "big")).provisioningState, "Succeeded")

        // An ARM without Microsoft.StorageCache: a GET or DELETE must not take that for "already gone".
        yield* emulator.faults.storageCacheMissing(true)
        const read = yield* Effect.flip(api.get(rg, "big"))
        assert.include(read, { operation: "getAmlFilesystem", statusCode: 404, code: "InvalidResourceNamespace", apiVersion: "2023-05-01" })
        assert.isTrue(read.featureMissing)
        const deleted = yield* Effect.flip(api.beginDelete(rg, "big"))
        assert.include(deleted, { operation: "deleteAmlFilesystem", statusCode: 404, code: "InvalidResourceNamespace" })
        assert.isTrue(deleted.featureMissing)
        yield* emulator.faults.storageCacheMissing(false)
        assert.deepStrictEqual((yield* emulator.counters).deletesByName, {})
        assert.strictEqual(Option.getOrThrow(yield* api.get(rg, "big")).provisioningState, "Succeeded")
      }), expansionEmulator))
})
