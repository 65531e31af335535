import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { MgsAddress, parseMgsAddress } from "../../src/domain/MgsAddress.js"

const Octet = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
const Octets = Schema.Tuple([Octet, Octet, Octet, Octet])
const decode = Schema.decodeUnknownResult(MgsAddress)

describe("MgsAddress (strict dotted IPv4)", () => {
  it.prop("accepts every dotted quad of octets 0-255", [Octets], ([octets]) => {
    const text = octets.join(".")
    expect(parseMgsAddress(text)).toEqual(Result.succeed(text))
    expect(Result.isSuccess(decode(text))).toBe(true)
  })

  it.prop("values generated from the Schema parse", [MgsAddress], ([address]) => {
    expect(Result.isSuccess(parseMgsAddress(address))).toBe(true)
  })

  it.prop("rejects an octet above 255", [Octets, Schema.Int.check(Schema.isBetween({ minimum: 256, maximum: 99999 })), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))], ([octets, big, at]) => {
    const parts = octets.map(String)
    parts[at] = String(big)
    expect(Result.isFailure(parseMgsAddress(parts.join(".")))).toBe(true)
  })

  it.prop("rejects leading zeros", [Octets, Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))], ([octets, at]) => {
    const parts = octets.map(String)
    parts[at] = `0${parts[at] ?? ""}`
    expect(Result.isFailure(parseMgsAddress(parts.join(".")))).toBe(true)
  })

  it.prop("rejects three or five octets and stray characters", [Octets, Schema.Literals([" ", "#", "/", ":", "a", "@tcp"])], ([octets, junk]) => {
    expect(Result.isFailure(parseMgsAddress(octets.slice(0, 3).join(".")))).toBe(true)
    expect(Result.isFailure(parseMgsAddress([...octets, 1].join(".")))).toBe(true)
    expect(Result.isFailure(parseMgsAddress(`${octets.join(".")}${junk}`))).toBe(true)
  })

  it("explains the failure with the value and where to find the address", () => {
    expect(parseMgsAddress("010.0.0.4")).toEqual(Result.fail(
      "mgs-ip-address \"010.0.0.4\" is not an IPv4 address; use the MGS address shown in the Azure portal " +
        "(Client connection), e.g. 10.0.0.4"
    ))
    for (const bad of ["", "10.0.0", "10.0.0.256", "::1", "lustre.example.com", "10.0.0.4 ", "1e1.0.0.4"]) {
      expect(Result.isFailure(parseMgsAddress(bad))).toBe(true)
      expect(Result.isFailure(decode(bad))).toBe(true)
    }
    expect(Result.isSuccess(parseMgsAddress("0.0.0.0"))).toBe(true)
    expect(Result.isSuccess(parseMgsAddress("255.255.255.255"))).toBe(true)
  })

  it("the Schema's failure carries the same message", () => {
    const result = decode("10.0.0.999")
    expect(Result.isFailure(result)).toBe(true)
    if (Result.isFailure(result)) expect(String(result.failure)).toContain("mgs-ip-address \"10.0.0.999\" is not an IPv4 address")
  })
})
