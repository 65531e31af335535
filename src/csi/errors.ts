import { status } from "@grpc/grpc-js"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

// One tagged error per gRPC code a CSI RPC may answer. Every message says what was wrong and
// what to do about it; it is sent to the CO verbatim, so it never carries a secret.
const fields = { message: Schema.String }

export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", fields) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", fields) {}
export class FailedPrecondition extends Schema.TaggedError<FailedPrecondition>()("FailedPrecondition", fields) {}
export class OutOfRange extends Schema.TaggedError<OutOfRange>()("OutOfRange", fields) {}
export class ResourceExhausted extends Schema.TaggedError<ResourceExhausted>()("ResourceExhausted", fields) {}
export class Aborted extends Schema.TaggedError<Aborted>()("Aborted", fields) {}
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", fields) {}
export class DeadlineExceeded extends Schema.TaggedError<DeadlineExceeded>()("DeadlineExceeded", fields) {}
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", fields) {}
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", fields) {}
export class Unimplemented extends Schema.TaggedError<Unimplemented>()("Unimplemented", fields) {}
export class Internal extends Schema.TaggedError<Internal>()("Internal", fields) {}

export type CsiError =
  | InvalidArgument
  | NotFound
  | AlreadyExists
  | FailedPrecondition
  | OutOfRange
  | ResourceExhausted
  | Aborted
  | Unavailable
  | DeadlineExceeded
  | PermissionDenied
  | Unauthenticated
  | Unimplemented
  | Internal

export const CsiError = Schema.Union([
  InvalidArgument,
  NotFound,
  AlreadyExists,
  FailedPrecondition,
  OutOfRange,
  ResourceExhausted,
  Aborted,
  Unavailable,
  DeadlineExceeded,
  PermissionDenied,
  Unauthenticated,
  Unimplemented,
  Internal
])

export const grpcCodeOf: { readonly [Tag in CsiError["_tag"]]: status } = {
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  FailedPrecondition: status.FAILED_PRECONDITION,
  OutOfRange: status.OUT_OF_RANGE,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  Aborted: status.ABORTED,
  Unavailable: status.UNAVAILABLE,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  PermissionDenied: status.PERMISSION_DENIED,
  Unauthenticated: status.UNAUTHENTICATED,
  Unimplemented: status.UNIMPLEMENTED,
  Internal: status.INTERNAL
}

export const isCsiError = (u: unknown): u is CsiError =>
  Predicate.hasProperty(u, "_tag") && Predicate.isString(u._tag) && Object.hasOwn(grpcCodeOf, u._tag) &&
  Predicate.hasProperty(u, "message") && Predicate.isString(u.message)
