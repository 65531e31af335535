import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { genericMountOptions, lustreMountOptions, mgsSecFlavors, validateMountOptions } from "../../src/domain/MountOptions.js"

const Flag = Schema.Literals([...genericMountOptions, ...lustreMountOptions] as [string, ...Array<string>])
const Valued = Schema.Union([
  Schema.String.check(Schema.isPattern(/^network=(?:tcp|o2ib)[0-9]{0,2}$/)),
  Schema.Literals(mgsSecFlavors.map((flavor) => `mgssec=${flavor}`) as [string, ...Array<string>]),
  Schema.String.check(Schema.isPattern(/^skpath=\/[a-z0-9/._-]{1,20}$/))
])
const Allowed = Schema.Union([Flag, Valued])
const Spacing = Schema.Literals(["", " ", "  "])
const Unknown = Schema.String.check(Schema.isPattern(/^[a-z_]{1,12}$/))

describe("MountOptions (generic and Lustre client options only)", () => {
  it.prop("accepts allowed options, however they are grouped and spaced", [Schema.Array(Schema.Array(Allowed)), Spacing], ([groups, space]) => {
    const flags = groups.map((group) => group.map((option) => `${space}${option}${space}`).join(","))
    const expected = [...new Set(groups.flat())]
    expect(validateMountOptions(flags)).toEqual(Result.succeed(expected))
  })

  it.prop("keeps first-seen order and drops duplicates and empty entries", [Schema.Array(Allowed)], ([options]) => {
    const result = validateMountOptions([...options, ",,", ...options.toReversed()])
    expect(result).toEqual(Result.succeed([...new Set(options)]))
  })

  it.prop("refuses any other option, naming it", [Schema.Array(Allowed), Unknown], ([options, unknown]) => {
    const known = new Set<string>([...genericMountOptions, ...lustreMountOptions])
    const result = validateMountOptions([...options, unknown])
    if (known.has(unknown)) expect(Result.isSuccess(result)).toBe(true)
    else expect(result).toEqual(Result.fail(expect.stringContaining(`mount option "${unknown}" is not a Lustre or generic mount option; allowed: ro, rw`)))
  })

  it.prop("a flag option takes no value", [Flag, Unknown], ([flag, value]) => {
    const result = validateMountOptions([`${flag}=${value}`])
    expect(result).toEqual(Result.fail(`mount option "${flag}=${value}" takes no value; write "${flag}"`))
  })

  it("checks the values of network, mgssec and skpath", () => {
    expect(validateMountOptions(["noatime,flock", "network=o2ib1", "mgssec=krb5p", "skpath=/etc/keys"]))
      .toEqual(Result.succeed(["noatime", "flock", "network=o2ib1", "mgssec=krb5p", "skpath=/etc/keys"]))
    for (const bad of ["network=", "network=eth0", "network", "mgssec=rot13", "mgssec", "skpath=", "skpath"]) {
      const result = validateMountOptions([bad])
      expect(Result.isFailure(result) && result.failure.startsWith(`mount option "${bad}"`)).toBe(true)
    }
    expect(Result.isFailure(validateMountOptions(["skpath=/a\0b"]))).toBe(true)
    expect(validateMountOptions(["bogus"])).toEqual(Result.fail(expect.stringContaining("mount option \"bogus\" is not a Lustre or generic mount option; allowed: ")))
    expect(Result.isFailure(validateMountOptions(["remount"]))).toBe(true)
    expect(Result.isFailure(validateMountOptions(["bind"]))).toBe(true)
    expect(Result.isFailure(validateMountOptions(["context=system_u"]))).toBe(true)
    expect(validateMountOptions([])).toEqual(Result.succeed([]))
    expect(validateMountOptions([" , "])).toEqual(Result.succeed([]))
  })
})
