import * as Result from "effect/Result"
import { type CapacityRange, checkCapacityRange } from "./CapacityRange.js"

/** 1 TiB in bytes: AMLFS sizes are whole TiB, CSI sizes are bytes. */
export const TIB = 1n << 40n

/** What a SKU allows in one location (from the Microsoft.StorageCache/skus capabilities). */
export interface SkuCapacityRule {
  readonly name: string
  /** "OSS capacity increment (TiB)": every size is a multiple of it; also the smallest size. */
  readonly incrementTiB: number
  /** "default maximum capacity (TiB)". */
  readonly maximumTiB: number
}

export type { CapacityRange }

export interface ClusterCapacity {
  readonly tib: number
  readonly bytes: bigint
}

export interface CapacityRefused {
  readonly code: "OutOfRange" | "InvalidArgument"
  readonly message: string
}

/** "48 TiB", or the exact bytes with the TiB they round to when not a whole number of TiB. */
export const formatBytes = (bytes: bigint): string =>
  bytes % TIB === 0n ? `${bytes / TIB} TiB` : `${bytes} bytes (${(Number(bytes) / Number(TIB)).toFixed(2)} TiB)`

const invalid = (message: string): Result.Result<never, CapacityRefused> =>
  Result.fail({ code: "InvalidArgument", message })

const outOfRange = (message: string): Result.Result<never, CapacityRefused> =>
  Result.fail({ code: "OutOfRange", message })

/**
 * The size of the cluster to create for a CreateVolume capacity range: the smallest multiple of
 * the SKU's increment that is at least `required_bytes` (one increment when it is 0, the
 * default), provided it is within the SKU's maximum and `limit_bytes`.
 *
 * Which code, per the CSI spec:
 * - CapacityRange says both fields "MUST NOT be negative", and a limit below the requirement
 *   asks for nothing at all: the request is malformed, INVALID_ARGUMENT.
 * - A well-formed range the SKU cannot satisfy (above its maximum, or no multiple of the
 *   increment between required and limit) is CreateVolume's "Unsupported capacity_range":
 *   OUT_OF_RANGE, "the capacity range is not allowed by the Plugin", "Caller MUST fix the
 *   capacity range before retrying". (The Go driver answers INVALID_ARGUMENT for both.)
 * - A SKU record whose increment or maximum is not a positive whole number of TiB cannot be
 *   sized against; that is INVALID_ARGUMENT naming the SKU (choose another `sku-name`).
 */
export const capacityForSku = (
  range: CapacityRange,
  sku: SkuCapacityRule
): Result.Result<ClusterCapacity, CapacityRefused> => {
  const wellFormed = checkCapacityRange(range)
  if (Result.isFailure(wellFormed)) return invalid(wellFormed.failure)
  const { limitBytes, requiredBytes } = range
  if (!isWholeTiB(sku.incrementTiB) || sku.incrementTiB <= 0 || !isWholeTiB(sku.maximumTiB) || sku.maximumTiB < 0) {
    return invalid(
      `sku-name ${sku.name}: Azure reports a capacity increment of ${sku.incrementTiB} TiB and a maximum of ` +
        `${sku.maximumTiB} TiB, which cannot size a filesystem; choose another sku-name`
    )
  }
  const increment = BigInt(sku.incrementTiB) * TIB
  const largest = (BigInt(sku.maximumTiB) * TIB / increment) * increment
  const steps = requiredBytes === 0n ? 1n : (requiredBytes + increment - 1n) / increment
  const bytes = steps * increment
  const asked = requiredBytes === 0n
    ? `the default size, one increment of ${sku.incrementTiB} TiB,`
    : `the requested ${formatBytes(requiredBytes)}, rounded up to a multiple of ${sku.incrementTiB} TiB (${formatBytes(bytes)}),`
  if (bytes > largest) {
    return outOfRange(
      largest === 0n
        ? `${sku.name} offers no size here: its maximum, ${sku.maximumTiB} TiB, is below its increment of ` +
          `${sku.incrementTiB} TiB; choose another sku-name`
        : `Unsupported capacity_range: ${asked} is more than ${sku.name} allows, ${formatBytes(largest)} ` +
          `(maximum ${sku.maximumTiB} TiB in steps of ${sku.incrementTiB} TiB); ask for at most ` +
          `${formatBytes(largest)} or choose a SKU with a larger maximum`
    )
  }
  if (limitBytes > 0n && bytes > limitBytes) {
    return outOfRange(
      `Unsupported capacity_range: ${asked} is more than limit_bytes ${formatBytes(limitBytes)}; ` +
        `${sku.name} sizes are multiples of ${sku.incrementTiB} TiB, so raise the limit to at least ${formatBytes(bytes)}`
    )
  }
  return Result.succeed({ tib: Number(bytes / TIB), bytes })
}

const isWholeTiB = (tib: number): boolean => Number.isSafeInteger(tib)
