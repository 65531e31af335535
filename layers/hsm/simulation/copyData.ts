import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"

const CHUNK = 1024 * 1024

const open = (path: string, flags: string, shown: string, doing: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => Fs.open(path, flags),
      catch: (error) => new HsmFileFailed({ path: shown, message: `cannot open ${doing}: ${reasonOf(error)}` })
    }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

const attempt = <A>(shown: string, doing: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (error) => new HsmFileFailed({ path: shown, message: `cannot ${doing}: ${reasonOf(error)}` }) })

/**
 * Copies the data of `from` over `to` in place (same inode, so its HSM state and anyone's open
 * descriptors stay), a chunk at a time, then cuts `to` to the length copied. `moved` hears the
 * bytes copied so far; the copy can be interrupted between chunks. Answers the length copied.
 */
export const copyData = (
  from: string,
  to: string,
  options: { readonly shown: string; readonly moved?: (bytes: bigint) => void }
): Effect.Effect<bigint, HsmFileFailed> =>
  Effect.scoped(Effect.gen(function*() {
    const source = yield* open(from, "r", options.shown, `the source ${from}`)
    const target = yield* open(to, "r+", options.shown, `the target ${to}`)
    const buffer = Buffer.allocUnsafe(CHUNK)
    let position = 0
    while (true) {
      const at = position
      const { bytesRead } = yield* attempt(options.shown, `read ${from}`, () => source.read(buffer, 0, CHUNK, at))
      if (bytesRead === 0) break
      yield* attempt(options.shown, `write ${to}`, () => target.write(buffer, 0, bytesRead, at))
      position += bytesRead
      options.moved?.(BigInt(position))
    }
    yield* attempt(options.shown, `truncate ${to}`, () => target.truncate(position))
    return BigInt(position)
  }))

/**
 * A time for utimes(2) through Node: a double of seconds, which libuv cuts to the microsecond.
 * Half a microsecond more than the time's microsecond lands on that microsecond whatever the
 * double's rounding (about 0.2 µs today).
 */
const utimesSeconds = (ns: bigint) => (Number(ns / 1000n) + 0.5) / 1e6

/** Sets a file's atime and mtime back to those of `times`, to the microsecond (Node's utimes cannot do better). */
export const setTimes = (
  path: string,
  times: { readonly atimeNs: bigint; readonly mtimeNs: bigint },
  shown: string
): Effect.Effect<void, HsmFileFailed> =>
  attempt(shown, `set the times of ${path}`, () => Fs.utimes(path, utimesSeconds(times.atimeNs), utimesSeconds(times.mtimeNs)))
