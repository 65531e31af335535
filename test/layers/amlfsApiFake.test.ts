import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApi, type AmlFilesystemSpec } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, armErrors, DEFAULT_CREATE_MILLIS, DEFAULT_DELETE_MILLIS } from "../../layers/azure/AmlfsApiFake.js"

const subnet = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/amlfs"

const spec: AmlFilesystemSpec = {
  location: "eastus",
  skuName: "AMLFS-Durable-Premium-125",
  storageCapacityTiB: 16,
  filesystemSubnet: subnet,
  zones: ["1"],
  maintenanceWindow: { dayOfWeek: "Saturday", timeOfDayUTC: "22:00" },
  tags: { "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver" },
  identities: []
}

/** provisioningState and mgsAddress of a filesystem, or "absent". */
const look = (name: string, resourceGroup = "rg") =>
  Effect.gen(function*() {
    const found = yield* (yield* AmlfsApi).get(resourceGroup, name)
    return Option.match(found, {
      onNone: () => "absent",
      onSome: (fs) => `${fs.provisioningState} ${fs.mgsAddress ?? "-"}`
    })
  })

const failureOf = <A, E>(effect: Effect.Effect<A, E, AmlfsApi>) => Effect.map(Effect.result(effect), (r) => Result.isFailure(r) ? r.failure : undefined)

describe("AmlfsApiFake", () => {
  it.effect("a creation runs for createDurationMillis of virtual time, then the filesystem is Succeeded with an MGS address", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      yield* api.beginCreate("rg", "pvc-1", spec)
      assert.strictEqual(yield* look("pvc-1"), "Creating -")
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS - 1)
      assert.strictEqual(yield* look("pvc-1"), "Creating -")
      yield* TestClock.adjust(1)
      const fs = Option.getOrThrow(yield* api.get("RG", "PVC-1"))
      assert.deepStrictEqual(
        [fs.name, fs.resourceGroup, fs.provisioningState, fs.mgsAddress, fs.health?.state, fs.storageCapacityTiB, fs.zones, fs.createdAt?.getTime()],
        ["pvc-1", "rg", "Succeeded", "10.0.0.4", "Available", 16, ["1"], 0]
      )
      assert.deepStrictEqual(fs.tags, spec.tags)
      const fake = yield* AmlfsApiFake
      assert.deepStrictEqual(
        [yield* fake.count("beginCreate", "pvc-1"), yield* fake.count("get", "pvc-1"), yield* fake.count("beginDelete")],
        [1, 3, 0]
      )
      assert.deepStrictEqual((yield* Ref.get(fake.calls)).map((c) => c.atMillis), [0, 0, DEFAULT_CREATE_MILLIS - 1, DEFAULT_CREATE_MILLIS])
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("a PUT over a Creating filesystem is 409 Conflict; over a Succeeded one with the same spec it changes nothing", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      yield* api.beginCreate("rg", "pvc-1", spec)
      const conflict = yield* failureOf(api.beginCreate("rg", "pvc-1", spec))
      assert.deepStrictEqual([conflict?._tag, conflict?.statusCode, conflict?.code], ["ArmError", 409, "Conflict"])
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
      yield* api.beginCreate("rg", "pvc-1", { ...spec, tags: { ...spec.tags, team: "ml" } })
      assert.strictEqual(yield* look("pvc-1"), "Succeeded 10.0.0.4")
      assert.deepStrictEqual(Option.getOrThrow(yield* api.get("rg", "pvc-1")).tags.team, "ml")
      const resize = yield* failureOf(api.beginCreate("rg", "pvc-1", { ...spec, storageCapacityTiB: 32 }))
      assert.deepStrictEqual([resize?.statusCode, resize?.message], [
        409,
        "The AML file system 'pvc-1' exists with a different storageCapacityTiB, which cannot be updated."
      ])
      assert.strictEqual(yield* (yield* AmlfsApiFake).count("beginCreate", "pvc-1"), 4)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("concurrent PUTs of one name: exactly one is accepted", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const results = yield* Effect.all(
        Array.from({ length: 10 }, () => Effect.result(api.beginCreate("rg", "pvc-1", spec))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter(Result.isSuccess).length, 1)
      assert.strictEqual((yield* Ref.get((yield* AmlfsApiFake).filesystems)).size, 1)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("a scripted failed creation ends Failed; a new PUT starts another attempt with the same MGS address", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      yield* api.beginCreate("rg", "pvc-1", spec)
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
      const failed = Option.getOrThrow(yield* api.get("rg", "pvc-1"))
      assert.deepStrictEqual([failed.provisioningState, failed.mgsAddress, failed.health?.state], ["Failed", undefined, "Unavailable"])
      yield* api.beginCreate("rg", "pvc-1", spec)
      assert.strictEqual(yield* look("pvc-1"), "Creating -")
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
      assert.strictEqual(yield* look("pvc-1"), "Succeeded 10.0.0.4")
      assert.strictEqual(Option.getOrThrow(yield* api.get("rg", "pvc-1")).createdAt?.getTime(), 0)
    }).pipe(Effect.provide(AmlfsApiFake.layer({ failNextCreates: 1 }))))

  it.effect("a deletion runs for deleteDurationMillis, then the filesystem is gone; deleting an absent one succeeds", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* api.beginDelete("rg", "nothing")
      yield* api.beginCreate("rg", "pvc-1", spec)
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
      yield* api.beginDelete("rg", "pvc-1")
      assert.strictEqual(yield* look("pvc-1"), "Deleting -")
      const busy = yield* failureOf(api.beginCreate("rg", "pvc-1", spec))
      assert.strictEqual(busy?.statusCode, 409)
      yield* TestClock.adjust(DEFAULT_DELETE_MILLIS / 2)
      yield* api.beginDelete("rg", "pvc-1")
      yield* TestClock.adjust(DEFAULT_DELETE_MILLIS / 2)
      assert.strictEqual(yield* look("pvc-1"), "absent")
      assert.strictEqual((yield* Ref.get(fake.filesystems)).size, 0)
      assert.strictEqual(yield* fake.count("beginDelete", "pvc-1"), 2)
      assert.strictEqual(yield* fake.stateOf("rg", "pvc-1"), "Gone")
      assert.deepStrictEqual(yield* fake.counters, {
        putsByName: { "pvc-1": 2 },
        getsByName: { "pvc-1": 2 },
        deletesByName: { nothing: 1, "pvc-1": 2 }
      })
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("deleting a Creating filesystem cancels the creation", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      yield* api.beginCreate("rg", "pvc-1", spec)
      yield* TestClock.adjust(1000)
      yield* api.beginDelete("rg", "pvc-1")
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
      assert.strictEqual(yield* look("pvc-1"), "absent")
    }).pipe(Effect.provide(AmlfsApiFake.layer({ deleteDurationMillis: 60_000 }))))

  it.effect("scripted faults: the next N calls of an operation fail with the given ArmError", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.throttled(5000), { times: 2, operation: "get" })
      yield* fake.failNext(armErrors.forbidden())
      const first = yield* failureOf(api.get("rg", "pvc-1"))
      assert.deepStrictEqual([first?.statusCode, first?._tag === "ArmError" && first.retryAfterMillis, first?._tag === "ArmError" && first.retryable], [429, 5000, true])
      const second = yield* failureOf(api.listSkus("eastus"))
      assert.deepStrictEqual([second?.statusCode, second?.code, second?._tag === "ArmError" && second.retryable], [403, "AuthorizationFailed", false])
      assert.strictEqual((yield* failureOf(api.get("rg", "pvc-1")))?.statusCode, 429)
      assert.strictEqual(yield* look("pvc-1"), "absent")
      yield* fake.failNext(armErrors.unavailable(), { operation: "beginCreate" })
      const unavailable = yield* failureOf(api.beginCreate("rg", "pvc-1", spec))
      assert.deepStrictEqual([unavailable?.statusCode, yield* look("pvc-1")], [503, "absent"])
      assert.strictEqual(yield* fake.count("get"), 4)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("quota: one filesystem more than the quota is 409 with ARM's quota message", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      yield* api.beginCreate("rg", "pvc-1", spec)
      const refused = yield* failureOf(api.beginCreate("rg", "pvc-2", spec))
      assert.deepStrictEqual([refused?.statusCode, refused?.code], [409, "QuotaExceeded"])
      assert.include(refused?.message ?? "", "Operation results in exceeding quota limits of resource type AmlFilesystem")
      yield* api.beginDelete("rg", "pvc-1")
      yield* TestClock.adjust(DEFAULT_DELETE_MILLIS)
      yield* api.beginCreate("rg", "pvc-2", spec)
      assert.strictEqual(yield* look("pvc-2"), "Creating -")
    }).pipe(Effect.provide(AmlfsApiFake.layer({ filesystemQuota: 1 }))))

  it.effect("subnets: a filesystem takes its addresses; checkSubnet refuses one that needs more than are free", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      assert.strictEqual(yield* api.requiredSubnetSize("AMLFS-Durable-Premium-125", 16), 10)
      assert.strictEqual(yield* api.requiredSubnetSize("AMLFS-Durable-Premium-125", 32), 12)
      yield* api.checkSubnet(subnet, "AMLFS-Durable-Premium-125", 16, "eastus")
      yield* api.beginCreate("rg", "pvc-1", spec)
      yield* api.checkSubnet(subnet, "AMLFS-Durable-Premium-125", 16, "eastus")
      const refused = yield* failureOf(api.checkSubnet(subnet, "AMLFS-Durable-Premium-125", 32, "eastus"))
      assert.strictEqual(refused?._tag, "SubnetRefused")
      assert.include(refused?.message ?? "", "12 are required, 10 are available")
      yield* api.checkSubnet(subnet.replace("amlfs", "other"), "AMLFS-Durable-Premium-125", 32, "eastus")
      const unknownSku = yield* failureOf(api.requiredSubnetSize("nope", 16))
      assert.strictEqual(unknownSku?.statusCode, 400)
    }).pipe(Effect.provide(AmlfsApiFake.layer({ subnetFreeAddresses: { [subnet.toUpperCase()]: 20 } }))))

  it.effect("SKUs: the emulator's four, zonal in eastus, not in westus; a PUT outside them is 400", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const eastus = yield* api.listSkus("eastus")
      assert.deepStrictEqual(eastus.map((s) => [s.name, s.incrementTiB, s.maximumTiB, s.zones.join("")]), [
        ["AMLFS-Durable-Premium-40", 48, 768, "123"],
        ["AMLFS-Durable-Premium-125", 16, 128, "123"],
        ["AMLFS-Durable-Premium-250", 8, 128, "123"],
        ["AMLFS-Durable-Premium-500", 4, 128, "123"]
      ])
      assert.deepStrictEqual((yield* api.listSkus("westus")).map((s) => s.zones.length), [0, 0, 0, 0])
      assert.deepStrictEqual(yield* api.listSkus("mars"), [])
      for (
        const bad of [
          { ...spec, storageCapacityTiB: 20 },
          { ...spec, storageCapacityTiB: 144 },
          { ...spec, skuName: "AMLFS-Durable-Premium-9" },
          { ...spec, location: "westus" },
          { ...spec, location: "mars" }
        ]
      ) {
        const refused = yield* failureOf(api.beginCreate("rg", "pvc-1", bad))
        assert.deepStrictEqual([refused?.statusCode, refused?.code], [400, "InvalidParameter"])
      }
      yield* api.beginCreate("rg", "pvc-1", { ...spec, location: "westus", zones: [] })
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("seeded filesystems: a creation already running when the test starts (a controller restart)", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* look("pvc-old"), "Creating -")
      assert.strictEqual(yield* look("static"), "Succeeded 10.0.1.4")
      yield* TestClock.adjust(30_000)
      assert.strictEqual(yield* look("pvc-old"), "Succeeded 10.0.0.4")
    }).pipe(Effect.provide(AmlfsApiFake.layer({
      createDurationMillis: 30_000,
      filesystems: [
        { resourceGroup: "rg", name: "pvc-old", state: "Creating", spec: { tags: spec.tags } },
        { resourceGroup: "rg", name: "static" }
      ]
    }))))
})
