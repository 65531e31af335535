import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { Hsm } from "../../layers/hsm/Hsm.js"
import { type FakeHsmFile, HsmFake, lostFile, releasedFile } from "../../layers/hsm/HsmFake.js"
import {
  defaultHydrationSettings,
  type HydrationSettings,
  hydrateDirectories,
  noProgress,
  type RestoreFailed
} from "../../src/node/hsm/hydrate.js"

const settings: HydrationSettings = {
  ...defaultHydrationSettings,
  maxInFlight: 4,
  polling: Schedule.spaced("1 second"),
  retry: Schedule.spaced("5 seconds").pipe(Schedule.upTo({ times: 2 })) as Schedule.Schedule<unknown, RestoreFailed>
}

const files = (count: number, under = "/l/vol", make: (i: number) => FakeHsmFile = () => releasedFile(1000n)) =>
  Array.from({ length: count }, (_, i) => [`${under}/f${String(i).padStart(3, "0")}`, make(i)] as const)

/** Runs the hydration to its end on the test clock, a second at a time. */
const hydrateToEnd = (paths: ReadonlyArray<string>, given: HydrationSettings = settings) =>
  Effect.gen(function*() {
    const progress = yield* Ref.make(noProgress)
    const fiber = yield* hydrateDirectories(paths.map((path) => ({ path, shown: "" })), given, progress).pipe(Effect.forkChild)
    for (let second = 0; second < 600 && fiber.pollUnsafe() === undefined; second++) yield* TestClock.adjust("1 second")
    return { exit: yield* Fiber.await(fiber), progress: yield* Ref.get(progress) }
  })

const restoreRequests = Effect.gen(function*() {
  const calls = yield* Ref.get((yield* HsmFake).calls)
  return calls.filter((call) => call.operation === "restore").map((call) => call.paths)
})

const residentCount = Effect.gen(function*() {
  const all = yield* Ref.get((yield* HsmFake).files)
  return [...all.values()].filter((file) => !file.state.released).length
})

describe("hydrateDirectories", () => {
  it.effect("restores every released file, never more than maxInFlight at once, many files per request", () =>
    Effect.gen(function*() {
      const { exit, progress } = yield* hydrateToEnd(["/l/vol"])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(yield* residentCount, 40)
      assert.strictEqual(progress.restored, 40)
      assert.strictEqual(progress.restoredBytes, 40_000n)
      assert.strictEqual(progress.failed, 0)
      assert.isTrue(progress.scanned)
      const fake = yield* HsmFake
      const most = yield* Ref.get(fake.maxRestoring)
      assert.isAtMost(most, 4)
      assert.isAtLeast(most, 2)
      const requests = yield* restoreRequests
      assert.strictEqual(requests.reduce((sum, paths) => sum + paths, 0), 40)
      assert.isBelow(requests.length, 40)
    }).pipe(Effect.provide(HsmFake.layer({ files: files(40), restoreTakes: "3 seconds", findBatchSize: 7 }))))

  it.effect("walks only the directories given", () =>
    Effect.gen(function*() {
      const { exit, progress } = yield* hydrateToEnd(["/l/vol/a"])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(progress.found, 3)
      assert.strictEqual(yield* residentCount, 3)
    }).pipe(Effect.provide(HsmFake.layer({ files: [...files(3, "/l/vol/a"), ...files(5, "/l/vol/b")], restoreTakes: "1 second" }))))

  it.effect("a file whose restore keeps failing is asked for 1 + 2 times, then the hydration fails naming it and the error; the others come back", () =>
    Effect.gen(function*() {
      const { exit, progress } = yield* hydrateToEnd(["/l/vol"])
      assert.isTrue(Exit.isFailure(exit))
      const message = Exit.isFailure(exit) ? String(exit.cause) : ""
      assert.include(message, "1 of 6 released file(s) could not be restored")
      assert.include(message, "f002: copytool: Input/output error")
      assert.strictEqual(progress.restored, 5)
      assert.strictEqual(progress.failed, 1)
      const fake = yield* HsmFake
      const starts = (yield* Ref.get(fake.calls)).filter((call) => call.operation === "restore").reduce((sum, call) => sum + call.paths, 0)
      assert.strictEqual(starts, 5 + 3)
    }).pipe(Effect.provide(HsmFake.layer({
      files: files(6),
      restoreTakes: "2 seconds",
      failingRestores: [["/l/vol/f002", "copytool: Input/output error"]]
    }))))

  it.effect("a lost file fails at once, without a restore asked for or retried", () =>
    Effect.gen(function*() {
      const { exit, progress } = yield* hydrateToEnd(["/l/vol"])
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "f000: lost_from_hsm")
      assert.strictEqual(progress.failed, 1)
      assert.strictEqual(progress.restored, 1)
      assert.strictEqual((yield* restoreRequests).reduce((sum, paths) => sum + paths, 0), 1)
    }).pipe(Effect.provide(HsmFake.layer({
      files: files(2, "/l/vol", (i) => (i === 0 ? lostFile(10n) : releasedFile(10n))),
      restoreTakes: "1 second"
    }))))

  it.effect("a file already being restored (asked for by a publish the kubelet cut) is waited for, not asked for again", () =>
    Effect.gen(function*() {
      const fake = yield* HsmFake
      // The earlier hydration asked for f000 and f001.
      yield* Hsm.use((hsm) => hsm.restore(["/l/vol/f000", "/l/vol/f001"]))
      yield* Ref.set(fake.calls, [])
      const { exit } = yield* hydrateToEnd(["/l/vol"])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual((yield* restoreRequests).reduce((sum, paths) => sum + paths, 0), 3)
      assert.strictEqual(yield* residentCount, 5)
    }).pipe(Effect.provide(HsmFake.layer({ files: files(5), restoreTakes: "10 seconds" }))))

  it.effect("a restore that never ends is given up after restoreTimeout (each try), then the hydration fails naming it", () =>
    Effect.gen(function*() {
      const { exit } = yield* hydrateToEnd(["/l/vol"], { ...settings, restoreTimeout: Duration.seconds(30) })
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "f001: its data was not back within 30s")
    }).pipe(Effect.provide(HsmFake.layer({ files: files(2), restoreTakes: "1 second", hangingRestores: ["/l/vol/f001"] }))))

  it.effect("when the released files cannot be listed, the hydration fails saying so", () =>
    Effect.gen(function*() {
      yield* Ref.set((yield* HsmFake).unavailable, new Map([["findReleased", "lfs: command not found"]]))
      const { exit } = yield* hydrateToEnd(["/l/vol"])
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "cannot list the released files")
    }).pipe(Effect.provide(HsmFake.layer({ files: files(2) }))))
})
