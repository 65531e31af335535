/**
 * What only the fake has: its call log in virtual time, per-operation scripted failures, and
 * ARM's one-at-a-time handling of concurrent calls. How it answers as ARM (states, durations,
 * codes, counters) is the contract both models share: amlfsApi.contract.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, armErrors, DEFAULT_CREATE_MILLIS } from "../../layers/azure/AmlfsApiFake.js"
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
