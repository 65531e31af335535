import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApi, type AmlFilesystemSpec } from "../../layers/azure/AmlfsApi.js"
import {
  AmlfsApiFake,
  armErrors,
  DEFAULT_CREATE_MILLIS,
  DEFAULT_DELETE_MILLIS,
  DEFAULT_EXPANSION_MILLIS,
  DEFAULT_ROLLBACK_MILLIS
} from "../../layers/azure/AmlfsApiFake.js"

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
        deletesByName: { nothing: 1, "pvc-1": 2 },
        expansionPutsByFilesystem: {}
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

  describe("expansion jobs in virtual time", () => {
    const seeded = (options: Parameters<typeof AmlfsApiFake.layer>[0] = {}) =>
      AmlfsApiFake.layer({
        expansionDurationMillis: DEFAULT_EXPANSION_MILLIS,
        rollbackDurationMillis: DEFAULT_ROLLBACK_MILLIS,
        filesystems: [{ resourceGroup: "rg", name: "pvc-1", spec: { storageCapacityTiB: 16 } }],
        ...options
      })
    /** storageCapacityTiB, currentStorageCapacityTiB and health of pvc-1. */
    const capacity = Effect.gen(function*() {
      const fs = Option.getOrThrow(yield* (yield* AmlfsApi).get("rg", "pvc-1"))
      return [fs.storageCapacityTiB, fs.currentStorageCapacityTiB, fs.health?.state]
    })
    const job = (name: string) => AmlfsApi.use((api) => Effect.map(api.getExpansionJob("rg", "pvc-1", name), Option.getOrThrow))

    it.effect("InProgress for expansionDurationMillis (Expanding), then Completed with the new capacity; the same job joins, another is 409", () =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const fake = yield* AmlfsApiFake
        assert.isTrue(Option.isNone(yield* api.getExpansionJob("rg", "pvc-1", "grow-32")))
        yield* api.beginExpansion("rg", "pvc-1", "grow-32", 32, "eastus")
        assert.deepStrictEqual(yield* capacity, [16, 16, "Expanding"])
        yield* TestClock.adjust(DEFAULT_EXPANSION_MILLIS / 2)
        assert.include(yield* job("grow-32"), { status: "InProgress", percentComplete: 50, provisioningState: "Creating" })
        yield* api.beginExpansion("rg", "PVC-1", "GROW-32", 32, "East US")
        const busy = yield* failureOf(api.beginExpansion("rg", "pvc-1", "grow-48", 48, "eastus"))
        assert.deepStrictEqual([busy?.statusCode, busy?.code], [409, "Conflict"])
        yield* TestClock.adjust(DEFAULT_EXPANSION_MILLIS / 2 - 1)
        assert.strictEqual((yield* job("grow-32")).status, "InProgress")
        yield* TestClock.adjust(1)
        const done = yield* job("grow-32")
        assert.include(done, { status: "Completed", percentComplete: 100, provisioningState: "Succeeded" })
        assert.strictEqual(done.completionTime?.getTime(), DEFAULT_EXPANSION_MILLIS)
        assert.deepStrictEqual(yield* capacity, [16, 32, "Available"])
        // Done: the same PUT is a no-op, a next expansion starts from 32.
        yield* api.beginExpansion("rg", "pvc-1", "grow-32", 32, "eastus")
        const notGreater = yield* failureOf(api.beginExpansion("rg", "pvc-1", "grow-again", 32, "eastus"))
        assert.deepStrictEqual([notGreater?.statusCode, notGreater?.code], [400, "InvalidParameter"])
        assert.include(notGreater?.message ?? "", "current storage capacity of the AML file system, 32 TiB")
        yield* api.beginExpansion("rg", "pvc-1", "grow-48", 48, "eastus")
        assert.deepStrictEqual((yield* api.listExpansionJobs("rg", "pvc-1")).map((j) => [j.name, j.status]), [
          ["grow-32", "Completed"],
          ["grow-48", "InProgress"]
        ])
        assert.deepStrictEqual((yield* fake.counters).expansionPutsByFilesystem, { "pvc-1": 5, "PVC-1": 1 })
        assert.strictEqual(yield* fake.count("beginExpansion", "pvc-1"), 6)
      }).pipe(Effect.provide(seeded())))

    it.effect("scripted failure and rollback: Failed with the reason; RollingBack for rollbackDurationMillis, then Failed; capacity unchanged", () =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const fake = yield* AmlfsApiFake
        yield* fake.failNextExpansion({ code: "InsufficientCapacity", message: "Not enough capacity in the region." })
        yield* fake.rollBackNextExpansion()
        yield* api.beginExpansion("rg", "pvc-1", "a", 32, "eastus")
        yield* TestClock.adjust(DEFAULT_EXPANSION_MILLIS)
        assert.include(yield* job("a"), {
          status: "Failed",
          statusCode: "InsufficientCapacity",
          statusMessage: "Not enough capacity in the region.",
          provisioningState: "Failed"
        })
        assert.deepStrictEqual(yield* capacity, [16, 16, "Available"])

        yield* api.beginExpansion("rg", "pvc-1", "b", 32, "eastus")
        yield* TestClock.adjust(DEFAULT_EXPANSION_MILLIS)
        assert.include(yield* job("b"), { status: "RollingBack", statusCode: "ExpansionRolledBack" })
        assert.deepStrictEqual(yield* capacity, [16, 16, "Expanding"])
        const busy = yield* failureOf(api.beginExpansion("rg", "pvc-1", "c", 32, "eastus"))
        assert.strictEqual(busy?.statusCode, 409)
        yield* TestClock.adjust(DEFAULT_ROLLBACK_MILLIS)
        const rolledBack = yield* job("b")
        assert.include(rolledBack, { status: "Failed", statusCode: "ExpansionRolledBack" })
        assert.include(rolledBack.statusMessage ?? "", "rolled back")
        assert.deepStrictEqual(yield* capacity, [16, 16, "Available"])

        // The queue is used up: the next one completes.
        yield* api.beginExpansion("rg", "pvc-1", "c", 32, "eastus")
        yield* TestClock.adjust(DEFAULT_EXPANSION_MILLIS)
        assert.deepStrictEqual(yield* capacity, [16, 32, "Available"])
      }).pipe(Effect.provide(seeded())))

    it.effect("validation and preconditions: step, maximum, location, changed capacity, no filesystem, not Succeeded, scripted ArmErrors", () =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const fake = yield* AmlfsApiFake
        for (const [capacityTiB, location, code, text] of [
          [40, "eastus", "InvalidParameter", "multiple of the SKU step size, 16 TiB"],
          [144, "eastus", "InvalidParameter", "maximum of 128 TiB"],
          [16, "eastus", "InvalidParameter", "greater than the current storage capacity"],
          [32, "westus", "InvalidParameter", "location"]
        ] as const) {
          const refused = yield* failureOf(api.beginExpansion("rg", "pvc-1", "grow", capacityTiB, location))
          assert.deepStrictEqual([refused?.statusCode, refused?.code], [400, code])
          assert.include(refused?.message ?? "", text)
        }
        yield* api.beginExpansion("rg", "pvc-1", "grow", 32, "eastus")
        const changed = yield* failureOf(api.beginExpansion("rg", "pvc-1", "grow", 48, "eastus"))
        assert.deepStrictEqual([changed?.statusCode, changed?.code], [400, "PropertyChangeNotAllowed"])
        const orphan = yield* failureOf(api.beginExpansion("rg", "nothing", "grow", 32, "eastus"))
        assert.deepStrictEqual([orphan?.statusCode, orphan?.code], [404, "ParentResourceNotFound"])
        assert.isTrue(Option.isNone(yield* api.getExpansionJob("rg", "nothing", "grow")))
        const creating = yield* failureOf(api.beginExpansion("rg", "pvc-new", "grow", 32, "eastus"))
        assert.deepStrictEqual([creating?.statusCode, creating?.code], [409, "Conflict"])
        yield* fake.failNext(armErrors.throttled(2_000), { operation: "beginExpansion" })
        const throttled = yield* failureOf(api.beginExpansion("rg", "pvc-1", "grow", 32, "eastus"))
        assert.deepStrictEqual([throttled?.statusCode, throttled?.retryAfterMillis], [429, 2_000])
        assert.deepStrictEqual((yield* fake.counters).expansionPutsByFilesystem, { "pvc-1": 7, nothing: 1, "pvc-new": 1 })
      }).pipe(Effect.provide(seeded({
        filesystems: [
          { resourceGroup: "rg", name: "pvc-1", spec: { storageCapacityTiB: 16 } },
          { resourceGroup: "rg", name: "pvc-new", state: "Creating" }
        ]
      }))))
  })
})
