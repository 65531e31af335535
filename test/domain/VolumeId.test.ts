import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { decodeVolumeId, encodeVolumeId, type VolumeId } from "../../src/domain/VolumeId.js"
import { MgsAddress } from "../../src/domain/MgsAddress.js"

/** Host addresses, as the MgsAddress Schema generates them. */
const Ip = MgsAddress
const Name = Schema.String.check(Schema.isPattern(/^[a-z0-9][a-z0-9.-]{0,127}$/))
const FsNameText = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,8}$/))
/** A relative path without leading or trailing "/" and without "#" (may be empty). */
const SubDir = Schema.String.check(Schema.isPattern(/^(?:[^#/\0]+(?:\/[^#/\0]+)*)?$/))
const ResourceGroup = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.()-]{0,90}$/))

const volumeIdOf = (name: string, fsName: string, ip: string, subDir: string, createdByDriver: boolean, resourceGroup: string): VolumeId =>
  ({ name, fsName, mgsAddress: ip, subDir, createdByDriver, resourceGroup })

describe("VolumeId (<name>#<fs-name>#<mgs-ip>#<sub-dir>#<t|f>#<resource-group>)", () => {
  it.prop("round-trips every valid volume id", [Name, FsNameText, Ip, SubDir, Schema.Boolean, ResourceGroup], ([name, fsName, ip, subDir, created, rg]) => {
    const id = volumeIdOf(name, fsName, ip, subDir, created, rg)
    const text = encodeVolumeId(id)
    expect(text.split("#")).toHaveLength(6)
    expect(decodeVolumeId(text)).toEqual(Result.succeed(id))
  })

  it.prop("reads Go ids of 3 to 6 segments as the Go driver does (fs-name aside)", [
    Name, Ip, SubDir, Schema.Literals(["", "/", "//"]), Schema.Literals(["t", "f", ""]), ResourceGroup,
    Schema.Int.check(Schema.isBetween({ minimum: 3, maximum: 6 }))
  ], ([name, ip, subDir, slashes, created, rg, count]) => {
    const segments = [name, "lustrefs", ip, `${slashes}${subDir}${slashes}`, created, rg].slice(0, count)
    const decoded = decodeVolumeId(segments.join("#"))
    expect(decoded).toEqual(Result.succeed({
      name,
      fsName: "lustrefs",
      mgsAddress: ip,
      subDir: count >= 4 ? subDir : "",
      createdByDriver: count >= 5 && created === "t",
      resourceGroup: count >= 6 ? rg : ""
    }))
  })

  it.prop("an empty fs-name segment means lustrefs", [Name, Ip], ([name, ip]) => {
    const decoded = decodeVolumeId(`${name}##${ip}`)
    expect(Result.isSuccess(decoded) && decoded.success.fsName).toBe("lustrefs")
  })

  it.prop("rejects fewer than 3 or more than 6 segments", [Name, Ip], ([name, ip]) => {
    expect(Result.isFailure(decodeVolumeId(name))).toBe(true)
    expect(Result.isFailure(decodeVolumeId(`${name}#lustrefs`))).toBe(true)
    expect(Result.isFailure(decodeVolumeId(`${name}#lustrefs#${ip}#d#f#rg#x`))).toBe(true)
  })

  it.prop("rejects a created flag other than t, f or empty", [Name, Ip, Schema.Literals(["T", "true", "F", "1", "x"])], ([name, ip, flag]) => {
    expect(Result.isFailure(decodeVolumeId(`${name}#lustrefs#${ip}#d#${flag}#rg`))).toBe(true)
  })

  it("examples: Go's old and static ids, and failures", () => {
    expect(decodeVolumeId("pvc-1#lustrefs#10.0.0.4")).toEqual(Result.succeed({
      name: "pvc-1", fsName: "lustrefs", mgsAddress: "10.0.0.4", subDir: "", createdByDriver: false, resourceGroup: ""
    }))
    expect(decodeVolumeId("name#lustrefs#10.0.0.4#/sub/dir/#f#")).toEqual(Result.succeed({
      name: "name", fsName: "lustrefs", mgsAddress: "10.0.0.4", subDir: "sub/dir", createdByDriver: false, resourceGroup: ""
    }))
    expect(decodeVolumeId("pvc-2#lustrefs#10.0.0.5##t#my-rg")).toEqual(Result.succeed({
      name: "pvc-2", fsName: "lustrefs", mgsAddress: "10.0.0.5", subDir: "", createdByDriver: true, resourceGroup: "my-rg"
    }))
    expect(encodeVolumeId({
      name: "name", fsName: "lustrefs", mgsAddress: "10.0.0.4", subDir: "sub", createdByDriver: false, resourceGroup: ""
    })).toBe("name#lustrefs#10.0.0.4#sub#f#")
    const long = `pvc-${"a".repeat(200)}#lustrefs#10.0.0.4#${"d/".repeat(100)}x#t#rg`
    expect(Result.isSuccess(decodeVolumeId(long))).toBe(true)

    const fail = (text: string): string => {
      const result = decodeVolumeId(text)
      return Result.isFailure(result) ? result.failure : "succeeded"
    }
    expect(fail("v1")).toContain("at least 3 are needed")
    expect(fail("#lustrefs#10.0.0.4")).toContain("empty name")
    expect(fail("v#lustrefs#10.0.0")).toContain("mgs-ip-address \"10.0.0\" is not an IPv4 address")
    expect(fail("v#lustre/fs#10.0.0.4")).toContain("fs-name \"lustre/fs\"")
    expect(fail("v#lustrefs#10.0.0.4#d#yes")).toContain("\"yes\" as its fifth part")
  })
})
