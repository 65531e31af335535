import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { DEFAULT_FS_NAME, FsName, parseFsName } from "../../src/domain/FsName.js"

const Valid = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,8}$/))
const decode = Schema.decodeUnknownResult(FsName)

describe("FsName (Lustre fsname: 1-8 of letters, digits, '_', '-')", () => {
  it.prop("accepts 1 to 8 letters, digits, '_' and '-'", [Valid], ([name]) => {
    expect(parseFsName(name)).toEqual(Result.succeed(name))
    expect(Result.isSuccess(decode(name))).toBe(true)
  })

  it.prop("values generated from the Schema parse", [FsName], ([name]) => {
    expect(Result.isSuccess(parseFsName(name))).toBe(true)
  })

  it.prop("rejects more than 8 characters", [Valid, Valid], ([a, b]) => {
    const name = `${a}${b}x`.padEnd(9, "y")
    expect(Result.isFailure(parseFsName(name))).toBe(true)
  })

  it.prop("rejects '/', ':', '#', '.', '@' and whitespace", [Valid, Schema.Literals(["/", ":", "#", ".", "@", " ", "\t", "\n"])], ([name, bad]) => {
    expect(Result.isFailure(parseFsName(`${bad}${name}`.slice(0, 8)))).toBe(true)
  })

  it("accepts the default, explains failures naming fs-name", () => {
    expect(parseFsName(DEFAULT_FS_NAME)).toEqual(Result.succeed("lustrefs"))
    const empty = parseFsName("")
    expect(Result.isFailure(empty) && empty.failure.startsWith("fs-name is empty")).toBe(true)
    const long = parseFsName("lustrefs1")
    expect(long).toEqual(Result.fail(
      "fs-name \"lustrefs1\" is not a Lustre fsname: it is 1 to 8 characters, letters, digits, '_' and '-' " +
        "(mkfs.lustre's limit); Azure Managed Lustre filesystems are named lustrefs"
    ))
  })
})
