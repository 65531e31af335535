/**
 * The polling and retry Schedules of ClusterProvisioner, in virtual time against the fake
 * ARM: `armPolling` (no reads during the quiet period, then one every interval) and `armRetry`
 * (backoff, Retry-After, giving up). The issue asks that completion be seen within 10 s of ARM
 * reporting it, with at most 4 reads per minute of creation. With ControllerConfig.polling
 * (7.5 min quiet, 10 s interval) a creation of T minutes costs 2 reads at the start (the GET that
 * finds nothing, the first read of the wait) and then 1 + (T - 7.5) * 6: 18 for 10 minutes
 * (1.8/min), 48 for 15 (3.2/min) and 78 for 20 (3.9/min); AMLFS creation takes 10 to 20 minutes.
 * Past about 22 minutes the rate passes 4 a minute; a creation shorter than the quiet period is
 * seen at its end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, type Fiber, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApiFake, type AmlfsApiFakeOptions, armErrors } from "../../layers/azure/AmlfsApiFake.js"
import { ClusterProvisioner, type ClusterRequest } from "../../src/controller/dynamic/ClusterProvisioner.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { testClusterSpec, testControllerDefaults } from "../support/clusterFixtures.js"

const spec = testClusterSpec

const request = (name: string): ClusterRequest => ({ resourceGroup: "rg-test", name, spec, pvc: undefined })

/** The defaults the driver runs with: 7.5 minutes quiet, then a read every 10 s. */
const config = testControllerDefaults

const provisionerWith = (arm: AmlfsApiFakeOptions) =>
  ClusterProvisioner.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(
      AmlfsApiFake.layer(arm),
      Layer.succeed(ControllerConfig, config),
      Layer.succeed(VolumeEvents, VolumeEvents.of({ record: () => Effect.void }))
    ))
  )

/** Advances virtual time in `step`s until the fiber is done; its exit and the virtual time it was seen done. */
const driveUntilDone = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.Input = "1 second", maxSteps = 10_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return { exit, doneAt: yield* TestClock.testClockWith((clock) => clock.currentTimeMillis) }
      yield* TestClock.adjust(step)
    }
    return yield* Effect.die(new Error(`the fiber was not done after ${maxSteps} steps`))
  })

const MINUTE = 60_000

/** Creates one cluster whose creation takes `minutes`, stepping the clock 1 s at a time. */
const measureCreation = (minutes: number) =>
  Effect.gen(function*() {
    const provisioner = yield* ClusterProvisioner
    const fake = yield* AmlfsApiFake
    const name = `pvc-${Math.round(minutes * 60)}s`
    const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request(name)))
    const { exit, doneAt } = yield* driveUntilDone(fiber)
    assert.isTrue(Exit.isSuccess(exit), String(exit))
    const put = (yield* Ref.get(fake.calls)).find((call) => call.operation === "beginCreate" && call.name === name)
    assert.isDefined(put)
    const armCompletedAt = put!.atMillis + minutes * MINUTE
    const reads = yield* fake.count("get", name)
    return {
      detectionLagMillis: doneAt - armCompletedAt,
      reads,
      readsPerMinute: reads / minutes,
      puts: yield* fake.count("beginCreate", name)
    }
  }).pipe(Effect.provide(provisionerWith({ createDurationMillis: minutes * MINUTE })))

describe("armPolling: completion seen within 10 s, reads per minute of creation", () => {
  it.effect("a 15-minute creation: 48 reads (3.2 a minute), completion seen at once", () =>
    Effect.gen(function*() {
      const measured = yield* measureCreation(15)
      assert.isAtLeast(measured.detectionLagMillis, 0)
      assert.isAtMost(measured.detectionLagMillis, 10_000)
      assert.isAtMost(measured.readsPerMinute, 4)
      assert.deepStrictEqual(measured, { detectionLagMillis: 0, reads: 48, readsPerMinute: 48 / 15, puts: 1 })
    }))

  it.effect("a 10-minute creation: 18 reads (1.8 a minute), completion seen at once", () =>
    Effect.gen(function*() {
      const measured = yield* measureCreation(10)
      assert.isAtMost(measured.detectionLagMillis, 10_000)
      assert.isAtMost(measured.readsPerMinute, 4)
      assert.deepStrictEqual(measured, { detectionLagMillis: 0, reads: 18, readsPerMinute: 1.8, puts: 1 })
    }))

  it.effect("a 20-minute creation: 78 reads (3.9 a minute), completion seen at once", () =>
    Effect.gen(function*() {
      const measured = yield* measureCreation(20)
      assert.isAtMost(measured.detectionLagMillis, 10_000)
      assert.isAtMost(measured.readsPerMinute, 4)
      assert.deepStrictEqual(measured, { detectionLagMillis: 0, reads: 78, readsPerMinute: 78 / 20, puts: 1 })
    }))

  it.effect("completion between two reads is seen by the next one, within the 10 s interval", () =>
    Effect.gen(function*() {
      // 15 min + 3 s: the read at 15:00 still sees Creating, the one at 15:10 sees Succeeded.
      const minutes = 15 + 3 / 60
      const measured = yield* measureCreation(minutes)
      assert.isAbove(measured.detectionLagMillis, 0)
      assert.isAtMost(measured.detectionLagMillis, 10_000)
      assert.strictEqual(measured.detectionLagMillis, 7_000)
    }))

  it.effect("no read during the quiet period: after the 2 reads at the start, the next is at 7.5 minutes", () =>
    Effect.gen(function*() {
      const provisioner = yield* ClusterProvisioner
      const fake = yield* AmlfsApiFake
      const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request("pvc-quiet")))
      yield* driveUntilDone(fiber)
      const times = (yield* Ref.get(fake.calls)).filter((call) => call.operation === "get").map((call) => call.atMillis)
      assert.deepStrictEqual(times.slice(0, 4), [0, 0, 7.5 * MINUTE, 7.5 * MINUTE + 10_000])
      const gaps = times.slice(3).map((t, i) => t - times[i + 2]!)
      assert.isTrue(gaps.every((gap) => gap === 10_000), String(gaps))
    }).pipe(Effect.provide(provisionerWith({ createDurationMillis: 12 * MINUTE }))))

  it.effect("a controller that resumes a creation started long ago (ARM's createdAt) does not wait the quiet period again", () =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.seed({ resourceGroup: "rg-test", name: "pvc-resumed", spec, state: "Creating" })
      yield* TestClock.adjust(Duration.minutes(9))
      const provisioner = yield* ClusterProvisioner
      const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request("pvc-resumed")))
      const { exit, doneAt } = yield* driveUntilDone(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(doneAt, 15 * MINUTE)
      // 2 reads at 9:00 (find, first wait read), then 9:10 ... 15:00 every 10 s: 36 more.
      assert.strictEqual(yield* fake.count("get", "pvc-resumed"), 2 + 36)
    }).pipe(Effect.provide(provisionerWith({ createDurationMillis: 15 * MINUTE }))))
})

describe("armPolling per operation: a deletion is read at once and soon after, not after a quiet period", () => {
  /** Deletes `name` (a Succeeded cluster of the driver's), stepping the clock 100 ms at a time. */
  const measureDeletion = (name: string) =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.seed({ resourceGroup: "rg-test", name, spec })
      const provisioner = yield* ClusterProvisioner
      const fiber = yield* Effect.forkChild(provisioner.ensureDeleted("rg-test", name))
      const { exit, doneAt } = yield* driveUntilDone(fiber, "100 millis", 100_000)
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const reads = (yield* Ref.get(fake.calls)).filter((call) => call.operation === "get").map((call) => call.atMillis)
      return { doneAt, reads, deletes: yield* fake.count("beginDelete", name) }
    })

  it.effect("an ARM that deletes in a second: DeleteVolume's wait ends within 2 s (it took 60 s with a 1-minute quiet period)", () =>
    Effect.gen(function*() {
      const measured = yield* measureDeletion("pvc-quick-delete")
      assert.isAtMost(measured.doneAt, 2_000)
      // the read that finds it, then reads at 0 s (Deleting) and 1 s (gone)
      assert.deepStrictEqual(measured, { doneAt: 1_000, reads: [0, 0, 1_000], deletes: 1 })
    }).pipe(Effect.provide(provisionerWith({ deleteDurationMillis: 1_000 }))))

  it.effect("a 5-minute deletion: reads ramp 1, 2, 4, 8 s, then every 10 s; the end is seen within 10 s", () =>
    Effect.gen(function*() {
      const measured = yield* measureDeletion("pvc-slow-delete")
      assert.isAtLeast(measured.doneAt, 5 * MINUTE)
      assert.isAtMost(measured.doneAt, 5 * MINUTE + 10_000)
      assert.deepStrictEqual(measured.reads.slice(0, 7), [0, 0, 1_000, 3_000, 7_000, 15_000, 25_000])
      // 2 at the start, 4 ramping (1, 3, 7, 15 s), then one every 10 s to 5:05: 35 reads, 7 a minute
      assert.deepStrictEqual([measured.doneAt, measured.reads.length], [5 * MINUTE + 5_000, 35])
    }).pipe(Effect.provide(provisionerWith({ deleteDurationMillis: 5 * MINUTE }))))

  it("a creation keeps its quiet period while a deletion in the same controller polls early", () => {
    assert.deepStrictEqual(
      [config.creationPolling.quietPeriod, config.deletionPolling.quietPeriod, config.deletionPolling.firstRead],
      [Duration.seconds(450), Duration.zero, Duration.seconds(1)]
    )
  })
})

describe("armRetry: Retry-After honoured, then UNAVAILABLE", () => {
  it.effect("two 429s with Retry-After 30 s: each next GET comes no sooner than 30 s later", () =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.throttled(30_000), { times: 2, operation: "get" })
      const provisioner = yield* ClusterProvisioner
      const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request("pvc-throttled")))
      const { exit } = yield* driveUntilDone(fiber)
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const times = (yield* Ref.get(fake.calls)).filter((call) => call.operation === "get").map((call) => call.atMillis)
      assert.isAtLeast(times[1]! - times[0]!, 30_000)
      assert.isAtLeast(times[2]! - times[1]!, 30_000)
      // Retry-After (30 s) is longer than the jittered 1 s and 2 s backoff, so it decides exactly.
      assert.deepStrictEqual(times.slice(0, 3), [0, 30_000, 60_000])
      assert.strictEqual(yield* fake.count("beginCreate", "pvc-throttled"), 1)
    }).pipe(Effect.provide(provisionerWith({ createDurationMillis: 10 * MINUTE }))))

  it.effect("a Retry-After shorter than the backoff does not shorten it", () =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.throttled(1), { times: 3, operation: "get" })
      const provisioner = yield* ClusterProvisioner
      const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request("pvc-short")))
      yield* driveUntilDone(fiber, "100 millis", 100_000)
      const times = (yield* Ref.get(fake.calls)).filter((call) => call.operation === "get").map((call) => call.atMillis)
      // exponential 1 s, 2 s, 4 s, jittered (Effect's jitter is 0.8 to 1.2 of the delay)
      assert.isAtLeast(times[1]! - times[0]!, 800)
      assert.isAtLeast(times[2]! - times[1]!, 1_600)
      assert.isAtLeast(times[3]! - times[2]!, 3_200)
    }).pipe(Effect.provide(provisionerWith({ createDurationMillis: 10 * MINUTE }))))

  it.effect("503 on every try: 1 call + 5 retries, then the call fails Unavailable, having sent no PUT", () =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.unavailable(), { times: 6, operation: "get" })
      const provisioner = yield* ClusterProvisioner
      const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request("pvc-503")))
      const { exit, doneAt } = yield* driveUntilDone(fiber, "100 millis", 100_000)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
      assert.strictEqual(error?._tag, "Unavailable")
      assert.include(error?.message ?? "", "503")
      assert.strictEqual(yield* fake.count("get", "pvc-503"), 6)
      assert.strictEqual(yield* fake.count("beginCreate"), 0)
      // 1 + 2 + 4 + 8 + 16 = 31 s of backoff, jittered 0.8 to 1.2
      assert.isAtLeast(doneAt, 0.8 * 31_000)
      assert.isAtMost(doneAt, 1.2 * 31_000 + 500)
    }).pipe(Effect.provide(provisionerWith({ createDurationMillis: 10 * MINUTE }))))

  it.effect("503 five times only: the fifth retry gets through and the creation goes on", () =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.unavailable(), { times: 5, operation: "get" })
      const provisioner = yield* ClusterProvisioner
      const fiber = yield* Effect.forkChild(provisioner.ensureCreated(request("pvc-503x5")))
      const { exit } = yield* driveUntilDone(fiber)
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.strictEqual(yield* fake.count("beginCreate", "pvc-503x5"), 1)
    }).pipe(Effect.provide(provisionerWith({ createDurationMillis: 10 * MINUTE }))))

  it.effect("a 403 is not retried: PermissionDenied at once", () =>
    Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      yield* fake.failNext(armErrors.forbidden(), { operation: "get" })
      const provisioner = yield* ClusterProvisioner
      const exit = yield* Effect.exit(provisioner.ensureCreated(request("pvc-403")))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
      assert.strictEqual(error?._tag, "PermissionDenied")
      assert.strictEqual(yield* fake.count("get", "pvc-403"), 1)
    }).pipe(Effect.provide(provisionerWith({}))))
})
