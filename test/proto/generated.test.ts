import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "../..")
const buf = Path.join(root, "node_modules/@bufbuild/buf-linux-x64/bin/buf")

const filesUnder = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => Fs.statSync(Path.join(dir, file)).isFile())
    .sort()

// sha256 of csi.proto at tag v1.12.0 of github.com/container-storage-interface/spec
const CSI_V1_12_0_SHA256 = "5b81236a3809f3ff0b877ff9b82215d0b74a8e291d7f3ec6ee1a44f537c0f86a"

it("proto/csi.proto is CSI v1.12.0 as published, with its licence beside it", () => {
  const proto = Fs.readFileSync(Path.join(root, "proto/csi.proto"))
  expect(createHash("sha256").update(proto).digest("hex")).toBe(CSI_V1_12_0_SHA256)
  expect(Fs.readFileSync(Path.join(root, "proto/LICENSE"), "utf8")).toContain("Apache License")
})

it("the committed src/gen is what `npm run gen:proto` generates from proto/csi.proto", () => {
  const out = Fs.mkdtempSync(Path.join(Os.tmpdir(), "gen-proto-"))
  execFileSync(buf, ["generate", "--template", "proto/buf.gen.yaml", "-o", out, "proto"], { cwd: root })

  const committed = Path.join(root, "src/gen")
  const fresh = Path.join(out, "src/gen")
  expect(filesUnder(fresh)).toEqual(filesUnder(committed))
  for (const file of filesUnder(fresh)) {
    expect(Fs.readFileSync(Path.join(committed, file), "utf8"), `src/gen/${file} is stale: run npm run gen:proto`).toBe(
      Fs.readFileSync(Path.join(fresh, file), "utf8")
    )
  }
})
