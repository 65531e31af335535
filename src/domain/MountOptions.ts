import * as Result from "effect/Result"
import { quote } from "./BoundedText.js"

/** Generic mount options (mount(8)) that make sense for a Lustre client mount. */
export const genericMountOptions: ReadonlyArray<string> = [
  "ro", "rw", "noatime", "atime", "relatime", "norelatime", "strictatime", "nodiratime", "diratime",
  "lazytime", "nolazytime", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async",
  "dirsync", "_netdev", "nofail"
]

/** Lustre client mount options without a value (mount.lustre(8)). */
export const lustreMountOptions: ReadonlyArray<string> = [
  "flock", "localflock", "noflock", "user_xattr", "nouser_xattr", "acl", "noacl", "lazystatfs",
  "nolazystatfs", "user_fid2path", "nouser_fid2path", "checksum", "nochecksum", "verbose", "noverbose",
  "always_ping", "encrypt", "noencrypt", "statfs_project", "nostatfs_project"
]

/** `mgssec=` flavors (mount.lustre(8)). */
export const mgsSecFlavors: ReadonlyArray<string> = [
  "null", "plain", "gssnull", "krb5n", "krb5a", "krb5i", "krb5p", "skn", "ska", "ski", "skpi"
]

/** An LNet network name: a network type and an optional number, e.g. tcp, tcp0, o2ib1. */
const LNET_NETWORK = /^(?:tcp|o2ib|gni|kfi|ptl4|efa|lo)[0-9]*$/

const flags = new Set([...genericMountOptions, ...lustreMountOptions])

const allowed = [
  ...genericMountOptions,
  ...lustreMountOptions,
  "network=<LNet network, e.g. tcp0>",
  `mgssec=<${mgsSecFlavors.join("|")}>`,
  "skpath=<path>"
].join(", ")

/** Checks one option (already split on ","); undefined when it is allowed, else the message. */
const problemOf = (option: string): string | undefined => {
  if (option.includes("\0")) return `mount option ${quote(option)} contains a NUL byte; remove it`
  if (flags.has(option)) return undefined
  const eq = option.indexOf("=")
  const key = eq < 0 ? option : option.slice(0, eq)
  const value = eq < 0 ? undefined : option.slice(eq + 1)
  switch (key) {
    case "network":
      return value !== undefined && LNET_NETWORK.test(value)
        ? undefined
        : `mount option ${quote(option)} needs an LNet network name, e.g. network=tcp0 or network=o2ib1`
    case "mgssec":
      return value !== undefined && mgsSecFlavors.includes(value)
        ? undefined
        : `mount option ${quote(option)} needs a security flavor: mgssec=<${mgsSecFlavors.join("|")}>`
    case "skpath":
      return value !== undefined && value !== ""
        ? undefined
        : `mount option ${quote(option)} needs a path to the shared-key files, e.g. skpath=/etc/lustre/keys`
  }
  return flags.has(key)
    ? `mount option ${quote(option)} takes no value; write ${quote(key)}`
    : `mount option ${quote(option)} is not a Lustre or generic mount option; allowed: ${allowed}`
}

/**
 * Checks a volume capability's (or a StorageClass's) mount options. Each flag may itself be a
 * comma-separated list ("noatime,flock"); the options are split, trimmed, emptied ones dropped.
 * Succeeds with the flat list, duplicates removed, first-seen order kept; the failure is the
 * user-facing message naming the first bad option. A value never holds "," (it would be split)
 * or NUL, so an option cannot smuggle another one into the mount command.
 */
export const validateMountOptions = (
  mountFlags: ReadonlyArray<string>
): Result.Result<ReadonlyArray<string>, string> => {
  const options: Array<string> = []
  for (const flag of mountFlags) {
    for (const raw of flag.split(",")) {
      const option = raw.trim()
      if (option === "") continue
      const problem = problemOf(option)
      if (problem !== undefined) return Result.fail(problem)
      if (!options.includes(option)) options.push(option)
    }
  }
  return Result.succeed(options)
}
