import * as Result from "effect/Result"

/** The CSI CapacityRange: 0 means "not set" for both fields. */
export interface CapacityRange {
  readonly requiredBytes: bigint
  readonly limitBytes: bigint
}

/**
 * A range the spec forbids is malformed (INVALID_ARGUMENT for every RPC that takes one):
 * CapacityRange says both fields "MUST NOT be negative", and a limit below the requirement asks
 * for nothing at all.
 */
export const checkCapacityRange = (range: CapacityRange): Result.Result<CapacityRange, string> => {
  const { limitBytes, requiredBytes } = range
  if (requiredBytes < 0n || limitBytes < 0n) {
    return Result.fail(
      `capacity_range is negative (required_bytes ${requiredBytes}, limit_bytes ${limitBytes}); ` +
        `sizes must be 0 (not set) or positive`
    )
  }
  if (limitBytes > 0n && limitBytes < requiredBytes) {
    return Result.fail(
      `capacity_range limit_bytes ${limitBytes} is below required_bytes ${requiredBytes}; ` +
        `the limit must be at least the required size`
    )
  }
  return Result.succeed(range)
}
