/**
 * The node plugin's V8 flags are chosen by measurement (bench/README.md, footprint) and set where
 * Node is started: the launcher's shell line, the image's entrypoint (no shell in between) and the
 * flake's wrapper. All three start Node with the same flags.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { shippedNodeFlags } from "../support/shippedNodeFlags.js"
import { repoRoot } from "./deployFiles.js"

const read = (file: string) => Fs.readFileSync(Path.join(repoRoot, file), "utf8")

describe("the V8 flags the driver ships with", () => {
  const flags = shippedNodeFlags()

  it("are V8 heap flags, each --name=value", () => {
    expect(flags.length).toBeGreaterThan(0)
    for (const flag of flags) expect(flag).toMatch(/^--[a-z-]+=\d+$/)
  })

  it("are the image's entrypoint's", () => {
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(read("deploy/Containerfile"))?.[1]
    expect(JSON.parse(entrypoint ?? "null")).toEqual(["/usr/local/bin/node", ...flags, "/app/bin/azurelustre-csi.js"])
  })

  it("are the flake wrapper's", () => {
    expect(read("flake.nix")).toContain(`--add-flags "${flags.join(" ")} $app/bin/azurelustre-csi.js"`)
  })

})
