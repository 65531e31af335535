/**
 * What only the fake has: its call log in virtual time, per-operation scripted failures, and
 * ARM's one-at-a-time handling of concurrent calls. How it answers as ARM (states, durations,
 * codes, counters) is the contract both models share: amlfsApi.contract.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApi, INITIAL_IMPORT_JOB_NAME } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, armErrors, DEFAULT_CREATE_MILLIS } from "../../layers/azure/AmlfsApiFake.js"
import { retainedJobs } from "../../layers/azure/hsmJobTimeline.js"
import { testClusterSpec as spec } from "../support/clusterFixtures.js"

const failureOf = <A, E>(effect: Effect.Effect<A, E, AmlfsApi>) =>
  Effect.map(Effect.result(effect), (r) => (Result.isFailure(r) ? r.failure : undefined))

describe("AmlfsApiFake", () => {
  it.effect("every call is logged with its virtual time; count() includes calls a script failed, the emulator-shaped counters do not", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* api.beginCreate("rg", "pvc-1", spec)
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS - 1)
      yield* api.get("rg", "pvc-1")
      yield* fake.failNext(armErrors.unavailable(), { operation: "get" })
      yield* TestClock.adjust(1)
      yield* Effect.flip(api.get("rg", "pvc-1"))
      assert.deepStrictEqual(
        (yield* Ref.get(fake.calls)).map((c) => [c.operation, c.name, c.atMillis, c.failedByScript ?? false]),
        [
          ["beginCreate", "pvc-1", 0, false],
          ["get", "pvc-1", DEFAULT_CREATE_MILLIS - 1, false],
          ["get", "pvc-1", DEFAULT_CREATE_MILLIS, true]
        ]
      )
      assert.deepStrictEqual([yield* fake.count("get", "PVC-1"), yield* fake.count("beginCreate")], [2, 1])
      assert.deepStrictEqual((yield* fake.counters).getsByName, { "pvc-1": 1 })
      assert.strictEqual(yield* fake.stateOf("rg", "pvc-1"), "Succeeded")
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("concurrent PUTs of one name: ARM handles them one at a time, so exactly one is accepted", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const results = yield* Effect.all(
        Array.from({ length: 10 }, () => Effect.result(api.beginCreate("rg", "pvc-1", spec))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter(Result.isSuccess).length, 1)
      assert.strictEqual((yield* Ref.get((yield* AmlfsApiFake).filesystems)).size, 1)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("scripted faults: the next N calls of one operation (or of any) fail with the given ArmError, named after the call", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.throttled(5000), { times: 2, operation: "get" })
      yield* fake.failNext(armErrors.forbidden())
      const first = yield* failureOf(api.get("rg", "pvc-1"))
      assert.deepStrictEqual(
        [first?.statusCode, first?._tag === "ArmError" && first.retryAfterMillis, first?._tag === "ArmError" && first.operation],
        [429, 5000, "getAmlFilesystem"]
      )
      const second = yield* failureOf(api.listSkus("eastus"))
      assert.deepStrictEqual([second?.statusCode, second?.code, second?._tag === "ArmError" && second.operation], [
        403,
        "AuthorizationFailed",
        "listSkus"
      ])
      assert.strictEqual((yield* failureOf(api.get("rg", "pvc-1")))?.statusCode, 429)
      yield* fake.failNext(armErrors.unavailable(), { operation: "beginExpansion" })
      yield* api.beginCreate("rg", "pvc-1", spec)
      assert.strictEqual((yield* failureOf(api.beginExpansion("rg", "pvc-1", "grow", 32, "eastus")))?.statusCode, 503)
      assert.strictEqual(yield* fake.count("get"), 2)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("failNextCreates: the errors the next creations end Failed with, in order (failNextCreate queues one)", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* fake.failNextCreate({ code: "Third", message: "third" })
      const reasons: Array<string | undefined> = []
      for (const name of ["pvc-1", "pvc-2", "pvc-3", "pvc-4"]) {
        const operation = yield* api.beginCreate("rg", name, spec)
        yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
        const status = yield* Option.getOrThrow(operation).read
        reasons.push(status.error?.code ?? status.status)
      }
      assert.deepStrictEqual(reasons, ["First", "Second", "Third", "Succeeded"])
    }).pipe(Effect.provide(AmlfsApiFake.layer({
      failNextCreates: [{ code: "First", message: "first" }, { code: "Second", message: "second" }]
    }))))
})

const blobAccount = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/account1"
const hsm = {
  container: `${blobAccount}/blobServices/default/containers/datasets`,
  loggingContainer: `${blobAccount}/blobServices/default/containers/logs`,
  importPrefixesInitial: []
}

describe("AmlfsApiFake blob integration", () => {
  it.effect("job calls are logged with their job; scripted failures aim at one job operation and are not counted as PUTs", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* fake.seed({ resourceGroup: "rg", name: "fs1", spec: { hsm } })
      yield* fake.failNext(armErrors.throttled(2000), { operation: "beginImportJob" })
      const throttled = yield* failureOf(api.beginImportJob("rg", "fs1", "import-1", { location: "eastus", importPrefixes: ["/"] }))
      assert.deepStrictEqual([throttled?.statusCode, throttled?._tag === "ArmError" && throttled.operation], [429, "createImportJob"])
      yield* api.beginImportJob("rg", "fs1", "import-1", { location: "eastus", importPrefixes: ["/"] })
      yield* api.archive("rg", "fs1", "/")
      yield* api.cancelImportJob("rg", "fs1", "import-1")
      assert.deepStrictEqual(
        (yield* Ref.get(fake.calls)).filter((c) => c.operation !== "get").map((c) => [c.operation, c.name, c.job, c.failedByScript ?? false]),
        [
          ["beginImportJob", "fs1", "import-1", true],
          ["beginImportJob", "fs1", "import-1", false],
          ["archive", "fs1", undefined, false],
          ["cancelImportJob", "fs1", "import-1", false]
        ]
      )
      const counters = yield* fake.counters
      assert.deepStrictEqual([counters.jobPutsByFilesystem, counters.archivesByFilesystem], [{ fs1: 1 }, { fs1: 1 }])
    }).pipe(Effect.provide(AmlfsApiFake.layer())))

  it.effect("the initial import exists only once the creation succeeded: a failed creation has none, its retry gets one", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      yield* fake.failNextCreate()
      yield* api.beginCreate("rg", "fs1", { ...spec, hsm })
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS)
      assert.deepStrictEqual(yield* api.listImportJobs("rg", "fs1"), [])
      yield* api.beginCreate("rg", "fs1", { ...spec, hsm })
      yield* TestClock.adjust(DEFAULT_CREATE_MILLIS - 1)
      assert.deepStrictEqual(yield* api.listImportJobs("rg", "fs1"), [])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual((yield* api.listImportJobs("rg", "fs1")).map((j) => [j.name, j.status.state, j.importPrefixes]), [
        [INITIAL_IMPORT_JOB_NAME, "InProgress", ["/"]]
      ])
      // Gone with its filesystem.
      yield* api.beginDelete("rg", "fs1")
      yield* TestClock.adjust(60 * 60_000)
      assert.deepStrictEqual((yield* failureOf(api.listImportJobs("rg", "fs1")))?.statusCode, 404)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))
})

describe("retainedJobs (ARM's job history)", () => {
  const Job = Schema.Struct({ startedAt: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000 })), endedAfter: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 500 })), running: Schema.Boolean })
  it.prop("keeps every running job and the most recent ended ones, at most 10 while any ended one is left", [Schema.Array(Job), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_000 }))], ([jobs, now]) => {
    const endedAt = (job: typeof Job.Type) => (job.running ? Number.POSITIVE_INFINITY : Math.min(now, job.startedAt + job.endedAfter))
    const kept = retainedJobs(jobs, now, endedAt, (job) => job.startedAt)
    const running = jobs.filter((job) => endedAt(job) > now)
    assert.isTrue(running.every((job) => kept.includes(job)), "a running job is never dropped")
    assert.isTrue(kept.length <= Math.max(10, running.length))
    const dropped = jobs.filter((job) => !kept.includes(job))
    const keptEnded = kept.filter((job) => endedAt(job) <= now)
    assert.isTrue(dropped.every((gone) => keptEnded.every((stays) => stays.startedAt >= gone.startedAt)), "the older ended jobs go first")
  })
})
