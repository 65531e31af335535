import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { elapsedText } from "../../src/domain/ElapsedText.js"

describe("elapsed time in Events", () => {
  it("seconds under two minutes, whole minutes beyond", () => {
    expect(elapsedText(20_000)).toBe("20 s")
    expect(elapsedText(119_000)).toBe("119 s")
    expect(elapsedText(120_000)).toBe("2 minutes")
    expect(elapsedText(9 * 60_000 + 20_000)).toBe("9 minutes")
  })

  it.prop("never says 0 minutes nor more than 119 s", [Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 ** 8 }))], ([millis]) => {
    const text = elapsedText(millis)
    expect(text).not.toBe("0 minutes")
    expect(text).toMatch(/^(\d+ s|\d+ minutes)$/)
    if (text.endsWith(" s")) expect(Number.parseInt(text, 10)).toBeLessThanOrEqual(120)
  })
})
