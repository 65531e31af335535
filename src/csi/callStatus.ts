import { status } from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import { grpcCodeOf, isCsiError } from "./errors.js"

export interface CallStatus {
  readonly code: status
  readonly details: string
}

export const ok: CallStatus = { code: status.OK, details: "" }

export const deadlineExceeded: CallStatus = {
  code: status.DEADLINE_EXCEEDED,
  details: "the caller's deadline passed before the driver finished; the CO retries with the same request"
}

/**
 * The status a failed RPC answers. A tagged CSI error answers its own code and message; an
 * interruption is the caller going away; anything else is a bug in the driver, answered INTERNAL
 * without leaking the defect (the adapter logs the cause with the call's correlation id).
 */
export const statusOfFailure = (cause: Cause.Cause<unknown>, correlationId: string): CallStatus => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error) && isCsiError(error.value)) {
    return { code: grpcCodeOf[error.value._tag], details: error.value.message }
  }
  if (Option.isNone(error) && Cause.hasInterruptsOnly(cause)) {
    return { code: status.CANCELLED, details: "the call was cancelled by the caller" }
  }
  return {
    code: status.INTERNAL,
    details: `internal error in the driver; its log has the cause under correlationId ${correlationId}`
  }
}
