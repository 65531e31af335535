/**
 * The expansion round-up rule, as ClusterExpander applies it: a cluster that already holds
 * required_bytes is answered as it is (no job); otherwise it grows to capacityForSku's size, the
 * smallest multiple of its SKU's step at least required_bytes, within the SKU's maximum and
 * limit_bytes. Checked against brute force over the SKUs the emulator sells.
 */
import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { defaultSkus } from "../../layers/azure/ArmEmulator.js"
import { defaultFakeSkus } from "../../layers/azure/AmlfsApiFake.js"
import { checkCapacityRange } from "../../src/domain/CapacityRange.js"
import { capacityBytes, holdsRequired } from "../../src/domain/ExpansionCapacity.js"
import { capacityForSku, formatBytes, type SkuCapacityRule, TIB } from "../../src/domain/SkuCapacity.js"

const catalog: ReadonlyArray<SkuCapacityRule> = defaultSkus.map(({ incrementTiB, maximumTiB, name }) => ({ name, incrementTiB, maximumTiB }))
const skuNamed = (name: string): SkuCapacityRule => catalog.find((sku) => sku.name === name)!

const SkuName = Schema.Literals(defaultSkus.map((sku) => sku.name))

/** A cluster's capacity: some number of its SKU's steps, up to the maximum. */
const Current = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))
const currentTiBOf = (n: number, sku: SkuCapacityRule) => sku.incrementTiB * (1 + (n % (sku.maximumTiB / sku.incrementTiB)))

/**
 * A size anywhere from 0 to two steps past the SKU's maximum (as a share of that span, so that
 * every SKU gets sizes on both sides of its maximum), near a whole TiB or not; or unset (0).
 */
const Size = Schema.Struct({
  per10k: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 })),
  offset: Schema.Union([Schema.Literals([-1, 0, 1]), Schema.Int.check(Schema.isBetween({ minimum: -(2 ** 30), maximum: 2 ** 30 }))]),
  unset: Schema.Boolean
})
const bytesOf = (size: typeof Size.Type, sku: SkuCapacityRule): bigint => {
  if (size.unset) return 0n
  const tib = Math.round((size.per10k / 10_000) * (sku.maximumTiB + 2 * sku.incrementTiB))
  const bytes = BigInt(tib) * TIB + BigInt(size.offset)
  return bytes < 0n ? 0n : bytes
}

/** By brute force: the first multiple of the step not below required, if it is within the maximum and the limit. */
const bruteForce = (required: bigint, limit: bigint, sku: SkuCapacityRule): bigint | undefined => {
  const step = BigInt(sku.incrementTiB) * TIB
  for (let size = step; size <= BigInt(sku.maximumTiB) * TIB; size += step) {
    if (size >= required) return limit === 0n || size <= limit ? size : undefined
  }
  return undefined
}

describe("the expansion round-up rule", () => {
  it("is exercised over the SKUs the fake ARM sells too", () => {
    for (const location of ["eastus", "westus"]) {
      const sold = defaultFakeSkus.filter((sku) => sku.location === location)
      expect(sold.map(({ incrementTiB, maximumTiB, name }) => ({ name, incrementTiB, maximumTiB }))).toEqual(catalog)
    }
  })

  it.prop(
    "no job when the cluster holds required_bytes; else the smallest step multiple ≥ required, above the current size, within maximum and limit",
    [SkuName, Current, Size, Size],
    ([skuName, n, required, limit]) => {
      const sku = skuNamed(skuName)
      const currentTiB = currentTiBOf(n, sku)
      const range = { requiredBytes: bytesOf(required, sku), limitBytes: bytesOf(limit, sku) }
      // ControllerExpandVolume refuses a malformed range before it reads the cluster.
      if (Result.isFailure(checkCapacityRange(range))) return

      const holds = holdsRequired(currentTiB, range)
      expect(holds).toBe(range.requiredBytes <= BigInt(currentTiB) * TIB)
      if (holds) return

      const step = BigInt(sku.incrementTiB) * TIB
      const result = capacityForSku(range, sku)
      const expected = bruteForce(range.requiredBytes, range.limitBytes, sku)
      if (expected !== undefined) {
        expect(result).toEqual(Result.succeed({ tib: Number(expected / TIB), bytes: expected }))
        const { bytes, tib } = Result.getOrThrow(result)
        expect(bytes % step).toBe(0n)
        expect(bytes >= range.requiredBytes).toBe(true)
        expect(bytes - step < range.requiredBytes).toBe(true)
        expect(bytes > BigInt(currentTiB) * TIB).toBe(true)
        expect(tib <= sku.maximumTiB).toBe(true)
        expect(range.limitBytes === 0n || bytes <= range.limitBytes).toBe(true)
        expect(capacityBytes(tib)).toBe(bytes)
        return
      }
      expect(Result.isFailure(result)).toBe(true)
      const refused = Result.isFailure(result) ? result.failure : undefined
      expect(refused?.code).toBe("OutOfRange")
      const rounded = ((range.requiredBytes + step - 1n) / step) * step
      if (rounded > BigInt(sku.maximumTiB) * TIB) {
        expect(refused?.message).toContain(`more than ${sku.name} allows, ${sku.maximumTiB} TiB`)
        expect(refused?.message).toContain(`ask for at most ${sku.maximumTiB} TiB`)
      } else {
        expect(refused?.message).toContain(`more than limit_bytes ${formatBytes(range.limitBytes)}`)
        expect(refused?.message).toContain(`raise the limit to at least ${formatBytes(rounded)}`)
      }
    }
  )

  it.prop(
    "a capacity ARM reports is answered in whole TiB, rounded up",
    [Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 4096 }))],
    ([tib]) => {
      const bytes = capacityBytes(tib)
      expect(bytes % TIB).toBe(0n)
      const whole = Number(bytes / TIB)
      expect(whole >= tib && whole - 1 < tib).toBe(true)
    }
  )

  it("examples on AMLFS-Durable-Premium-125 (16 TiB steps up to 128 TiB)", () => {
    const sku = skuNamed("AMLFS-Durable-Premium-125")
    const to = (requiredBytes: bigint, limitBytes = 0n) => ({ requiredBytes, limitBytes })
    expect(holdsRequired(32, to(32n * TIB))).toBe(true)
    expect(holdsRequired(32, to(32n * TIB + 1n))).toBe(false)
    expect(holdsRequired(31.5, to(32n * TIB))).toBe(true)
    expect(capacityForSku(to(40n * TIB), sku)).toEqual(Result.succeed({ tib: 48, bytes: 48n * TIB }))
    expect(capacityForSku(to(32n * TIB + 1n), sku)).toEqual(Result.succeed({ tib: 48, bytes: 48n * TIB }))
    expect(capacityForSku(to(128n * TIB), sku)).toEqual(Result.succeed({ tib: 128, bytes: 128n * TIB }))
    expect(capacityForSku(to(129n * TIB), sku)).toEqual(Result.fail({
      code: "OutOfRange",
      message: "Unsupported capacity_range: the requested 129 TiB, rounded up to a multiple of 16 TiB (144 TiB), is more than " +
        "AMLFS-Durable-Premium-125 allows, 128 TiB (maximum 128 TiB in steps of 16 TiB); ask for at most 128 TiB or choose a " +
        "SKU with a larger maximum"
    }))
    expect(capacityForSku(to(40n * TIB, 47n * TIB), sku)).toEqual(Result.fail({
      code: "OutOfRange",
      message: "Unsupported capacity_range: the requested 40 TiB, rounded up to a multiple of 16 TiB (48 TiB), is more than " +
        "limit_bytes 47 TiB; AMLFS-Durable-Premium-125 sizes are multiples of 16 TiB, so raise the limit to at least 48 TiB"
    }))
  })
})
