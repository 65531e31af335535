import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { ChildProcess, type ChildProcessSpawner, CommandLine } from "effect/process"
import { CommandFailed, interruptWithin, type KillTimings } from "../lustre/command.js"

/**
 * Running lfs for its per-file output. `makeRunCommand` (layers/lustre/command.ts) answers stdout
 * only when the exit status is 0, but `lfs hsm_state a b c` exits non-zero when any one file
 * fails and still prints the others (2.16), or prints those before the failure (2.15): those
 * lines are what tell the good files from the bad. So this runs lfs the same way (argument
 * array, no shell, C locale, process group killed on interrupt, a bounded wait for a process
 * the kernel holds) and answers the exit status with both outputs.
 */
export interface LfsOutput {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** stderr beyond this is cut: lfs says what is wrong in a line a file. */
const maxStderr = 16 * 1024

const text = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

/** The first `maxStderr` characters of a stream, which is read to its end so the writer never blocks. */
const clippedText = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  stream.pipe(
    Stream.decodeText(),
    Stream.runFold(() => "", (kept, piece) => kept.length >= maxStderr ? kept : (kept + piece).slice(0, maxStderr))
  )

const lfsCommand = (command: string, args: ReadonlyArray<string>, timings: KillTimings) =>
  ChildProcess.make(command, args, { env: { LC_ALL: "C" }, extendEnv: true, stdin: "ignore", forceKillAfter: timings.forceKillAfter })

const couldNotRun = (commandLine: string, reason: string) =>
  new CommandFailed({ commandLine, exitCode: undefined, stderr: reason, message: `${commandLine}: ${reason}` })

/** `command args...`, answering its exit status, stdout and stderr; fails only when it could not run or was killed. */
export const makeRunLfs = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], timings: KillTimings) =>
(command: string, args: ReadonlyArray<string>): Effect.Effect<LfsOutput, CommandFailed> => {
  const commandLine = CommandLine.display([command, ...args])
  return Effect.gen(function*() {
    const handle = yield* spawner.spawn(lfsCommand(command, args, timings))
    const [stdout, stderr] = yield* Effect.all([text(handle.stdout), clippedText(handle.stderr)], { concurrency: 2 })
    const exitCode = yield* handle.exitCode
    return { exitCode, stdout, stderr }
  }).pipe(
    Effect.scoped,
    Effect.catchTag("PlatformError", (error) => Effect.fail(couldNotRun(commandLine, error.message))),
    interruptWithin(timings.interruptGrace),
    Effect.withSpan("runLfs", { attributes: { command: command, subcommand: args[0] } })
  )
}

/**
 * `command args...`'s stdout as a stream, for output too large to hold (`lfs find` over a
 * filesystem of millions of files). The process writes into a small buffer, so it waits while
 * the stream's reader is busy; the stream fails at its end when the exit status is not 0. Ending
 * the stream early (or interrupting its reader) kills the process group, waiting at most
 * `interruptGrace` for it, as `makeRunCommand` does.
 */
export const makeStreamLfs = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], timings: KillTimings) =>
(command: string, args: ReadonlyArray<string>): Stream.Stream<Uint8Array, CommandFailed> => {
  const commandLine = CommandLine.display([command, ...args])
  return Stream.callback<Uint8Array, CommandFailed>(
    (queue) =>
      Effect.gen(function*() {
        const handle = yield* spawner.spawn(lfsCommand(command, args, timings))
        const stderr = yield* Effect.forkChild(clippedText(handle.stderr))
        yield* Stream.runForEach(handle.stdout, (chunk) => Queue.offer(queue, chunk))
        const exitCode = yield* handle.exitCode
        const said = (yield* Fiber.join(stderr)).trim()
        if (exitCode !== 0) {
          return yield* new CommandFailed({
            commandLine,
            exitCode,
            stderr: said,
            message: `${commandLine}: exit status ${exitCode}${said === "" ? "" : `: ${said}`}`
          })
        }
        yield* Queue.end(queue)
      }).pipe(
        Effect.scoped,
        Effect.catchTag("PlatformError", (error) => Effect.fail(couldNotRun(commandLine, error.message))),
        interruptWithin(timings.interruptGrace)
      ),
    { bufferSize: 16, strategy: "suspend" }
  )
}
