import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  bothHsmAliasesProblem,
  genericMountOptions,
  hsmHydrationAliasesIn,
  lustreMountOptions,
  mgsSecFlavors,
  mountFlagsOfCapabilities,
  validateMountOptions
} from "../../src/domain/MountOptions.js"
import { mountCapability } from "../support/csiRequests.js"

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

  it.prop("accepts one HSM alias anywhere, and never hands it to mount(8)", [
    Schema.Array(Allowed),
    Schema.Literals(["hsm-aware", "auto-import"]),
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })),
    Spacing
  ], ([options, alias, at, space]) => {
    const index = at % (options.length + 1)
    const flags = [...options.slice(0, index), `${space}${alias}${space}`, ...options.slice(index), alias]
    expect(validateMountOptions(flags)).toEqual(Result.succeed([...new Set(options)]))
    expect(hsmHydrationAliasesIn(flags)).toEqual([alias])
  })

  it("the HSM aliases: no value, not both, read apart from the mount(8) options", () => {
    expect(validateMountOptions(["noatime,hsm-aware", "flock"])).toEqual(Result.succeed(["noatime", "flock"]))
    expect(validateMountOptions(["auto-import"])).toEqual(Result.succeed([]))
    expect(validateMountOptions(["hsm-aware=1"])).toEqual(Result.fail(`mount option "hsm-aware=1" takes no value; write "hsm-aware"`))
    expect(validateMountOptions(["hsm-aware", "noatime, auto-import"])).toEqual(Result.fail(bothHsmAliasesProblem))
    expect(validateMountOptions(["hsm-aware,auto-import,bogus"])).toEqual(Result.fail(expect.stringContaining(`mount option "bogus"`)))
    expect(validateMountOptions(["HSM-aware"])).toEqual(Result.fail(expect.stringContaining("hsm-aware (= hsm-hydrate=background), auto-import (= hsm-hydrate=before-start)")))
    expect(hsmHydrationAliasesIn(["auto-import,noatime", "hsm-aware", " auto-import", "hsm-aware=1"])).toEqual(["auto-import", "hsm-aware"])
    expect(hsmHydrationAliasesIn([])).toEqual([])
    expect(mountFlagsOfCapabilities([
      mountCapability(undefined, ["noatime", "hsm-aware"]),
      { accessType: { $case: "block", value: {} }, accessMode: undefined }
    ])).toEqual([["noatime", "hsm-aware"], []])
  })
})
