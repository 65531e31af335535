import { createHash } from "node:crypto"

/**
 * The name of the Azure Managed Lustre filesystem created for a volume. The Go driver names the
 * cluster exactly after the CreateVolume name (the PV name, `pvc-<uuid>`, which always fits ARM's
 * rule) and refuses any other name; this keeps such names unchanged, so clusters created by the
 * Go driver are found under the same name, and maps any other name to a valid one instead of
 * refusing it.
 *
 * ARM's rule for amlFilesystems (and their jobs): `^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$`,
 * 2 to 80 characters. ARM compares names case-insensitively; Kubernetes PV names are lower case,
 * so two PVs never map to one cluster by case alone.
 */
export const CLUSTER_NAME_PATTERN = /^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/

export const CLUSTER_NAME_MAX_LENGTH = 80

/** Hex digits of the SHA-256 of the original name appended to every changed name (48 bits). */
export const CLUSTER_NAME_HASH_LENGTH = 12

export const isValidClusterName = (name: string): boolean => CLUSTER_NAME_PATTERN.test(name)

/**
 * The cluster name for a CreateVolume name; deterministic, so every retry and every controller
 * replica computes the same name (what makes GET-before-PUT idempotent).
 *
 * - A valid name is kept as it is.
 * - Otherwise characters ARM does not allow become "-", leading "-" and "_" are dropped, the
 *   result is cut to leave room, and "-" plus a hash of the ORIGINAL name is appended. The hash
 *   is what keeps two names apart that differ only in replaced characters ("a.b" and "a/b") or
 *   beyond the cut; a changed name always ends with a hex digit, so it is valid.
 */
export const clusterNameFor = (volumeName: string): string => {
  if (isValidClusterName(volumeName)) return volumeName
  // UTF-16 code units, not UTF-8: UTF-8 turns every lone surrogate into U+FFFD, which would make
  // "\ud800" and "\ud803" hash (and so map) alike.
  const hash = createHash("sha256").update(volumeName, "utf16le").digest("hex").slice(0, CLUSTER_NAME_HASH_LENGTH)
  const prefix = volumeName
    .replace(/[^-0-9a-zA-Z_]/g, "-")
    .replace(/^[-_]+/, "")
    .slice(0, CLUSTER_NAME_MAX_LENGTH - 1 - CLUSTER_NAME_HASH_LENGTH)
  return prefix === "" ? hash : `${prefix}-${hash}`
}
