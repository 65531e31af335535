import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { MgsAddress, parseMgsAddress } from "../../src/domain/MgsAddress.js"

const Octet = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
const Octets = Schema.Tuple([Octet, Octet, Octet, Octet])
const HostFirstOctet = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 223 }))
const NonHostFirstOctet = Schema.Union([Schema.Literal(0), Schema.Int.check(Schema.isBetween({ minimum: 224, maximum: 255 }))])
const decode = Schema.decodeUnknownResult(MgsAddress)
const failure = (text: string) => {
  const result = parseMgsAddress(text)
  return Result.isFailure(result) ? result.failure : "accepted"
}

describe("MgsAddress (strict dotted IPv4 of a host)", () => {
  it.prop("accepts every dotted quad of octets 0-255 whose first octet is 1-223", [HostFirstOctet, Octet, Octet, Octet], ([a, b, c, d]) => {
    const text = [a, b, c, d].join(".")
    expect(parseMgsAddress(text)).toEqual(Result.succeed(text))
    expect(Result.isSuccess(decode(text))).toBe(true)
  })

  it.prop("refuses 0.0.0.0/8, multicast, reserved and broadcast, saying which and where to find the address", [NonHostFirstOctet, Octet, Octet, Octet], ([a, b, c, d]) => {
    const text = [a, b, c, d].join(".")
    const range = a === 0 ? "is in 0.0.0.0/8" : text === "255.255.255.255" ? "is the broadcast address" : a < 240 ? "is a multicast address" : "is in 240.0.0.0/4"
    expect(failure(text).startsWith(`mgs-ip-address "${text}" ${range}`)).toBe(true)
    expect(failure(text).endsWith("; use the MGS address shown in the Azure portal (Client connection), e.g. 10.0.0.4")).toBe(true)
    expect(Result.isFailure(decode(text))).toBe(true)
  })

  it.prop("values generated from the Schema parse, and are host addresses", [MgsAddress], ([address]) => {
    expect(Result.isSuccess(parseMgsAddress(address))).toBe(true)
    const first = Number(address.split(".")[0])
    expect(first >= 1 && first <= 223).toBe(true)
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
  })

  it("keeps loopback and private ranges; names each refused range", () => {
    for (const host of ["127.0.0.1", "10.0.0.4", "172.16.0.4", "192.168.1.4", "1.0.0.0", "223.255.255.255", "169.254.0.4", "100.64.0.4"]) {
      expect(parseMgsAddress(host)).toEqual(Result.succeed(host))
    }
    const fix = "use the MGS address shown in the Azure portal (Client connection), e.g. 10.0.0.4"
    expect(failure("0.0.0.0")).toBe(`mgs-ip-address "0.0.0.0" is in 0.0.0.0/8 ("this network"), which names no host; ${fix}`)
    expect(failure("0.1.2.3")).toBe(`mgs-ip-address "0.1.2.3" is in 0.0.0.0/8 ("this network"), which names no host; ${fix}`)
    expect(failure("255.255.255.255")).toBe(`mgs-ip-address "255.255.255.255" is the broadcast address, which names no host; ${fix}`)
    expect(failure("224.0.0.1")).toBe(`mgs-ip-address "224.0.0.1" is a multicast address (224.0.0.0/4), which names no host; ${fix}`)
    expect(failure("239.255.255.255")).toBe(`mgs-ip-address "239.255.255.255" is a multicast address (224.0.0.0/4), which names no host; ${fix}`)
    expect(failure("240.0.0.1")).toBe(`mgs-ip-address "240.0.0.1" is in 240.0.0.0/4, reserved and never a host; ${fix}`)
  })

  it("quotes an oversized value bounded", () => {
    expect(failure(`10.${"9".repeat(70_000)}`)).toContain("…\" (70003 characters) is not an IPv4 address")
  })

  it("the Schema's failure carries the same message", () => {
    const result = decode("10.0.0.999")
    expect(Result.isFailure(result)).toBe(true)
    if (Result.isFailure(result)) expect(String(result.failure)).toContain("mgs-ip-address \"10.0.0.999\" is not an IPv4 address")
  })
})
