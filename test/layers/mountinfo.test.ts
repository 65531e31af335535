import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { MountEntry } from "../../layers/lustre/LustreShell.js"
import { decodeMountInfoField, formatMountInfoLine, parseMountInfo, parseMountInfoLine } from "../../layers/lustre/mountinfo.js"

const fixture = (name: string) =>
  Fs.readFileSync(Path.join(import.meta.dirname, "..", "fixtures", "mountinfo", name), "utf8")

describe("mountinfo parser", () => {
  it("reads a whole line of proc(5)'s example, optional field included", () => {
    assert.deepStrictEqual(
      parseMountInfoLine("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"),
      {
        mountId: 36,
        parentId: 35,
        device: "98:0",
        root: "/mnt1",
        mountPoint: "/mnt2",
        options: ["rw", "noatime"],
        fsType: "ext3",
        source: "/dev/root",
        superOptions: ["rw", "errors=continue"]
      }
    )
  })

  it("reads this machine's table, with binds whose paths hold a space, a tab and a backslash", () => {
    const { entries, malformed } = parseMountInfo(fixture("this-machine.txt"))
    assert.deepStrictEqual(malformed, [])
    assert.strictEqual(entries.length, 22)
    assert.deepStrictEqual(entries.find((entry) => entry.mountPoint === "/"), {
      mountId: 27,
      parentId: 1,
      device: "254:0",
      root: "/",
      mountPoint: "/",
      options: ["rw", "relatime"],
      fsType: "ext4",
      source: "/dev/vda",
      superOptions: ["rw", "discard", "resv_strict", "resuid=65534", "resgid=65534"]
    })
    const tab = entries.find((entry) => entry.mountPoint === "/tmp/mi-fixture/tgt\ttab")
    assert.strictEqual(tab?.root, "/tmp/mi-fixture/src dir/sub")
    assert.strictEqual(tab?.device, "254:0")
    const backslash = entries.find((entry) => entry.mountPoint === "/tmp/mi-fixture/back\\slash")
    assert.strictEqual(backslash?.root, "/tmp/mi-fixture/src dir")
    assert.deepStrictEqual(backslash?.options, ["ro", "relatime"])
  })

  it("reads an AKS node with two Lustre filesystems and binds of their sub-directories", () => {
    const { entries, malformed } = parseMountInfo(fixture("aks-node-lustre.txt"))
    assert.deepStrictEqual(malformed, [])
    const lustre = entries.filter((entry) => entry.fsType === "lustre")
    assert.deepStrictEqual(
      lustre.map((entry) => [entry.device, entry.root, entry.source, entry.mountPoint.split("/").slice(-3).join("/")]),
      [
        ["0:77", "/", "10.0.0.4@tcp:/lustrefs", "azurelustre.csi.azure.com/mounts/10.0.0.4_lustrefs"],
        ["0:77", "/team-a/pvc-3d1f9a2b-7c4e-4f60-8a15-2b9c0d6e7f81", "10.0.0.4@tcp:/lustrefs", "kubernetes.io~csi/pv-lustre-team-a/mount"],
        ["0:77", "/team-a/pvc-3d1f9a2b-7c4e-4f60-8a15-2b9c0d6e7f81", "10.0.0.4@tcp:/lustrefs", "kubernetes.io~csi/pv-lustre-team-a/mount"],
        ["0:77", "/shared data/reports", "10.0.0.4@tcp:/lustrefs", "kubernetes.io~csi/pv-reports/mount"],
        ["0:81", "/", "10.1.0.7@tcp:/lustrefs", "azurelustre.csi.azure.com/mounts/10.1.0.7_lustrefs"],
        ["0:81", "/", "10.1.0.7@tcp:/lustrefs", "kubernetes.io~csi/pv-lustre-whole/mount"]
      ]
    )
    assert.deepStrictEqual(lustre[0]?.superOptions, ["rw", "flock", "lazystatfs", "encrypt"])
    assert.deepStrictEqual(lustre[2]?.options, ["ro", "relatime"])
  })

  it("sets malformed lines aside instead of guessing", () => {
    const { entries, malformed } = parseMountInfo("22 1 8:1 / / rw shared:1 - ext4 /dev/root rw\nnot a line\n1 2 3:4 / /x rw ext4 /dev/x rw\n")
    assert.strictEqual(entries.length, 1)
    assert.deepStrictEqual(malformed, ["not a line", "1 2 3:4 / /x rw ext4 /dev/x rw"])
  })

  it("keeps a backslash that does not start an octal escape", () => {
    assert.strictEqual(decodeMountInfoField("a\\040b\\x\\12"), "a b\\x\\12")
  })

  // Paths made of characters the kernel escapes, and of text that looks like an escape.
  const PathPiece = Schema.Literals(["a", "Z", "0", "-", ".", "é", " ", "\t", "\n", "\\", "\\040", "#", ","])
  const Option = Schema.Literals(["rw", "ro", "relatime", "flock", "size=4k", "lowerdir=/a,b", "x y"])
  const Raw = Schema.Struct({
    mountId: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 })),
    parentId: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 })),
    major: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4095 })),
    minor: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_048_575 })),
    root: Schema.Array(Schema.Array(PathPiece)),
    mountPoint: Schema.Array(Schema.Array(PathPiece)),
    options: Schema.Array(Option),
    optionalFields: Schema.Array(Schema.Literals(["shared:1", "master:7", "propagate_from:2", "unbindable"])),
    fsType: Schema.Literals(["lustre", "ext4", "fuse.sshfs", "tmpfs"]),
    source: Schema.Array(PathPiece),
    superOptions: Schema.Array(Option)
  })
  const path = (segments: ReadonlyArray<ReadonlyArray<string>>) => `/${segments.map((segment) => segment.join("")).join("/")}`
  const Entry = Arbitrary.schema(Raw).pipe(Arbitrary.map((raw) => ({
    entry: {
      mountId: raw.mountId,
      parentId: raw.parentId,
      device: `${raw.major}:${raw.minor}`,
      root: path(raw.root),
      mountPoint: path(raw.mountPoint),
      options: raw.options,
      fsType: raw.fsType,
      source: raw.source.join(""),
      superOptions: raw.superOptions
    } satisfies MountEntry,
    optionalFields: raw.optionalFields
  })))

  it.prop("formatting entries as the kernel would and parsing them gives them back", [Arbitrary.array(Entry)], ([generated]) => {
    const text = generated.map(({ entry, optionalFields }) => `${formatMountInfoLine(entry, optionalFields)}\n`).join("")
    const { entries, malformed } = parseMountInfo(text)
    assert.deepStrictEqual(malformed, [])
    assert.deepStrictEqual(entries, generated.map(({ entry }) => entry))
  })
})
