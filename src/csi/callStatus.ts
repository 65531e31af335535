import { status } from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import { cutToUtf8Bytes } from "../domain/BoundedText.js"
import { grpcCodeOf, isCsiError } from "./errors.js"

export interface CallStatus {
  readonly code: status
  readonly details: string
}

/**
 * The most status details sent, in bytes of UTF-8. grpc-js sends them percent-encoded in one
 * HTTP/2 trailer; one over the peer's header list limit is never delivered and the call hangs.
 */
export const MAX_DETAILS_BYTES = 2048

/** Messages quote request values bounded already; this is the last safety net. */
export const boundedDetails = (message: string): string =>
  cutToUtf8Bytes(message, MAX_DETAILS_BYTES, (total) => `… (cut: the message was ${total} bytes)`)

export const ok: CallStatus = { code: status.OK, details: "" }

export const deadlineExceeded: CallStatus = {
  code: status.DEADLINE_EXCEEDED,
  details: "the caller's deadline passed before the driver finished; the CO retries with the same request"
}

/**
 * The status a failed RPC answers. A tagged CSI error answers its own code and message (bounded); an
 * interruption is the caller going away; anything else is a bug in the driver, answered INTERNAL
 * without leaking the defect (the adapter logs the cause with the call's correlation id).
 */
export const statusOfFailure = (cause: Cause.Cause<unknown>, correlationId: string): CallStatus => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error) && isCsiError(error.value)) {
    return { code: grpcCodeOf[error.value._tag], details: boundedDetails(error.value.message) }
  }
  if (Option.isNone(error) && Cause.hasInterruptsOnly(cause)) {
    return { code: status.CANCELLED, details: "the call was cancelled by the caller" }
  }
  return {
    code: status.INTERNAL,
    details: `internal error in the driver; its log has the cause under correlationId ${correlationId}`
  }
}
