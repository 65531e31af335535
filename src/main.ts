import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import { type Command, type LogLevelName, parseCommandLine, type ServeOptions } from "./cli/options.js"
import { JsonLoggerLive } from "./observability/JsonLogger.js"
import { VENDOR_VERSION } from "./version.js"

// Exit codes, for every command: 0 done (a drained shutdown included), 1 failed, 2 a bad command line.
const FAILED = 1
const MISUSED = 2

const logLevels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const
const logLevelOf = (command: Command): LogLevelName =>
  command._tag === "Serve" || command._tag === "Sim" ? command.options.logLevel : "info"

const exitWith = (code: number) => Effect.sync(() => { process.exitCode = code })

/**
 * Each command loads only its own modules (the bundle splits at these imports): the node plugin,
 * on every node, never loads the controller's Azure SDK and Kubernetes client, nor the simulation.
 */
const load = <M>(module: () => Promise<M>) => Effect.promise(module)

const serve = (options: ServeOptions) => {
  const mode = options.mode
  if (mode === "node") {
    return Effect.flatMap(load(() => import("./NodeDriverLive.js")), (m) => Layer.launch(m.NodeDriverLive(options)))
  }
  return Effect.flatMap(load(() => import("./DriverLive.js")), (m) => Layer.launch(m.DriverLive({ ...options, mode })))
}

const run = (command: Command): Effect.Effect<void, unknown> => {
  switch (command._tag) {
    case "Help":
      return command.misuse ? Console.error(command.text).pipe(Effect.andThen(exitWith(MISUSED))) : Console.log(command.text)
    case "Version":
      return Console.log(VENDOR_VERSION)
    case "Serve":
      return serve(command.options)
    case "Sim":
      return Effect.flatMap(load(() => import("./SimulationLive.js")), (m) => Layer.launch(m.SimulationLive(command.options)))
    case "Call":
      return Effect.flatMap(load(() => import("./cli/call.js")), (m) => m.call(command.options)).pipe(
        Effect.catchTags({
          UsageError: (refused) => Console.error(`azurelustre-csi: ${refused.message}`).pipe(Effect.andThen(exitWith(MISUSED))),
          CallFailed: (failed) => Console.error(failed.message).pipe(Effect.andThen(exitWith(FAILED)))
        })
      )
    case "SimHsm":
      return Effect.flatMap(load(() => import("./cli/hsmCommand.js")), (m) => m.runHsmCommand(command.command)).pipe(
        Effect.catchTag("HsmCommandFailed", (failed) =>
          Console.error(`azurelustre-csi sim-hsm: ${failed.message}`).pipe(Effect.andThen(exitWith(FAILED))))
      )
  }
}

/** An expected failure (a socket in use, say) is one readable line; a defect keeps its stack. */
const logWhyItStopped = (cause: Cause.Cause<unknown>) => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.findErrorOption(cause)
  return Option.isSome(error) && error.value instanceof Error
    ? Effect.logError(`the driver stopped: ${error.value.message}`)
    : Effect.logError("the driver stopped", cause)
}

/**
 * The first SIGTERM or SIGINT drains the calls in flight (NodeRuntime interrupts the program); a
 * second one, while that drain waits, stops the process at once: someone pressed Ctrl-C again.
 */
const stopAtSecondSignal = (socketPath: string) => {
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals < 2) return
    const line = {
      time: new Date().toISOString(),
      level: "warn",
      msg: `a second ${signal} during the drain: stopping now, cutting the CSI calls still in flight`
    }
    process.stderr.write(`${JSON.stringify(line)}\n`)
    Fs.rmSync(socketPath, { force: true })
    process.exit(FAILED)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
}

const parsed = parseCommandLine(process.argv.slice(2), process.env)
if (Result.isFailure(parsed)) {
  process.stderr.write(`azurelustre-csi: ${parsed.failure.message}\n`)
  process.exitCode = MISUSED
} else {
  const command = parsed.success
  if (command._tag === "Serve" || command._tag === "Sim") stopAtSecondSignal(command.options.socketPath)
  const program = run(command).pipe(
    Effect.tapCause(logWhyItStopped),
    Effect.provide(JsonLoggerLive(logLevels[logLevelOf(command)]))
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    // SIGTERM is how Kubernetes stops a pod: a drained shutdown is a clean exit.
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : FAILED)
  })
}
