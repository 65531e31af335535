import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Ref, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Hsm, isFailure } from "../../../layers/hsm/Hsm.js"
import { archivedFile, HsmFake, lostFile, newFile, releasedFile } from "../../../layers/hsm/HsmFake.js"

const statusOf = (path: string) =>
  Effect.gen(function*() {
    const [answer] = yield* Hsm.use((hsm) => hsm.status([path]))
    if (answer === undefined || isFailure(answer)) return assert.fail(`no status for ${path}: ${answer?.error}`)
    return answer
  })

describe("HsmFake", () => {
  it.effect("a restore runs for restoreTakes on the clock, moving bytes as it goes, then the file is resident", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Hsm.use((hsm) => hsm.restore(["/l/a"])), [])
      const started = yield* statusOf("/l/a")
      assert.deepStrictEqual(started.action, { kind: "RESTORE", progress: "running", bytesMoved: 0n })
      assert.isTrue(started.state.released)
      yield* TestClock.adjust("15 seconds")
      assert.deepStrictEqual((yield* statusOf("/l/a")).action.bytesMoved, 500n)
      yield* TestClock.adjust("15 seconds")
      const done = yield* statusOf("/l/a")
      assert.isFalse(done.state.released)
      assert.isTrue(done.state.archived && done.state.exists)
      assert.strictEqual(done.action.kind, "NOOP")
      assert.isUndefined(done.failure)
      assert.strictEqual(yield* Ref.get((yield* HsmFake).restoring), 0)
    }).pipe(Effect.provide(HsmFake.layer({ files: [["/l/a", releasedFile(1000n)]], restoreTakes: "30 seconds" }))))

  it.effect("a failing restore ends after the delay with NOOP, the file still released, and the error in `failure`", () =>
    Effect.gen(function*() {
      yield* Hsm.use((hsm) => hsm.restore(["/l/a"]))
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual((yield* statusOf("/l/a")).action.kind, "RESTORE")
      yield* TestClock.adjust("1 second")
      const after = yield* statusOf("/l/a")
      assert.isTrue(after.state.released)
      assert.strictEqual(after.action.kind, "NOOP")
      assert.strictEqual(after.failure, "copytool: No such file or directory")
      // Asking again is a new request: the old error goes until it fails again.
      yield* Ref.set((yield* HsmFake).failingRestores, new Map())
      yield* Hsm.use((hsm) => hsm.restore(["/l/a"]))
      assert.isUndefined((yield* statusOf("/l/a")).failure)
      yield* TestClock.adjust("10 seconds")
      assert.isFalse((yield* statusOf("/l/a")).state.released)
    }).pipe(Effect.provide(HsmFake.layer({
      files: [["/l/a", releasedFile(10n)]],
      failingRestores: [["/l/a", "copytool: No such file or directory"]]
    }))))

  it.effect("a hanging restore stays RESTORE running, with nothing moved, however long one waits", () =>
    Effect.gen(function*() {
      yield* Hsm.use((hsm) => hsm.restore(["/l/a", "/l/b"]))
      yield* TestClock.adjust("1 day")
      const a = yield* statusOf("/l/a")
      assert.deepStrictEqual(a.action, { kind: "RESTORE", progress: "running", bytesMoved: 0n })
      assert.isTrue(a.state.released)
      assert.isFalse((yield* statusOf("/l/b")).state.released)
      assert.strictEqual(yield* Ref.get((yield* HsmFake).restoring), 1)
    }).pipe(Effect.provide(HsmFake.layer({
      files: [["/l/a", releasedFile(10n)], ["/l/b", releasedFile(10n)]],
      hangingRestores: ["/l/a"]
    }))))

  it.effect("a lost or missing file fails at once; a resident file or one already restoring starts nothing", () =>
    Effect.gen(function*() {
      const fake = yield* HsmFake
      const failures = yield* Hsm.use((hsm) => hsm.restore(["/l/lost", "/l/gone", "/l/resident", "/l/a", "/l/a"]))
      assert.deepStrictEqual(failures, [
        { path: "/l/lost", error: "lost_from_hsm: the archive copy is lost" },
        { path: "/l/gone", error: "Cannot stat /l/gone: No such file or directory" }
      ])
      yield* Hsm.use((hsm) => hsm.restore(["/l/a"]))
      assert.strictEqual(yield* Ref.get(fake.restoring), 1)
      assert.strictEqual((yield* statusOf("/l/resident")).action.kind, "NOOP")
      const [missing] = yield* Hsm.use((hsm) => hsm.status(["/l/gone"]))
      assert.deepStrictEqual(missing, { path: "/l/gone", error: "lfs hsm_state: get HSM state for '/l/gone' failed: No such file or directory" })
    }).pipe(Effect.provide(HsmFake.layer({
      files: [["/l/lost", lostFile(10n)], ["/l/resident", archivedFile(10n)], ["/l/a", releasedFile(10n)]]
    }))))

  it.effect("restoring counts the files in RESTORE now, maxRestoring the most at one time", () =>
    Effect.gen(function*() {
      const fake = yield* HsmFake
      yield* Hsm.use((hsm) => hsm.restore(["/l/1", "/l/2"]))
      yield* TestClock.adjust("5 seconds")
      yield* Hsm.use((hsm) => hsm.restore(["/l/3"]))
      assert.strictEqual(yield* Ref.get(fake.restoring), 3)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Ref.get(fake.restoring), 1)
      yield* Hsm.use((hsm) => hsm.restore(["/l/4"]))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Ref.get(fake.restoring), 0)
      assert.strictEqual(yield* Ref.get(fake.maxRestoring), 3)
    }).pipe(Effect.provide(HsmFake.layer({
      files: ["/l/1", "/l/2", "/l/3", "/l/4"].map((path) => [path, releasedFile(1n)] as const)
    }))))

  it.effect("calls lists every operation with its number of paths, in order", () =>
    Effect.gen(function*() {
      yield* Hsm.use((hsm) => hsm.status(["/l/a", "/l/b"]))
      yield* Hsm.use((hsm) => hsm.restore(["/l/a"]))
      yield* Hsm.use((hsm) => Stream.runDrain(hsm.findReleased("/l")))
      yield* Hsm.use((hsm) => hsm.archive(["/l/a", "/l/b", "/l/c"]))
      yield* Hsm.use((hsm) => hsm.release([]))
      assert.deepStrictEqual(yield* Ref.get((yield* HsmFake).calls), [
        { operation: "status", paths: 2 },
        { operation: "restore", paths: 1 },
        { operation: "findReleased", paths: 1 },
        { operation: "archive", paths: 3 },
        { operation: "release", paths: 0 }
      ])
    }).pipe(Effect.provide(HsmFake.layer({ files: [["/l/a", releasedFile(1n)]] }))))

  it.effect("findReleased answers the released files below the directory, in path order, in batches of findBatchSize", () =>
    Effect.gen(function*() {
      const batches = yield* Hsm.use((hsm) => Stream.runCollect(hsm.findReleased("/l/data")))
      assert.deepStrictEqual(batches, [
        [{ path: "/l/data/a", size: 1n }, { path: "/l/data/b", size: 2n }],
        [{ path: "/l/data/sub/c", size: 3n }]
      ])
      yield* Ref.set((yield* HsmFake).findBatchSize, 5)
      assert.strictEqual((yield* Hsm.use((hsm) => Stream.runCollect(hsm.findReleased("/l/data/")))).length, 1)
    }).pipe(Effect.provide(HsmFake.layer({
      findBatchSize: 2,
      files: [
        ["/l/data/sub/c", releasedFile(3n)],
        ["/l/data/b", releasedFile(2n)],
        ["/l/data/a", releasedFile(1n)],
        ["/l/data/resident", archivedFile(4n)],
        ["/l/data-other/x", releasedFile(5n)],
        ["/l/elsewhere", releasedFile(6n)]
      ]
    }))))

  it.effect("a hanging operation never answers (a deadline ends it); an unavailable one fails with HsmUnavailable", () =>
    Effect.gen(function*() {
      const fake = yield* HsmFake
      const status = yield* Effect.forkChild(Hsm.use((hsm) => hsm.status(["/l/a"])).pipe(Effect.timeout("1 minute"), Effect.flip))
      const find = yield* Effect.forkChild(Hsm.use((hsm) => Stream.runCollect(hsm.findReleased("/l"))).pipe(Effect.timeout("1 minute"), Effect.flip))
      yield* TestClock.adjust("59 seconds")
      assert.isUndefined(status.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(status))._tag, "TimeoutError")
      assert.strictEqual((yield* Fiber.join(find))._tag, "TimeoutError")
      yield* Ref.set(fake.hanging, new Set())
      yield* Ref.set(fake.unavailable, new Map([["restore", "lfs: not found"]]))
      const failure = yield* Effect.flip(Hsm.use((hsm) => hsm.restore(["/l/a"])))
      assert.deepStrictEqual({ tag: failure._tag, operation: failure.operation, message: failure.message }, {
        tag: "HsmUnavailable",
        operation: "restore (fake)",
        message: "lfs: not found"
      })
    }).pipe(Effect.provide(HsmFake.layer({ files: [["/l/a", releasedFile(1n)]], hanging: ["status", "findReleased"] }))))

  it.effect("archive marks files archived and clean; release drops archived clean files and refuses the others", () =>
    Effect.gen(function*() {
      const fake = yield* HsmFake
      yield* Ref.update(fake.files, (files) => new Map(files).set("/l/dirty", { ...archivedFile(1n), state: { ...archivedFile(1n).state, flags: 0x0b, dirty: true } }))
      assert.deepStrictEqual(yield* Hsm.use((hsm) => hsm.release(["/l/new", "/l/dirty", "/l/gone"])), [
        { path: "/l/new", error: "it is not archived (Operation not permitted)" },
        { path: "/l/dirty", error: "it changed since it was archived (dirty; Operation not permitted)" },
        { path: "/l/gone", error: "Cannot stat /l/gone: No such file or directory" }
      ])
      assert.deepStrictEqual(yield* Hsm.use((hsm) => hsm.archive(["/l/new", "/l/dirty"])), [])
      const archived = yield* statusOf("/l/new")
      assert.deepStrictEqual([archived.state.flags, archived.state.archiveId], [0x09, 1])
      assert.deepStrictEqual(yield* Hsm.use((hsm) => hsm.release(["/l/new", "/l/dirty"])), [])
      assert.strictEqual((yield* statusOf("/l/dirty")).state.flags, 0x0d)
    }).pipe(Effect.provide(HsmFake.layer({ files: [["/l/new", newFile(1n)]] }))))

  it.effect("the restores' fibers belong to the layer: closing its scope stops them", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(HsmFake.layer({ files: [["/l/a", releasedFile(1n)]] }), scope)
      const fake = Context.get(context, HsmFake)
      yield* Hsm.use((hsm) => hsm.restore(["/l/a"])).pipe(Effect.provide(context))
      assert.strictEqual(yield* Ref.get(fake.restoring), 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Ref.get(fake.restoring), 0)
      yield* TestClock.adjust("1 hour")
      assert.isTrue((yield* Ref.get(fake.files)).get("/l/a")?.state.released)
    }))
})
