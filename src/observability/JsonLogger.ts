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

/** The driver's logging: JSON lines on stderr from `level` up. */
export const JsonLoggerLive = (level: LogLevel.LogLevel) =>
  Layer.mergeAll(
    Logger.layer([jsonLogger((line) => process.stderr.write(line))]),
    Layer.succeed(References.MinimumLogLevel, level)
  )
