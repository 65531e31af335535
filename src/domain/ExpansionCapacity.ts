import type { CapacityRange } from "./CapacityRange.js"
import { TIB } from "./SkuCapacity.js"

/** A capacity ARM reports in TiB (a float), as CSI bytes: whole TiB, rounded up. */
export const capacityBytes = (tib: number): bigint => BigInt(Math.ceil(tib)) * TIB

/**
 * Whether a cluster of `currentTiB` already holds what an expansion asks for: then the answer
 * is its capacity and no job starts. Otherwise the target is capacityForSku's rounding of the
 * requirement, which is then above the current capacity, as ARM requires of an expansion job.
 */
export const holdsRequired = (currentTiB: number, range: CapacityRange): boolean =>
  capacityBytes(currentTiB) >= range.requiredBytes
