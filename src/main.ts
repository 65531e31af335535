import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { SimulationLive } from "../layers/simulation/SimulationLive.js"
import { call } from "./cli/call.js"
import { type Command, type LogLevelName, parseCommandLine } from "./cli/options.js"
import { DriverLive } from "./DriverLive.js"
import { JsonLoggerLive } from "./observability/JsonLogger.js"
import { VENDOR_VERSION } from "./version.js"

const logLevels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const
const logLevelOf = (command: Command): LogLevelName =>
  command._tag === "Serve" || command._tag === "Sim" ? command.options.logLevel : "info"

const run = (command: Command): Effect.Effect<void, unknown> => {
  switch (command._tag) {
    case "Help":
      return Console.log(command.text)
    case "Version":
      return Console.log(VENDOR_VERSION)
    case "Serve":
      return Layer.launch(DriverLive(command.options))
    case "Sim":
      return Layer.launch(SimulationLive(command.options))
    case "Call":
      return call(command.options).pipe(
        Effect.catchTag("CallFailed", (failed) =>
          Console.error(failed.message).pipe(Effect.andThen(Effect.sync(() => { process.exitCode = 1 }))))
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

const parsed = parseCommandLine(process.argv.slice(2), process.env)
if (Result.isFailure(parsed)) {
  process.stderr.write(`azurelustre-csi: ${parsed.failure.message}\n`)
  process.exitCode = 2
} else {
  const command = parsed.success
  const program = run(command).pipe(
    Effect.tapCause(logWhyItStopped),
    Effect.provide(JsonLoggerLive(logLevels[logLevelOf(command)]))
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    // SIGTERM is how Kubernetes stops a pod: a drained shutdown is a clean exit.
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
  })
}
