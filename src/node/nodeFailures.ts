import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { MountFailed, PathEscapes, PathFailed } from "../../layers/lustre/LustreShell.js"
import { type CsiError, FailedPrecondition, Internal, InvalidArgument, Unavailable } from "../csi/errors.js"

/**
 * What the node plugin's failures mean to the CO, in one place (as armFailure.ts is for ARM):
 * the request's fault (INVALID_ARGUMENT), a filesystem or server that does not answer
 * (UNAVAILABLE: the caller retries), a filesystem that refuses (FAILED_PRECONDITION), or the
 * node's own trouble (INTERNAL).
 */

/** A node step (an LNet ping, a mount, a statfs, an unmount) that did not finish in time. */
export class StepTimedOut extends Schema.TaggedError<StepTimedOut>()("StepTimedOut", {
  step: Schema.String,
  message: Schema.String
}) {}

/** Bounds `self`: past `limit` it is interrupted and fails with StepTimedOut naming `step`. */
export const within = (limit: Duration.Duration, step: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(self, {
    duration: limit,
    orElse: () => Effect.fail(new StepTimedOut({ step, message: `${step} did not finish within ${Duration.format(limit)}` }))
  })

/** errnos that say the request names something that cannot be a directory here. */
const requestErrnos = new Set(["ENOTDIR", "ELOOP", "ENAMETOOLONG", "ENOENT", "EINVAL", "EILSEQ"])
/** errnos of a Lustre mount whose servers are gone or unreachable. */
const unreachableErrnos = new Set(["ESTALE", "ENOTCONN", "EIO", "ETIMEDOUT", "EHOSTUNREACH"])
/** errnos of a filesystem that refuses the driver (permissions, a read-only filesystem). */
const refusedErrnos = new Set(["EACCES", "EPERM", "EROFS", "EDQUOT", "ENOSPC"])

/** A directory the request names (`field`: sub-dir, target_path) that could not be opened or made. */
export const pathFailure = (field: string) => (failed: PathFailed | PathEscapes | StepTimedOut): CsiError => {
  if (failed._tag === "StepTimedOut") {
    return new Unavailable({ message: `${field}: ${failed.message}; the filesystem does not answer, the caller retries` })
  }
  if (failed._tag === "PathEscapes") return new InvalidArgument({ message: `${field}: ${failed.message}` })
  if (requestErrnos.has(failed.code)) return new InvalidArgument({ message: `${field}: ${failed.message}` })
  if (unreachableErrnos.has(failed.code)) {
    return new Unavailable({ message: `${field}: ${failed.message}; the filesystem does not answer, the caller retries` })
  }
  if (refusedErrnos.has(failed.code)) {
    return new FailedPrecondition({ message: `${field}: ${failed.message}; fix the directory's permissions or free space` })
  }
  return new Internal({ message: `${field}: ${failed.message}` })
}

/** Mounting Lustre failed or hung: the servers or the network, which may heal. */
export const lustreMountFailure = (label: string) => (failed: MountFailed | StepTimedOut): CsiError =>
  new Unavailable({
    message: failed._tag === "StepTimedOut"
      ? `${failed.message}; the MGS or the OSTs of ${label} may be unreachable from this node; the caller retries`
      : `cannot mount ${label}: ${failed.message}; the caller retries`
  })

/** The MGS did not answer an LNet ping, or not in time. */
export const mgsUnreachable = (mgsAddress: string, label: string) => (failed: { readonly message: string }): CsiError =>
  new Unavailable({
    message: `the MGS ${mgsAddress} of ${label} does not answer an LNet ping (${failed.message}); ` +
      "check that the node can reach it (NSG rules, the AMLFS subnet, LNet on the node)"
  })

/** A step on the node's own disk or mount table that should not fail: the node's trouble. */
export const internalFailure = (doing: string) => (failed: { readonly message: string }): CsiError =>
  new Internal({ message: `cannot ${doing}: ${failed.message}` })
