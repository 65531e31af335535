import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { VENDOR_VERSION } from "../../src/version.js"

// The launcher a newcomer runs, from another terminal whose Node may be older than the project's.

const root = Path.resolve(import.meta.dirname, "../..")
const BIN = Path.join(root, "bin/azurelustre-csi.js")
const scratch = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-bin-"))
afterAll(() => Fs.rmSync(scratch, { recursive: true, force: true }))

/** A `node` first on PATH that is not the project's: it fails as an old Node would. */
const fakeNodeDir = Path.join(scratch, "old-node")
Fs.mkdirSync(fakeNodeDir)
Fs.writeFileSync(Path.join(fakeNodeDir, "node"), "#!/bin/sh\necho 'SyntaxError: this is not the Node you want' >&2\nexit 99\n", {
  mode: 0o755
})
const systemPath = (process.env.PATH ?? "").split(":").filter((dir) => !dir.startsWith(Path.join(root, "node_modules"))).join(":")

/** The terminal's own Node, when it is older than the project's (Node 20 on the development machines). */
const olderNode = (() => {
  const found = spawnSync("sh", ["-c", "command -v node"], { env: { ...process.env, PATH: systemPath }, encoding: "utf8" }).stdout.trim()
  const version = found === "" ? "" : spawnSync(found, ["--version"], { encoding: "utf8" }).stdout.trim()
  return /^v(1\d|2[0-3])\./.test(version) ? found : undefined
})()

const run = (command: string, args: ReadonlyArray<string>, path: string) =>
  spawnSync(command, args, { cwd: Os.tmpdir(), env: { ...process.env, PATH: path }, encoding: "utf8" })

describe("bin/azurelustre-csi.js", () => {
  it("runs on the project's own Node from any directory, whatever node is first on PATH", () => {
    const answer = run(BIN, ["version"], `${fakeNodeDir}:${systemPath}`)
    expect({ status: answer.status, stdout: answer.stdout, stderr: answer.stderr }).toEqual({
      status: 0,
      stdout: `${VENDOR_VERSION}\n`,
      stderr: ""
    })
  })

  it("runs as azurelustre-csi once the clone's bin/ is on PATH", () => {
    const answer = run("azurelustre-csi", ["version"], `${Path.join(root, "bin")}:${fakeNodeDir}:${systemPath}`)
    expect({ status: answer.status, stdout: answer.stdout }).toEqual({ status: 0, stdout: `${VENDOR_VERSION}\n` })
  })

  it.skipIf(olderNode === undefined)("started by an older Node, says in one line what to do", () => {
    const answer = run(olderNode!, [BIN, "version"], systemPath)
    expect(answer.status).toBe(1)
    expect(answer.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^azurelustre-csi: needs Node 24\.11 or newer, and \S+ is Node v\d+\.\d+\.\d+; run `npm ci` in /)
    ])
  })

  it("before the driver is built, says how to build it", () => {
    const clone = Path.join(scratch, "clone")
    Fs.mkdirSync(Path.join(clone, "bin"), { recursive: true })
    Fs.copyFileSync(BIN, Path.join(clone, "bin/azurelustre-csi.js"))
    Fs.chmodSync(Path.join(clone, "bin/azurelustre-csi.js"), 0o755)
    Fs.writeFileSync(Path.join(clone, "package.json"), JSON.stringify({ type: "module" }))
    Fs.symlinkSync(Path.join(root, "node_modules"), Path.join(clone, "node_modules"))
    const answer = run(Path.join(clone, "bin/azurelustre-csi.js"), ["version"], `${fakeNodeDir}:${systemPath}`)
    expect(answer.status).toBe(1)
    expect(answer.stderr).toBe(
      `azurelustre-csi: ${clone}/dist/azurelustre-csi.js is not built yet; run \`npm run build\` (or \`npm start\`) in ${clone}/\n`
    )
  })
})
