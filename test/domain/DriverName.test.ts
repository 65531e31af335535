import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { DriverName } from "../../src/domain/DriverName.js"

const decode = Schema.decodeUnknownResult(DriverName)
const Label = Schema.String.check(Schema.isPattern(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/))

describe("DriverName (CSI: domain name notation, <= 63 characters)", () => {
  it.prop("accepts dotted names of alphanumeric labels up to 63 characters", [Schema.Array(Label).check(Schema.isMinLength(1))], ([labels]) => {
    const name = labels.join(".")
    expect(Result.isSuccess(decode(name))).toBe(name.length <= 63)
  })

  it.prop("rejects a name that begins or ends with '-' or '.'", [Label, Schema.Literals(["-", "."])], ([label, edge]) => {
    expect(Result.isFailure(decode(`${edge}${label}`))).toBe(true)
    expect(Result.isFailure(decode(`${label}${edge}`))).toBe(true)
  })

  it.prop("rejects any character outside letters, digits, '-' and '.'", [Label, Schema.Literals(["_", "/", " ", "#", "é", ":"])], ([label, bad]) => {
    expect(Result.isFailure(decode(`${label}${bad}${label}`))).toBe(true)
  })

  it("accepts the default and rejects the empty name", () => {
    expect(Result.isSuccess(decode("azurelustre.csi.azure.com"))).toBe(true)
    expect(Result.isFailure(decode(""))).toBe(true)
    expect(Result.isFailure(decode("a".repeat(64)))).toBe(true)
  })
})
