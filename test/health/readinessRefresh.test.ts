import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { NotReady, Readiness, type ReadinessCheck } from "../../src/health/Readiness.js"

/** A check that counts its runs and passes while `passing()` says so. */
const countedCheck = (passing: () => boolean) => {
  const counted = { runs: 0 }
  const check: ReadinessCheck = {
    name: "counted",
    run: Effect.suspend(() => {
      counted.runs++
      return passing() ? Effect.void : Effect.fail(new NotReady({ reason: "not yet" }))
    })
  }
  return { check, counted }
}

// The refresher's fiber runs on the test's scheduler: let it take its turn after each clock move.
const settle = Effect.yieldNow.pipe(Effect.repeat({ times: 10 }))

describe("readiness refreshed on its own schedule", () => {
  it.effect("runs the checks at once and then every period; reading the report runs none", () =>
    Effect.gen(function*() {
      let passing = false
      const { check, counted } = countedCheck(() => passing)
      const readiness = yield* Readiness.refreshed(Readiness.fromChecks([check]), "10 seconds")
      yield* settle
      assert.strictEqual(counted.runs, 1)
      for (let read = 0; read < 100; read++) assert.isFalse((yield* readiness.report).ready)
      assert.strictEqual(counted.runs, 1)

      passing = true
      yield* TestClock.adjust("9 seconds")
      assert.isFalse((yield* readiness.report).ready, "the last report stands until the next run")
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(counted.runs, 2)
      assert.isTrue((yield* readiness.report).ready)
    }).pipe(Effect.scoped))

  it.effect("a reader before the first report waits for it", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const slow: ReadinessCheck = { name: "slow", run: Deferred.await(release) }
      const readiness = yield* Readiness.refreshed(Readiness.fromChecks([slow]), "10 seconds")
      const reader = yield* Effect.forkChild(readiness.report)
      yield* settle
      assert.isUndefined(reader.pollUnsafe())
      yield* Deferred.succeed(release, undefined)
      assert.isTrue((yield* Fiber.join(reader)).ready)
    }).pipe(Effect.scoped))

  it.effect("refreshes at each element of `refreshOn` (a step of the node setup), not only at the next period", () =>
    Effect.gen(function*() {
      const setupDone = yield* Deferred.make<void>()
      let passing = false
      const { check, counted } = countedCheck(() => passing)
      const readiness = yield* Readiness.refreshed(Readiness.fromChecks([check]), "10 seconds", Stream.fromEffect(Deferred.await(setupDone)))
      yield* settle
      assert.isFalse((yield* readiness.report).ready)

      passing = true
      yield* TestClock.adjust("2 seconds")
      yield* Deferred.succeed(setupDone, undefined)
      yield* settle
      assert.strictEqual(counted.runs, 2)
      assert.isTrue((yield* readiness.report).ready)
    }).pipe(Effect.scoped))

  it.effect("a check that dies gives a report that says so, and the next run reports again", () =>
    Effect.gen(function*() {
      let dies = true
      const dying: ReadinessCheck = {
        name: "dying",
        run: Effect.suspend(() => (dies ? Effect.die(new Error("kaboom")) : Effect.void))
      }
      const readiness = yield* Readiness.refreshed(Readiness.fromChecks([dying]), "10 seconds")
      yield* settle
      assert.deepStrictEqual(yield* readiness.report, {
        ready: false,
        checks: [{ name: "readiness", ready: false, reason: "a readiness check failed unexpectedly; the driver's log has the error" }]
      })
      dies = false
      yield* TestClock.adjust("10 seconds")
      yield* settle
      assert.deepStrictEqual(yield* readiness.report, { ready: true, checks: [{ name: "dying", ready: true }] })
    }).pipe(Effect.scoped))

  it.effect("stops running the checks when its scope closes", () =>
    Effect.gen(function*() {
      const { check, counted } = countedCheck(() => true)
      yield* Readiness.refreshed(Readiness.fromChecks([check]), "10 seconds").pipe(Effect.scoped)
      const runsAtClose = counted.runs
      yield* TestClock.adjust("60 seconds")
      yield* settle
      assert.strictEqual(counted.runs, runsAtClose)
    }))
})
