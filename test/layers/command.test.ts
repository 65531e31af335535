import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule, Sink, Stream } from "effect"
import { TestClock } from "effect/testing"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs"
import { makeRunCommand } from "../../layers/lustre/command.js"

/** Processes whose command line is exactly `argv`, from /proc. */
const processesRunning = (argv: ReadonlyArray<string>): Array<number> =>
  Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      return Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8") === `${argv.join("\0")}\0` ? [Number(pid)] : []
    } catch {
      return []
    }
  })

/** Waits (polling /proc) until exactly one process runs `argv`. */
const startedRunning = (argv: ReadonlyArray<string>) =>
  Effect.sync(() => processesRunning(argv).length).pipe(
    Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (count) => count === 1 }),
    Effect.timeout("10 seconds")
  )

const realRun = (timings?: Parameters<typeof makeRunCommand>[1]) =>
  Effect.gen(function*() {
    return makeRunCommand(yield* ChildProcessSpawner.ChildProcessSpawner, timings)
  }).pipe(Effect.provide(NodeServices.layer))

describe("running commands", () => {
  it.live("answers stdout, and fails with the command line and stderr", () =>
    Effect.gen(function*() {
      const run = yield* realRun()
      assert.strictEqual(yield* run("echo", ["a b"]), "a b\n")
      const failed = yield* Effect.flip(run("ls", ["/no/such path"]))
      assert.strictEqual(failed.commandLine, "ls '/no/such path'")
      assert.strictEqual(failed.exitCode, 2)
      assert.match(failed.stderr, /^ls: cannot access '\/no\/such path': No such file or directory$/)
      assert.match(failed.message, /^ls '\/no\/such path': exit status 2: ls: cannot access/)
      const missing = yield* Effect.flip(run("/no/such/binary", []))
      assert.strictEqual(missing.exitCode, undefined)
      assert.match(missing.message, /NotFound/)
    }))

  it.live("kills the process when the calling fiber is interrupted", () =>
    Effect.gen(function*() {
      const run = yield* realRun()
      const argv = ["sleep", "30.0417"]
      const fiber = yield* Effect.forkChild(run("sleep", ["30.0417"]))
      yield* startedRunning(argv)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(processesRunning(argv), [])
    }))

  it.live("a timeout kills the process too", () =>
    Effect.gen(function*() {
      const run = yield* realRun()
      const result = yield* run("sleep", ["30.0418"]).pipe(Effect.timeout("100 millis"), Effect.flip)
      assert.isTrue(result._tag === "TimeoutError")
      assert.deepStrictEqual(processesRunning(["sleep", "30.0418"]), [])
    }))

  it.live("SIGKILLs a process that ignores SIGTERM", () =>
    Effect.gen(function*() {
      const run = yield* realRun({ forceKillAfter: "200 millis", interruptGrace: "5 seconds" })
      // The child says when its SIGTERM handler is set, by making a file.
      const ready = `${Fs.mkdtempSync("/tmp/sigterm-")}/ready`
      const script = `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(ready)}, ''); setTimeout(() => {}, 30000)`
      const argv = [process.execPath, "-e", script]
      const fiber = yield* Effect.forkChild(run(argv[0]!, argv.slice(1)))
      yield* Effect.sync(() => Fs.existsSync(ready)).pipe(
        Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (made) => made }),
        Effect.timeout("10 seconds")
      )
      assert.strictEqual(processesRunning(argv).length, 1)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(processesRunning(argv), [])
    }))

  it.effect("stops waiting for a process that will not die (stuck in the kernel) after the grace", () =>
    Effect.gen(function*() {
      // A process whose clean-up never ends, as a process in uninterruptible sleep would.
      const stuck = ChildProcessSpawner.make(() =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Effect.never)
          return ChildProcessSpawner.makeHandle({
            pid: ChildProcessSpawner.ProcessId(4242),
            exitCode: Effect.never,
            isRunning: Effect.succeed(true),
            kill: () => Effect.never,
            stdin: Sink.drain,
            stdout: Stream.never,
            stderr: Stream.never,
            all: Stream.never,
            getInputFd: () => Sink.drain,
            getOutputFd: () => Stream.empty,
            unref: Effect.die("not supported")
          })
        })
      )
      const run = makeRunCommand(stuck, { forceKillAfter: "100 millis", interruptGrace: "200 millis" })
      const fiber = yield* Effect.forkChild(run("mount", ["-t", "lustre", "10.0.0.4@tcp:/lustrefs", "/m"]).pipe(
        Effect.timeout("100 millis"),
        Effect.flip
      ))
      yield* TestClock.adjust("100 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting out the grace")
      yield* TestClock.adjust("200 millis")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(result._tag === "TimeoutError")
    }))
})
