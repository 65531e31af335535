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
