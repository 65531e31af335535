import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Aborted, type CsiError } from "../../csi/errors.js"

/**
 * Runs an operation on a cluster once: callers while it runs wait for the same result. The
 * operation runs in `scope` (the controller's), so a caller whose deadline passes leaves it
 * running, and the CO's retry joins it again. An operation of another kind on the same key
 * (`conflicting`) refuses the call with ABORTED: the CO retries after it.
 */
export const runOnce = (scope: Scope.Scope) =>
<A>(
  running: Map<string, Deferred.Deferred<A, CsiError>>,
  conflicting: ReadonlyMap<string, unknown>,
  key: string,
  operation: Effect.Effect<A, CsiError>
): Effect.Effect<{ readonly value: A; readonly joined: boolean }, CsiError> =>
  // Registering and forking are one step: a caller interrupted between them would leave a
  // result nobody ever completes.
  Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (conflicting.has(key)) {
        return Effect.fail(
          new Aborted({ message: `another operation on AMLFS ${key} is still running; the CO retries after it` })
        )
      }
      const joined = running.get(key)
      if (joined !== undefined) return restore(Effect.map(Deferred.await(joined), (value) => ({ value, joined: true })))
      const done = Deferred.makeUnsafe<A, CsiError>()
      running.set(key, done)
      return operation.pipe(
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(done, exit)),
        Effect.ensuring(Effect.sync(() => running.delete(key))),
        Effect.interruptible,
        Effect.forkIn(scope),
        Effect.andThen(restore(Effect.map(Deferred.await(done), (value) => ({ value, joined: false }))))
      )
    })
  )
