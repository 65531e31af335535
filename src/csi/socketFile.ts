import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Path from "node:path"

export class SocketUnavailable extends Schema.TaggedError<SocketUnavailable>()("SocketUnavailable", {
  message: Schema.String
}) {}

const errnoOf = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined

/** Whether some process accepts connections on the socket. */
const isListening = (path: string): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const probe = Net.connect({ path })
    probe.once("connect", () => {
      probe.destroy()
      resume(Effect.succeed(true))
    })
    probe.once("error", () => resume(Effect.succeed(false)))
    return Effect.sync(() => probe.destroy())
  })

/**
 * Makes `path` free to bind: creates its directory, removes a stale socket left by a driver that
 * died, and refuses to touch a socket another driver is serving on or a file that is no socket.
 */
export const claimSocketPath = (path: string): Effect.Effect<void, SocketUnavailable> =>
  Effect.gen(function*() {
    yield* Effect.tryPromise({
      try: () => Fs.mkdir(Path.dirname(path), { recursive: true }),
      catch: (error) =>
        new SocketUnavailable({ message: `cannot create the socket directory ${Path.dirname(path)}: ${String(error)}` })
    })
    const stat = yield* Effect.tryPromise(() => Fs.lstat(path)).pipe(
      Effect.map((s) => ({ exists: true as const, isSocket: s.isSocket() })),
      Effect.catch((error) =>
        errnoOf(error.cause) === "ENOENT"
          ? Effect.succeed({ exists: false as const, isSocket: false })
          : Effect.fail(new SocketUnavailable({ message: `cannot inspect ${path}: ${String(error.cause)}` }))
      )
    )
    if (!stat.exists) return
    if (!stat.isSocket) {
      return yield* new SocketUnavailable({
        message: `${path} exists and is not a socket; refusing to replace it. Remove it or choose another --endpoint`
      })
    }
    if (yield* isListening(path)) {
      return yield* new SocketUnavailable({
        message: `another process is already serving on ${path}; stop it or choose another --endpoint`
      })
    }
    yield* Effect.logInfo("removing a stale socket left by an earlier run").pipe(Effect.annotateLogs({ socket: path }))
    yield* Effect.tryPromise({
      try: () => Fs.rm(path, { force: true }),
      catch: (error) => new SocketUnavailable({ message: `cannot remove the stale socket ${path}: ${String(error)}` })
    })
  })

export const removeSocketFile = (path: string): Effect.Effect<void> =>
  Effect.promise(() => Fs.rm(path, { force: true }).catch(() => undefined))
