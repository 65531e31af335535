import * as grpc from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Predicate from "effect/Predicate"
import * as References from "effect/References"
import { randomBytes } from "node:crypto"
import { bounded } from "../domain/BoundedText.js"
import { grpcCallRecorder } from "../observability/metrics.js"
import { type CallStatus, deadlineExceeded, ok, statusOfFailure } from "./callStatus.js"
import type { CsiError } from "./errors.js"
import { loggableMessage } from "./redact.js"

/** A CSI RPC as the driver writes it: a request in, an Effect out. */
export type Program<Req, Res, R> = (request: Req) => Effect.Effect<Res, CsiError, R>

export type UnaryAdapter<R> = <Req, Res>(method: string, program: Program<Req, Res, R>) => grpc.handleUnaryCall<Req, Res>

export interface ServerShutdownState {
  cutReason: string | undefined
}

/**
 * Set by the CSI server when it cuts the calls still running at the end of its drain: the reason
 * a cut call's log line gives instead of "cancelled by the caller". Each server provides its own.
 */
export const ServerShutdown = Context.Reference<ServerShutdownState>("azurelustre/csi/ServerShutdown", {
  defaultValue: () => ({ cutReason: undefined })
})

const CORRELATION_HEADER = "x-correlation-id"

/**
 * Calls that only read the plugin's state, which sidecars and kubelet repeat all day (the
 * livenessprobe's Probe every few seconds on every node): an answer OK is logged at debug, not
 * info. Their failures are logged as every call's are, and every call is counted in the metrics.
 */
const STATUS_READS: ReadonlySet<string> = new Set([
  "Probe",
  "GetPluginInfo",
  "GetPluginCapabilities",
  "NodeGetCapabilities",
  "NodeGetInfo",
  "ControllerGetCapabilities"
])

// Unique per call and cheap: a random prefix per process, then a counter.
const processPrefix = randomBytes(4).toString("hex")
let callCounter = 0

const correlationIdOf = (metadata: grpc.Metadata): string => {
  const given = metadata.get(CORRELATION_HEADER)[0]
  return typeof given === "string" && /^[\w.-]{1,64}$/.test(given) ? given : `${processPrefix}-${(++callCounter).toString(36)}`
}

const deadlineHasPassed = (deadline: grpc.Deadline): boolean =>
  (deadline instanceof Date ? deadline.getTime() : deadline) <= Date.now()

/** A request field for the log line, bounded: the request's own size is not the log's. */
const stringField = (request: unknown, field: string): string | undefined =>
  Predicate.hasProperty(request, field) && Predicate.isString(request[field]) && request[field] !== ""
    ? bounded(request[field])
    : undefined

/**
 * Runs each call's program as a fiber on the driver's services. The caller cancelling, or its
 * deadline passing, interrupts the fiber (so finalizers run and locks are released). Each call
 * is logged as one JSON line; secrets never reach it.
 */
export const makeUnary = <R>(services: Context.Context<R>): UnaryAdapter<R> => {
  const annotations = Context.get(services, References.CurrentLogAnnotations)
  // Each call's fiber starts with its method and correlation id among the log annotations: one
  // context per call, where Effect.annotateLogs would also swap it back when the program ends.
  const runAnnotated = (method: string, correlationId: string) =>
    Effect.runForkWith(Context.add(services, References.CurrentLogAnnotations, { ...annotations, method, correlationId }))
  const logsDebug = ["Debug", "Trace", "All"].includes(Context.get(services, References.MinimumLogLevel))
  const shutdown = Context.get(services, ServerShutdown)

  return <Req, Res>(method: string, program: Program<Req, Res, R>): grpc.handleUnaryCall<Req, Res> => {
    const recordCall = grpcCallRecorder(method)
    const logSuccess = STATUS_READS.has(method) ? Effect.logDebug : Effect.logInfo
    // A status read answered OK below --log-level debug is counted, and its log line not even made.
    const logsSuccess = logsDebug || !STATUS_READS.has(method)
    return (call, callback) => {
      const correlationId = correlationIdOf(call.metadata)
      const volumeId = stringField(call.request, "volumeId")
      const volumeName = stringField(call.request, "name")
      const started = performance.now()
      let cancelledAtDeadline = false
      let cutByShutdown: string | undefined
      let answer: CallStatus = ok

      const logCall = (exit: Exit.Exit<Res, CsiError>) => {
        answer = Exit.isSuccess(exit)
          ? ok
          : cancelledAtDeadline
          ? deadlineExceeded
          : cutByShutdown !== undefined
          ? { code: grpc.status.UNAVAILABLE, details: cutByShutdown }
          : statusOfFailure(exit.cause, correlationId)
        const code = grpc.status[answer.code]
        const durationMs = performance.now() - started
        if (Exit.isSuccess(exit) && !logsSuccess) return recordCall(code, durationMs)
        const line = {
          method,
          code,
          durationMs: Math.round(durationMs * 1000) / 1000,
          correlationId,
          ...(volumeId !== undefined && { volumeId }),
          ...(volumeName !== undefined && { volumeName }),
          ...(answer.details !== "" && { details: answer.details }),
          ...(logsDebug && { request: loggableMessage(call.request) })
        }
        const log = Exit.isSuccess(exit)
          ? logSuccess("CSI call").pipe(Effect.annotateLogs(line))
          : answer.code === grpc.status.INTERNAL
          ? Effect.logError("CSI call").pipe(Effect.annotateLogs({ ...line, cause: Cause.pretty(exit.cause) }))
          : Effect.logWarning("CSI call").pipe(Effect.annotateLogs(line))
        return Effect.andThen(recordCall(code, durationMs), log)
      }

      const fiber = runAnnotated(method, correlationId)(program(call.request).pipe(Effect.onExit(logCall)))
      call.once("cancelled", () => {
        cancelledAtDeadline = deadlineHasPassed(call.getDeadline())
        cutByShutdown = shutdown.cutReason
        fiber.interruptUnsafe()
      })
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) callback(null, exit.value)
        else callback({ code: answer.code, details: answer.details, metadata: new grpc.Metadata() })
      })
    }
  }
}
