// Prints package-lock.json with a `resolved` tarball URL added to every registry entry that lacks one.
// usage: node lock-add-resolved.mjs <package-lock.json> <registry URL>
//
// Why: the lockfiles made on the development machines omit `resolved` (npm config
// omit-lockfile-registry-resolved=true), and nixpkgs' prefetch-npm-deps (behind fetchNpmDeps /
// npmDepsHash) skips every lockfile v2/v3 entry whose `resolved` is not a URL, which would leave the
// offline npm cache empty. The registry URL is passed in (flake.nix asks `npm config get registry`)
// so that no registry host name is written into the repository.
import { readFileSync } from "node:fs"

const [lockPath, registryArg] = process.argv.slice(2)
if (lockPath === undefined || registryArg === undefined || registryArg === "") {
  console.error("usage: node lock-add-resolved.mjs <package-lock.json> <registry URL>")
  process.exit(2)
}
const registry = registryArg.endsWith("/") ? registryArg : `${registryArg}/`
const lock = JSON.parse(readFileSync(lockPath, "utf8"))
if (lock.lockfileVersion < 2) throw new Error("lockfile v1 is not handled; regenerate it with npm >= 7")

const marker = "node_modules/"
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  // "" is the project itself; links and git/file dependencies are not registry tarballs.
  if (path === "" || entry.link || entry.resolved || !entry.version || !entry.integrity) continue
  // An aliased dependency (npm:real-name@x) records its real name in `name`.
  const name = entry.name ?? path.slice(path.lastIndexOf(marker) + marker.length)
  const basename = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name
  entry.resolved = `${registry}${name}/-/${basename}-${entry.version}.tgz`
}
process.stdout.write(`${JSON.stringify(lock, null, 2)}\n`)
