import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { capacityForSku, formatBytes, TIB } from "../../src/domain/SkuCapacity.js"

const Sku = Schema.Struct({
  name: Schema.Literals(["AMLFS-Durable-Premium-40", "AMLFS-Durable-Premium-125", "X"]),
  incrementTiB: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })),
  maximumTiB: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1024 }))
})

/** A size near a whole number of TiB (where rounding bugs live), or anywhere. */
const Size = Schema.Struct({
  tib: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1100 })),
  offset: Schema.Union([Schema.Literals([-1, 0, 1]), Schema.Int.check(Schema.isBetween({ minimum: -(2 ** 30), maximum: 2 ** 30 }))]),
  unset: Schema.Boolean
})
const bytesOf = (size: typeof Size.Type): bigint => {
  if (size.unset) return 0n
  const bytes = BigInt(size.tib) * TIB + BigInt(size.offset)
  return bytes < 0n ? 0n : bytes
}

/** The answer by brute force: the first multiple of the increment, within the maximum, not below required. */
const oracle = (required: bigint, limit: bigint, sku: typeof Sku.Type): bigint | undefined => {
  const step = BigInt(sku.incrementTiB) * TIB
  for (let k = 1n; k * step <= BigInt(sku.maximumTiB) * TIB; k++) {
    const size = k * step
    if (size >= required) return limit === 0n || size <= limit ? size : undefined
  }
  return undefined
}

describe("capacityForSku", () => {
  it.prop("the smallest multiple of the increment ≥ required, ≤ maximum and ≤ limit; OUT_OF_RANGE exactly when none exists", [Size, Size, Sku], ([required, limit, sku]) => {
    const requiredBytes = bytesOf(required)
    const limitBytes = bytesOf(limit)
    const result = capacityForSku({ requiredBytes, limitBytes }, sku)
    if (limitBytes !== 0n && limitBytes < requiredBytes) {
      expect(Result.isFailure(result) && result.failure.code).toBe("InvalidArgument")
      return
    }
    const expected = oracle(requiredBytes, limitBytes, sku)
    if (expected === undefined) {
      expect(Result.isFailure(result) && result.failure.code).toBe("OutOfRange")
      return
    }
    expect(result).toEqual(Result.succeed({ tib: Number(expected / TIB), bytes: expected }))
    if (Result.isSuccess(result)) {
      const { bytes, tib } = result.success
      expect(bytes % (BigInt(sku.incrementTiB) * TIB)).toBe(0n)
      expect(bytes >= requiredBytes && bytes > 0n).toBe(true)
      expect(tib <= sku.maximumTiB).toBe(true)
      expect(limitBytes === 0n || bytes <= limitBytes).toBe(true)
      expect(BigInt(tib) * TIB).toBe(bytes)
    }
  })

  it.prop("negative sizes and a limit below the requirement are INVALID_ARGUMENT", [Sku, Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2 ** 40 }))], ([sku, n]) => {
    const big = BigInt(n)
    for (
      const range of [
        { requiredBytes: -big, limitBytes: 0n },
        { requiredBytes: 0n, limitBytes: -big },
        { requiredBytes: big + 1n, limitBytes: big }
      ]
    ) {
      const result = capacityForSku(range, sku)
      expect(Result.isFailure(result) && result.failure.code).toBe("InvalidArgument")
    }
  })

  const premium40 = { name: "AMLFS-Durable-Premium-40", incrementTiB: 48, maximumTiB: 768 }
  const premium500 = { name: "AMLFS-Durable-Premium-500", incrementTiB: 4, maximumTiB: 128 }

  it("examples", () => {
    expect(capacityForSku({ requiredBytes: 0n, limitBytes: 0n }, premium40)).toEqual(Result.succeed({ tib: 48, bytes: 48n * TIB }))
    expect(capacityForSku({ requiredBytes: 1n, limitBytes: 0n }, premium40)).toEqual(Result.succeed({ tib: 48, bytes: 48n * TIB }))
    expect(capacityForSku({ requiredBytes: 48n * TIB + 1n, limitBytes: 0n }, premium40)).toEqual(Result.succeed({ tib: 96, bytes: 96n * TIB }))
    expect(capacityForSku({ requiredBytes: 768n * TIB, limitBytes: 768n * TIB }, premium40)).toEqual(Result.succeed({ tib: 768, bytes: 768n * TIB }))
    expect(capacityForSku({ requiredBytes: 10n * TIB, limitBytes: 0n }, premium500)).toEqual(Result.succeed({ tib: 12, bytes: 12n * TIB }))

    const over = capacityForSku({ requiredBytes: 800n * TIB, limitBytes: 0n }, premium40)
    expect(over).toEqual(Result.fail({
      code: "OutOfRange",
      message: "Unsupported capacity_range: the requested 800 TiB, rounded up to a multiple of 48 TiB (816 TiB), is more than " +
        "AMLFS-Durable-Premium-40 allows, 768 TiB (maximum 768 TiB in steps of 48 TiB); ask for at most 768 TiB or choose a SKU " +
        "with a larger maximum"
    }))
    const limited = capacityForSku({ requiredBytes: 0n, limitBytes: 10n * TIB }, premium40)
    expect(limited).toEqual(Result.fail({
      code: "OutOfRange",
      message: "Unsupported capacity_range: the default size, one increment of 48 TiB, is more than limit_bytes 10 TiB; " +
        "AMLFS-Durable-Premium-40 sizes are multiples of 48 TiB, so raise the limit to at least 48 TiB"
    }))
    const between = capacityForSku({ requiredBytes: 49n * TIB, limitBytes: 95n * TIB }, premium40)
    expect(Result.isFailure(between) && between.failure.code).toBe("OutOfRange")
    expect(Result.isFailure(between) && between.failure.message).toContain("raise the limit to at least 96 TiB")

    const malformed = capacityForSku({ requiredBytes: 5n * TIB, limitBytes: 4n * TIB }, premium40)
    expect(malformed).toEqual(Result.fail({
      code: "InvalidArgument",
      message: `capacity_range limit_bytes ${4n * TIB} is below required_bytes ${5n * TIB}; the limit must be at least the required size`
    }))
    const broken = capacityForSku({ requiredBytes: 0n, limitBytes: 0n }, { name: "odd", incrementTiB: 0, maximumTiB: 10 })
    expect(Result.isFailure(broken) && broken.failure.code).toBe("InvalidArgument")
    expect(formatBytes(TIB + 1n)).toBe(`${TIB + 1n} bytes (1.00 TiB)`)
  })
})
