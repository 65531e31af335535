import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { expansionAttemptOf, expansionJobName } from "../../src/domain/ExpansionJobName.js"

const Tib = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 }))
const Attempt = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000 }))

describe("expansionJobName", () => {
  it("names the first attempt without a number, later ones with theirs", () => {
    expect(expansionJobName(48, 1)).toBe("expand-to-48tib")
    expect(expansionJobName(48, 2)).toBe("expand-to-48tib-2")
  })

  it.prop("reads back the attempt of its own names, for its capacity only", [Tib, Attempt], ([tib, attempt]) => {
    const name = expansionJobName(tib, attempt)
    expect(name).toMatch(/^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/)
    expect(expansionAttemptOf(tib, name)).toBe(attempt)
    expect(expansionAttemptOf(tib + 1, name)).toBeUndefined()
  })

  it("ignores jobs the driver did not name", () => {
    expect(expansionAttemptOf(48, "grow-by-hand")).toBeUndefined()
    expect(expansionAttemptOf(48, "expand-to-48tib-1")).toBeUndefined()
    expect(expansionAttemptOf(48, "expand-to-48tib-x")).toBeUndefined()
  })
})
