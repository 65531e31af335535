import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"

// What `npm ci` does on a newcomer's machine, whose Node may be older than the project's.

const root = Path.resolve(import.meta.dirname, "../..")
const packageJson = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
  readonly allowScripts?: Record<string, boolean>
}
const lockfile = JSON.parse(Fs.readFileSync(Path.join(root, "package-lock.json"), "utf8")) as {
  readonly packages: Record<string, { readonly hasInstallScript?: boolean }>
}

/** The PATH without the project's node_modules/.bin: the terminal's own Node and npm. */
const terminalPath = (process.env.PATH ?? "").split(":").filter((dir) => !dir.startsWith(Path.join(root, "node_modules"))).join(":")
const terminalNode = spawnSync("node", ["--version"], { env: { ...process.env, PATH: terminalPath }, encoding: "utf8" })
const terminalNodeMajor = Number(/^v(\d+)/.exec(terminalNode.stdout ?? "")?.[1] ?? "NaN")
const hasOldNodeAndNpm = terminalNodeMajor < 22 &&
  spawnSync("npm", ["--version"], { env: { ...process.env, PATH: terminalPath } }).status === 0

describe("npm ci", () => {
  it("runs no dependency's install script without a decision in package.json's allowScripts, and the policy is strict", () => {
    const withScripts = Object.entries(lockfile.packages)
      // "" is the project itself: its own postinstall (bin/postinstall.js) is not a dependency's.
      .filter(([path, entry]) => path !== "" && entry.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length))
    expect(withScripts).toContain("protobufjs")
    for (const name of withScripts) expect(packageJson.allowScripts ?? {}, name).toHaveProperty([name])
    expect(Fs.readFileSync(Path.join(root, ".npmrc"), "utf8")).toMatch(/^strict-allow-scripts=true$/m)
  })

  it("denies protobufjs's postinstall, which does nothing where npm installs it", () => {
    expect(packageJson.allowScripts?.["protobufjs"]).toBe(false)
    // It only warns a package that holds protobufjs directly (not in node_modules/) about its
    // version range: it reads <protobufjs>/../../package.json, which npm's layout never has.
    const run = spawnSync(process.execPath, [Path.join(root, "node_modules/protobufjs/scripts/postinstall.js")], {
      cwd: root,
      encoding: "utf8"
    })
    expect({ status: run.status, output: run.stdout + run.stderr }).toEqual({ status: 0, output: "" })
    expect(Fs.existsSync(Path.join(root, "node_modules/package.json"))).toBe(false)
  })

  it.skipIf(!hasOldNodeAndNpm)("under an older Node than the project's, prints no engine warnings (npm ci --dry-run)", () => {
    const copy = Fs.mkdtempSync(Path.join(Os.tmpdir(), "npm-ci-"))
    for (const file of ["package.json", "package-lock.json", ".npmrc"]) Fs.copyFileSync(Path.join(root, file), Path.join(copy, file))
    const run = spawnSync("npm", ["ci", "--dry-run", "--offline", "--ignore-scripts"], {
      cwd: copy,
      env: { ...process.env, PATH: terminalPath },
      encoding: "utf8"
    })
    Fs.rmSync(copy, { recursive: true, force: true })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).not.toContain("EBADENGINE")
    expect(run.stderr).not.toMatch(/npm warn/i)
  })

  it("says in one line which Node runs npm and which runs the project, only when they differ", () => {
    const postinstall = (userAgent: string) =>
      execFileSync(process.execPath, [Path.join(root, "bin/postinstall.js")], {
        env: { ...process.env, npm_config_user_agent: userAgent },
        encoding: "utf8"
      })
    const underNode20 = postinstall("npm/11.19.1 node/v20.20.2 linux x64 workspaces/false")
    expect(underNode20.trimEnd().split("\n")).toEqual([
      `azurelustre-csi: npm runs on Node v20.20.2, the project on its own Node ${process.version} (node_modules/.bin/node), ` +
      "which npm start, npm test and bin/azurelustre-csi.js use"
    ])
    expect(postinstall("npm/11.19.1 node/v24.21.0 linux x64 workspaces/false")).toBe("")
  })
})
