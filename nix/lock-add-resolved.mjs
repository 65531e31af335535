// Prints package-lock.json with a `resolved` tarball URL added to every registry package npm would
// install on the given platform.
// usage: node lock-add-resolved.mjs <package-lock.json> <registry URL> [<os> <cpu> <libc>]
//   e.g. node lock-add-resolved.mjs package-lock.json "$(npm config get registry)" linux x64 glibc
//
// Why: flake.nix fetches each package with nixpkgs' importNpmLock, which takes the tarball's URL
// from `resolved` and its hash from `integrity` (so no npmDepsHash to keep up to date). The
// lockfiles made on the development machines omit `resolved` (npm config
// omit-lockfile-registry-resolved=true); npm itself derives it from the name and version, and so
// does this. The registry URL is passed in (flake.nix asks `npm config get registry`) so that no
// registry host name is written into the repository. Packages for another os, cpu or libc (the
// other platforms' optional binaries) get no URL: npm skips them without fetching, and so then
// does Nix.
import { readFileSync } from "node:fs"

const [lockPath, registryArg, os, cpu, libc] = process.argv.slice(2)
if (lockPath === undefined || registryArg === undefined || registryArg === "" || (os !== undefined && (cpu === undefined || libc === undefined))) {
  console.error("usage: node lock-add-resolved.mjs <package-lock.json> <registry URL> [<os> <cpu> <libc>]")
  process.exit(2)
}
const registry = registryArg.endsWith("/") ? registryArg : `${registryArg}/`
const lock = JSON.parse(readFileSync(lockPath, "utf8"))
if (lock.lockfileVersion < 2) throw new Error("lockfile v1 is not handled; regenerate it with npm >= 7")

// npm's own rule (npm-install-checks): a list (or one name) of the platforms allowed, or with `!`
// those refused.
const allows = (field, value) => {
  if (field === undefined) return true
  const list = [field].flat()
  return list.some((entry) => !entry.startsWith("!")) ? list.includes(value) : !list.includes(`!${value}`)
}
const installsHere = (entry) => os === undefined || (allows(entry.os, os) && allows(entry.cpu, cpu) && allows(entry.libc, libc))

const marker = "node_modules/"
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  // "" is the project itself; links and git/file dependencies are not registry tarballs.
  if (path === "" || entry.link || entry.resolved || !entry.version || !entry.integrity || !installsHere(entry)) continue
  // An aliased dependency (npm:real-name@x) records its real name in `name`.
  const name = entry.name ?? path.slice(path.lastIndexOf(marker) + marker.length)
  const basename = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name
  entry.resolved = `${registry}${name}/-/${basename}-${entry.version}.tgz`
}
process.stdout.write(`${JSON.stringify(lock, null, 2)}\n`)
