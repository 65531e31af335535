import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Semaphore from "effect/Semaphore"
import { Aborted } from "../csi/errors.js"

interface Entry {
  readonly semaphore: Semaphore.Semaphore
  users: number
}

/**
 * One lock per key (a volume, a target path, a filesystem), never one for the whole node. A caller
 * waits at most `wait` for it and then answers ABORTED, as CSI asks when an operation on the same
 * volume is in flight; the CO retries. Locks of keys nobody holds or waits for are forgotten.
 */
export class KeyedLocks extends Context.Service<KeyedLocks, {
  readonly withLock: (
    key: string,
    wait: Duration.Duration
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | Aborted, R>
}>()("azurelustre/KeyedLocks") {
  static readonly layer = Layer.sync(KeyedLocks, () => {
    const entries = new Map<string, Entry>()
    const enter = (key: string) =>
      Effect.sync(() => {
        const entry = entries.get(key) ?? { semaphore: Semaphore.makeUnsafe(1), users: 0 }
        entry.users++
        entries.set(key, entry)
        return entry
      })
    const leave = (key: string, entry: Entry) =>
      Effect.sync(() => {
        if (--entry.users === 0) entries.delete(key)
      })
    return KeyedLocks.of({
      withLock: (key, wait) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          enter(key),
          (entry) =>
            entry.semaphore.take(1).pipe(
              Effect.timeoutOption(wait),
              Effect.flatMap((taken): Effect.Effect<A, E | Aborted, R> =>
                Option.isNone(taken)
                  ? Effect.fail(
                    new Aborted({
                      message: `another operation on ${key} has been running for over ${Duration.format(wait)}; ` +
                        "this call gives up and the caller retries"
                    })
                  )
                  : effect.pipe(Effect.ensuring(entry.semaphore.release(1)))
              )
            ),
          (entry) => leave(key, entry)
        )
    })
  })
}
