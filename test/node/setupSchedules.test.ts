import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Ref, type Schedule } from "effect"
import { TestClock } from "effect/testing"
import { NodeSetupFailed } from "../../src/node/setup/NodeSetupFailed.js"
import { lustreClientInstallRetry, nodeSetupRoundRetry } from "../../src/node/setup/setupSchedules.js"

/** Runs a failing attempt under `schedule` for `span` of virtual time, in 15 s steps; answers when (ms) each attempt ran. */
const attemptTimes = <E>(failure: E, schedule: Schedule.Schedule<Duration.Duration, E>, span: Duration.Input) =>
  Effect.gen(function*() {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const start = yield* Clock.currentTimeMillis
    const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(times, (all) => [...all, now - start])).pipe(
      Effect.andThen(Effect.fail(failure))
    )
    const fiber = yield* Effect.forkChild(Effect.retry(attempt, schedule))
    yield* Effect.yieldNow
    for (let elapsed = 0; elapsed < Duration.toMillis(Duration.fromInputUnsafe(span)); elapsed += 15_000) yield* TestClock.adjust("15 seconds")
    yield* Fiber.interrupt(fiber)
    return yield* Ref.get(times)
  })

describe("lustreClientInstallRetry", () => {
  it.effect("three tries, 15 s then 30 s apart, while a try may help", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* attemptTimes({ retryable: true }, lustreClientInstallRetry(), "10 minutes"), [0, 15_000, 45_000])
      assert.deepStrictEqual(yield* attemptTimes({ retryable: false }, lustreClientInstallRetry(), "10 minutes"), [0])
    }))
})

describe("nodeSetupRoundRetry", () => {
  it.effect("1, 2, 4 ... minutes apart, never more than the cap; a permanent failure stops it", () =>
    Effect.gen(function*() {
      const times = yield* attemptTimes(new NodeSetupFailed({ reason: "no package", permanent: false }), nodeSetupRoundRetry("1 minute", "30 minutes"), "3 hours")
      const gaps = times.slice(1).map((time, i) => (time - (times[i] ?? 0)) / 60_000)
      assert.deepStrictEqual(gaps.slice(0, 6), [1, 2, 4, 8, 16, 30])
      assert.isTrue(gaps.slice(5).every((gap) => gap === 30))
      assert.deepStrictEqual(yield* attemptTimes(new NodeSetupFailed({ reason: "Azure Linux", permanent: true }), nodeSetupRoundRetry(), "3 hours"), [0])
    }))
})
