import * as Cause from "effect/Cause"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"

const jsonSafe = (_key: string, value: unknown) => (typeof value === "bigint" ? value.toString() : value)

const textOf = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((part) => (typeof part === "string" ? part : JSON.stringify(part, jsonSafe))).join(" ")

/**
 * One JSON object per line: time, level, msg, then the log annotations as top-level fields
 * (method, code, durationMs, correlationId, ...), then the cause when there is one.
 */
export const jsonLogger = (write: (line: string) => void) =>
  Logger.make(({ cause, date, fiber, logLevel, message }) => {
    const record: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.toLowerCase(),
      msg: textOf(message),
      ...fiber.getRef(References.CurrentLogAnnotations)
    }
    if (cause.reasons.length > 0) record["cause"] = Cause.pretty(cause)
    write(JSON.stringify(record, jsonSafe) + "\n")
  })

/**
 * Lines written in one turn of the event loop go to stderr in one write: a write to a pipe is a
 * synchronous syscall, and one per RPC line doubled the CPU a call costs under load.
 */
const stderrPerTurn = () => {
  let pending = ""
  const flush = () => {
    if (pending === "") return
    process.stderr.write(pending)
    pending = ""
  }
  process.once("exit", flush)
  return (line: string) => {
    if (pending === "") setImmediate(flush)
    pending += line
  }
}

/** The driver's logging: JSON lines on stderr from `level` up. */
export const JsonLoggerLive = (level: LogLevel.LogLevel) =>
  Layer.mergeAll(
    Logger.layer([jsonLogger(stderrPerTurn())]),
    Layer.succeed(References.MinimumLogLevel, level)
  )
