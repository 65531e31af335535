import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ChildProcess, type ChildProcessSpawner, CommandLine } from "effect/process"

/** A command that could not be started, was killed, or exited with a status other than 0. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  /** The command line, quoted for reading (not for pasting into a shell). */
  commandLine: Schema.String,
  /** The exit status, or undefined when the command did not start or was killed by a signal. */
  exitCode: Schema.UndefinedOr(Schema.Number),
  /** stderr, trimmed; for a command that did not start, why. */
  stderr: Schema.String,
  message: Schema.String
}) {}

/** How long an interrupted command may take to die before SIGKILL, and then before the caller stops waiting. */
export interface KillTimings {
  readonly forceKillAfter: Duration.Input
  readonly interruptGrace: Duration.Input
}

const defaultKillTimings: KillTimings = { forceKillAfter: "2 seconds", interruptGrace: "5 seconds" }

/** Output beyond this is cut from error messages: mount and lctl say what is wrong in a line or two. */
const maxStderr = 4096

const text = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

const clip = (output: string): string => {
  const trimmed = output.trim()
  return trimmed.length <= maxStderr ? trimmed : `${trimmed.slice(0, maxStderr)}...`
}

/**
 * Runs `self` in a fiber of its own so that an interruption waits at most `grace` for it to
 * stop. A process stuck in the kernel (a Lustre mount whose servers are gone sleeps
 * uninterruptibly) survives SIGKILL until the kernel lets go; the caller's timeout must still
 * return, and the kill goes on in the background.
 */
export const interruptWithin = (grace: Duration.Input) => <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkDetach(Effect.interruptible(self))
      return yield* restore(Fiber.join(fiber)).pipe(
        Effect.onInterrupt(() =>
          Effect.forkDetach(Fiber.interrupt(fiber)).pipe(
            Effect.andThen(Fiber.await(fiber)),
            Effect.timeoutOrElse({ duration: grace, orElse: () => Effect.void }),
            Effect.asVoid
          )
        )
      )
    })
  )

/**
 * `command args...` without a shell, in the C locale so messages read the same on every node.
 * It answers stdout. When the calling fiber is interrupted, the command's process group gets
 * SIGTERM, then SIGKILL after `forceKillAfter`.
 */
export const makeRunCommand = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], timings: KillTimings = defaultKillTimings) =>
(command: string, args: ReadonlyArray<string>): Effect.Effect<string, CommandFailed> => {
  const commandLine = CommandLine.display([command, ...args])
  const failed = (exitCode: number | undefined, stderr: string, reason: string) =>
    new CommandFailed({ commandLine, exitCode, stderr, message: `${commandLine}: ${reason}` })
  return Effect.gen(function*() {
    const handle = yield* spawner.spawn(
      ChildProcess.make(command, args, {
        env: { LC_ALL: "C" },
        extendEnv: true,
        stdin: "ignore",
        forceKillAfter: timings.forceKillAfter
      })
    )
    const [stdout, stderr] = yield* Effect.all([text(handle.stdout), text(handle.stderr)], { concurrency: 2 })
    const exitCode = yield* handle.exitCode
    if (exitCode !== 0) {
      const said = clip(stderr) || clip(stdout)
      return yield* failed(exitCode, said, `exit status ${exitCode}${said === "" ? "" : `: ${said}`}`)
    }
    return stdout
  }).pipe(
    Effect.scoped,
    Effect.catchTag("PlatformError", (error) => Effect.fail(failed(undefined, error.message, error.message))),
    interruptWithin(timings.interruptGrace),
    Effect.withSpan("runCommand", { attributes: { command: commandLine } })
  )
}
