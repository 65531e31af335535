import { assert, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { KeyedLocks } from "../../src/locks/KeyedLocks.js"

const withLocks = <A, E>(body: (locks: KeyedLocks["Service"]) => Effect.Effect<A, E>) =>
  KeyedLocks.use(body).pipe(Effect.provide(KeyedLocks.layer))

it.effect("a second caller on the same key waits, then answers ABORTED after the wait", () =>
  withLocks((locks) =>
    Effect.gen(function*() {
      const holding = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(
        Deferred.succeed(holding, undefined).pipe(Effect.andThen(Effect.never), locks.withLock("target /a", Duration.seconds(5)))
      )
      yield* Deferred.await(holding)
      const waiter = yield* Effect.forkChild(Effect.succeed("ran").pipe(locks.withLock("target /a", Duration.seconds(5))))
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.await(waiter)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "Aborted")
      yield* Fiber.interrupt(holder)
    })
  ))

it.effect("different keys never wait for each other", () =>
  withLocks((locks) =>
    Effect.gen(function*() {
      const holding = yield* Deferred.make<void>()
      yield* Effect.forkChild(
        Deferred.succeed(holding, undefined).pipe(Effect.andThen(Effect.never), locks.withLock("filesystem A", Duration.seconds(5)))
      )
      yield* Deferred.await(holding)
      assert.strictEqual(yield* Effect.succeed("B done").pipe(locks.withLock("filesystem B", Duration.millis(1))), "B done")
    })
  ))

it.effect("the lock is released when the holder fails or is interrupted", () =>
  withLocks((locks) =>
    Effect.gen(function*() {
      yield* Effect.fail("boom").pipe(locks.withLock("k", Duration.seconds(1)), Effect.flip)
      const holder = yield* Effect.forkChild(Effect.never.pipe(locks.withLock("k", Duration.seconds(1))))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(holder)
      assert.strictEqual(yield* Effect.succeed(1).pipe(locks.withLock("k", Duration.millis(1))), 1)
    })
  ))
