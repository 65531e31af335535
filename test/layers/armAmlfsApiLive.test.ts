import type { TokenCredential } from "@azure/core-auth"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import * as Net from "node:net"
import { type AmlFilesystemSpec, AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiLive, type AmlfsApiLiveOptions, retryAfterMillis } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator, type ArmEmulatorOptions } from "../../layers/azure/ArmEmulator.js"

const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: "emulator-token", expiresOnTimestamp: Date.now() + 3_600_000 })
}

const subnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/amlfs"
const small = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/small"
const rg = "rg1"

const spec = (overrides: Partial<AmlFilesystemSpec> = {}): AmlFilesystemSpec => ({
  location: "eastus",
  skuName: "AMLFS-Durable-Premium-125",
  storageCapacityTiB: 16,
  filesystemSubnet: subnet,
  zones: ["2"],
  maintenanceWindow: { dayOfWeek: "Sunday", timeOfDayUTC: "03:00" },
  tags: { "k8s-azure-created-by": "azurelustre-csi" },
  identities: [],
  ...overrides
})

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
  it.live("beginCreate returns once ARM accepted; get polls to Succeeded with the MGS address; beginDelete then 404", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        assert.isTrue(Option.isNone(yield* api.get(rg, "fs1")))
        const started = Date.now()
        yield* api.beginCreate(rg, "fs1", spec())
        assert.isBelow(Date.now() - started, 400, "beginCreate must not wait for the operation")
        const creating = yield* api.get(rg, "fs1")
        assert.strictEqual(Option.getOrUndefined(creating)?.provisioningState, "Creating")
        assert.isUndefined(Option.getOrUndefined(creating)?.mgsAddress)

        const done = Option.getOrThrow(yield* pollUntil("fs1", (s) => s === "Succeeded"))
        assert.deepStrictEqual({ ...done, createdAt: undefined }, {
          name: "fs1",
          resourceGroup: rg,
          location: "eastus",
          tags: { "k8s-azure-created-by": "azurelustre-csi" },
          skuName: "AMLFS-Durable-Premium-125",
          zones: ["2"],
          storageCapacityTiB: 16,
          currentStorageCapacityTiB: 16,
          provisioningState: "Succeeded",
          health: { state: "Available", description: "amlFilesystem is ok." },
          mgsAddress: "10.0.0.4",
          filesystemSubnet: subnet,
          createdAt: undefined
        })
        assert.instanceOf(done.createdAt, Date)

        // A retried CreateVolume: the same PUT on a Succeeded filesystem is accepted (200).
        yield* api.beginCreate(rg, "fs1", spec())
        yield* api.beginDelete(rg, "fs1")
        yield* pollUntil("fs1", (s) => s === undefined)
        yield* api.beginDelete(rg, "fs1")
        const counters = yield* emulator.counters
        assert.deepStrictEqual(counters.putsByName, { fs1: 2 })
        assert.deepStrictEqual(counters.deletesByName, { fs1: 2 })
        // No poll of the operation URLs: the driver polls with get.
        assert.isFalse(counters.requests.some((r) => r.path.includes("ascOperations")))
      })
    ))

  it.live("a second PUT while Creating is 409 Conflict; failed creations read Failed with ARM's description", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.faults.failNextCreate()
        yield* api.beginCreate(rg, "bad", spec())
        const conflict = yield* Effect.flip(api.beginCreate(rg, "bad", spec()))
        assert.strictEqual(conflict._tag, "ArmError")
        assert.include(conflict, { operation: "createAmlFilesystem", statusCode: 409, code: "Conflict" })
        assert.isFalse(conflict.retryable)
        const failed = Option.getOrThrow(yield* pollUntil("bad", (s) => s === "Failed"))
        assert.deepStrictEqual(failed.health, {
          state: "Unavailable",
          description: "An internal execution error occurred. Please retry later."
        })
        assert.deepStrictEqual((yield* emulator.counters).putsByName, { bad: 2 })
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

  it.live("SKUs of a location (increment, maximum, zones), subnet size and subnet checks", () =>
    withEmulator(() =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const eastus = yield* api.listSkus("eastus")
        assert.deepStrictEqual(eastus.map((s) => [s.name, s.incrementTiB, s.maximumTiB]), [
          ["AMLFS-Durable-Premium-40", 48, 768],
          ["AMLFS-Durable-Premium-125", 16, 128],
          ["AMLFS-Durable-Premium-250", 8, 128],
          ["AMLFS-Durable-Premium-500", 4, 128]
        ])
        assert.deepStrictEqual(eastus[0]?.zones, ["1", "2", "3"])
        const westus = yield* api.listSkus("West US")
        assert.deepStrictEqual(westus.map((s) => s.zones), [[], [], [], []])
        assert.deepStrictEqual(yield* api.listSkus("northeurope"), [])

        assert.strictEqual(yield* api.requiredSubnetSize("AMLFS-Durable-Premium-125", 16), 10)
        yield* api.checkSubnet(subnet, "AMLFS-Durable-Premium-125", 128, "eastus")
        yield* api.checkSubnet(small, "AMLFS-Durable-Premium-125", 16, "eastus")
        const refused = yield* Effect.flip(api.checkSubnet(small, "AMLFS-Durable-Premium-125", 48, "eastus"))
        assert.strictEqual(refused._tag, "SubnetRefused")
        assert.include(refused, { subnetId: small })
        assert.include(refused.message, "14 are required, 12 are available")
        const badSku = yield* Effect.flip(api.requiredSubnetSize("AMLFS-Nope", 16))
        assert.include(badSku, { _tag: "ArmError", statusCode: 400 })
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
  it.live("an expansion runs (health Expanding), then currentStorageCapacityTiB grows; the same job again joins it", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const before = Option.getOrThrow(yield* api.get(rg, "big"))
        assert.deepStrictEqual([before.storageCapacityTiB, before.currentStorageCapacityTiB, before.health?.state], [16, 16, "Available"])
        assert.isTrue(Option.isNone(yield* api.getExpansionJob(rg, "big", "grow-32")))

        const started = Date.now()
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        assert.isBelow(Date.now() - started, 300, "beginExpansion must not wait for the job")
        const running = Option.getOrThrow(yield* api.getExpansionJob(rg, "big", "grow-32"))
        assert.include(running, { name: "grow-32", newStorageCapacityTiB: 32, status: "InProgress", provisioningState: "Creating" })
        assert.instanceOf(running.startTime, Date)
        assert.isUndefined(running.completionTime)
        const expanding = Option.getOrThrow(yield* api.get(rg, "big"))
        assert.deepStrictEqual([expanding.storageCapacityTiB, expanding.currentStorageCapacityTiB, expanding.health?.state], [16, 16, "Expanding"])

        // A retried or concurrent call with the same name joins the running job (200, no second job).
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "East US")
        // Another job while one runs: 409, retry later.
        const busy = yield* Effect.flip(api.beginExpansion(rg, "big", "grow-48", 48, "eastus"))
        assert.include(busy, { operation: "createExpansionJob", statusCode: 409, code: "Conflict" })
        assert.include(busy.message, "grow-32")

        const done = Option.getOrThrow(yield* pollJob("big", "grow-32", (s) => s === "Completed"))
        assert.include(done, { status: "Completed", percentComplete: 100, provisioningState: "Succeeded" })
        assert.instanceOf(done.completionTime, Date)
        const after = Option.getOrThrow(yield* api.get(rg, "big"))
        assert.deepStrictEqual([after.storageCapacityTiB, after.currentStorageCapacityTiB, after.health?.state], [16, 32, "Available"])
        // Nothing else about the cluster changed.
        assert.deepStrictEqual(
          { ...after, currentStorageCapacityTiB: 0, health: undefined },
          { ...before, currentStorageCapacityTiB: 0, health: undefined }
        )

        // The same PUT once done is still 200 and starts nothing.
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        const listed = yield* api.listExpansionJobs(rg, "big")
        assert.deepStrictEqual(listed.map((j) => [j.name, j.status, j.newStorageCapacityTiB]), [["grow-32", "Completed", 32]])
        const counters = yield* emulator.counters
        assert.deepStrictEqual(counters.expansionPutsByFilesystem, { big: 4 })
        assert.deepStrictEqual(counters.expansionsStartedByFilesystem, { big: 1 })
        assert.deepStrictEqual(
          counters.requests.filter((r) => r.path.includes("expansionJobs") && r.statusCode !== 200 && r.statusCode !== 404).map((r) => r.statusCode),
          [201, 409]
        )
      }), expansionEmulator))

  it.live("a failed expansion: status Failed with ARM's reason, capacity unchanged, health back to Available", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.faults.failNextExpansion({ code: "InsufficientCapacity", message: "Not enough storage capacity in the region to expand." })
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        const failed = Option.getOrThrow(yield* pollJob("big", "grow-32", (s) => s === "Failed"))
        assert.include(failed, {
          status: "Failed",
          statusCode: "InsufficientCapacity",
          statusMessage: "Not enough storage capacity in the region to expand.",
          provisioningState: "Failed"
        })
        const fs = Option.getOrThrow(yield* api.get(rg, "big"))
        assert.deepStrictEqual([fs.currentStorageCapacityTiB, fs.health?.state], [16, "Available"])
        // The failed job stays; its name again is a no-op (200), a new name starts a new attempt.
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        assert.strictEqual(Option.getOrThrow(yield* api.getExpansionJob(rg, "big", "grow-32")).status, "Failed")
        yield* api.beginExpansion(rg, "big", "grow-32-retry", 32, "eastus")
        assert.deepStrictEqual((yield* emulator.counters).expansionsStartedByFilesystem, { big: 2 })
      }), expansionEmulator))

  it.live("a rolled-back expansion: RollingBack (health Expanding), then Failed; the capacity never changed", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.faults.rollBackNextExpansion()
        yield* api.beginExpansion(rg, "big", "grow-64", 64, "eastus")
        const rolling = Option.getOrThrow(yield* pollJob("big", "grow-64", (s) => s !== "InProgress"))
        assert.include(rolling, { status: "RollingBack", statusCode: "ExpansionRolledBack" })
        const during = Option.getOrThrow(yield* api.get(rg, "big"))
        assert.deepStrictEqual([during.currentStorageCapacityTiB, during.health?.state], [16, "Expanding"])
        // Still running: another job is refused.
        const busy = yield* Effect.flip(api.beginExpansion(rg, "big", "other", 32, "eastus"))
        assert.include(busy, { statusCode: 409 })
        const failed = Option.getOrThrow(yield* pollJob("big", "grow-64", (s) => s === "Failed"))
        assert.include(failed, { status: "Failed", statusCode: "ExpansionRolledBack" })
        assert.include(failed.statusMessage ?? "", "rolled back")
        const after = Option.getOrThrow(yield* api.get(rg, "big"))
        assert.deepStrictEqual([after.storageCapacityTiB, after.currentStorageCapacityTiB, after.health?.state], [16, 16, "Available"])
      }), expansionEmulator))

  it.live("validation: not a multiple of the SKU step, not above the current capacity, above the maximum, another capacity for a job, no filesystem", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const step = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 40, "eastus"))
        assert.include(step, { statusCode: 400, code: "InvalidParameter" })
        assert.include(step.message, "multiple of the SKU step size, 16 TiB")
        assert.isFalse(step.retryable)
        const notGreater = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 16, "eastus"))
        assert.include(notGreater, { statusCode: 400, code: "InvalidParameter" })
        assert.include(notGreater.message, "greater than the current storage capacity of the AML file system, 16 TiB")
        const tooBig = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 144, "eastus"))
        assert.include(tooBig, { statusCode: 400, code: "InvalidParameter" })
        assert.include(tooBig.message, "maximum of 128 TiB")
        const elsewhere = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 32, "westus"))
        assert.include(elsewhere, { statusCode: 400, code: "InvalidParameter" })

        yield* api.beginExpansion(rg, "big", "grow", 32, "eastus")
        const changed = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 48, "eastus"))
        assert.include(changed, { statusCode: 400, code: "PropertyChangeNotAllowed" })

        assert.isTrue(Option.isNone(yield* api.getExpansionJob(rg, "nothing", "grow")))
        const orphan = yield* Effect.flip(api.beginExpansion(rg, "nothing", "grow", 32, "eastus"))
        assert.include(orphan, { statusCode: 404, code: "ParentResourceNotFound" })
        const noList = yield* Effect.flip(api.listExpansionJobs(rg, "nothing"))
        assert.include(noList, { statusCode: 404 })
        assert.deepStrictEqual((yield* emulator.counters).expansionsStartedByFilesystem, { big: 1 })
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
      assert.include(older.refused, { statusCode: 400, code: "NoRegisteredProviderFound" })
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
})
