import { status } from "@grpc/grpc-js"
import { it } from "@effect/vitest"
import { Cause, Schema } from "effect"
import { expect } from "vitest"
import { MAX_DETAILS_BYTES, statusOfFailure } from "../../src/csi/callStatus.js"
import * as Errors from "../../src/csi/errors.js"

const errorClasses = [
  Errors.InvalidArgument, Errors.NotFound, Errors.AlreadyExists, Errors.FailedPrecondition, Errors.OutOfRange,
  Errors.ResourceExhausted, Errors.Aborted, Errors.Unavailable, Errors.DeadlineExceeded, Errors.PermissionDenied,
  Errors.Unauthenticated, Errors.Unimplemented, Errors.Internal
]
const expectedCode: Record<Errors.CsiError["_tag"], string> = {
  InvalidArgument: "INVALID_ARGUMENT", NotFound: "NOT_FOUND", AlreadyExists: "ALREADY_EXISTS",
  FailedPrecondition: "FAILED_PRECONDITION", OutOfRange: "OUT_OF_RANGE", ResourceExhausted: "RESOURCE_EXHAUSTED",
  Aborted: "ABORTED", Unavailable: "UNAVAILABLE", DeadlineExceeded: "DEADLINE_EXCEEDED",
  PermissionDenied: "PERMISSION_DENIED", Unauthenticated: "UNAUTHENTICATED", Unimplemented: "UNIMPLEMENTED",
  Internal: "INTERNAL"
}

it("covers every CSI error class, each with its own code", () => {
  expect(errorClasses.map((E) => new E({ message: "" })._tag).sort()).toEqual(Object.keys(Errors.grpcCodeOf).sort())
  expect(new Set(Object.values(Errors.grpcCodeOf)).size).toBe(errorClasses.length)
})

const ErrorIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: errorClasses.length - 1 }))

it.prop(
  "a tagged CSI error answers its own code with its message, verbatim when well-formed and within the bound",
  [ErrorIndex, Schema.String],
  ([index, message]) => {
    const ErrorClass = errorClasses[index]!
    const error = new ErrorClass({ message })
    const answer = statusOfFailure(Cause.fail(error), "c-1")
    expect(status[answer.code]).toBe(expectedCode[error._tag])
    expect(answer.details).toBe(message.toWellFormed())
  }
)

it.prop(
  "details are cut to the bound on a character boundary, saying so",
  [ErrorIndex, Schema.Literals(["a", "é", "你", "😀"]), Schema.Int.check(Schema.isBetween({ minimum: 1000, maximum: 70_000 }))],
  ([index, character, count]) => {
    const ErrorClass = errorClasses[index]!
    const message = `volume ${character.repeat(count)}`
    const answer = statusOfFailure(Cause.fail(new ErrorClass({ message })), "c-1")
    const bytes = Buffer.byteLength(message)
    expect(Buffer.byteLength(answer.details)).toBeLessThanOrEqual(MAX_DETAILS_BYTES)
    expect(answer.details.isWellFormed()).toBe(true)
    if (bytes > MAX_DETAILS_BYTES) {
      expect(answer.details).toMatch(new RegExp(`^volume ${character}+… \\(cut: the message was ${bytes} bytes\\)$`, "u"))
    } else expect(answer.details).toBe(message)
  }
)

it.prop("a defect answers INTERNAL without leaking it, pointing at the log", [Schema.String], ([secretish]) => {
  const answer = statusOfFailure(Cause.die(new Error(`defect:${secretish}`)), "corr-7")
  expect(answer.code).toBe(status.INTERNAL)
  expect(answer.details).not.toContain(`defect:${secretish}`)
  expect(answer.details).toContain("corr-7")
})

it.prop("an unknown failure value answers INTERNAL", [Schema.String], ([value]) => {
  expect(statusOfFailure(Cause.fail({ _tag: "SomethingElse", message: value }), "c").code).toBe(status.INTERNAL)
})

it("an interruption answers CANCELLED", () => {
  expect(statusOfFailure(Cause.interrupt(1), "c").code).toBe(status.CANCELLED)
})
