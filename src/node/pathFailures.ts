import type { PathEscapes, PathFailed } from "../../layers/lustre/LustreShell.js"
import { type CsiError, FailedPrecondition, Internal, InvalidArgument, Unavailable } from "../csi/errors.js"

/** errnos that say the request names something that cannot be a directory here. */
const requestErrnos = new Set(["ENOTDIR", "ELOOP", "ENAMETOOLONG", "ENOENT", "EINVAL", "EILSEQ"])
/** errnos of a Lustre mount whose servers are gone or unreachable. */
const unreachableErrnos = new Set(["ESTALE", "ENOTCONN", "EIO", "ETIMEDOUT", "EHOSTUNREACH"])
/** errnos of a filesystem that refuses the driver (permissions, a read-only filesystem). */
const refusedErrnos = new Set(["EACCES", "EPERM", "EROFS", "EDQUOT", "ENOSPC"])

/**
 * What a failure to open (or create) a directory the request names means, as a CSI answer: the
 * request's fault (INVALID_ARGUMENT naming `field`), an unreachable filesystem (UNAVAILABLE: the
 * caller retries), a filesystem that refuses (FAILED_PRECONDITION), or the node's (INTERNAL).
 */
export const pathFailure = (field: string) => (failed: PathFailed | PathEscapes): CsiError => {
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
