import * as Result from "effect/Result"
import type { VolumeCapability } from "../gen/csi.js"
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

/**
 * The spellings of the HSM backlog item, accepted as mount options for the `hsm-hydrate` volume
 * attribute they stand for. The node plugin acts on them itself; they never reach mount(8).
 */
export const hsmHydrationAliases = { "hsm-aware": "background", "auto-import": "before-start" } as const
export type HsmHydrationAlias = keyof typeof hsmHydrationAliases

export const isHsmHydrationAlias = (option: string): option is HsmHydrationAlias => Object.hasOwn(hsmHydrationAliases, option)

/** Why both aliases cannot be given: each asks for a different hydration mode. */
export const bothHsmAliasesProblem =
  `mount options "hsm-aware" (hsm-hydrate=background) and "auto-import" (hsm-hydrate=before-start) ask for two ` +
  "hydration modes: keep one of them, or remove both and set the hsm-hydrate volume attribute"

/** An LNet network name: a network type and an optional number, e.g. tcp, tcp0, o2ib1. */
const LNET_NETWORK = /^(?:tcp|o2ib|gni|kfi|ptl4|efa|lo)[0-9]*$/

const flags = new Set([...genericMountOptions, ...lustreMountOptions])

const allowed = [
  ...genericMountOptions,
  ...lustreMountOptions,
  "network=<LNet network, e.g. tcp0>",
  `mgssec=<${mgsSecFlavors.join("|")}>`,
  "skpath=<path>",
  "hsm-aware (= hsm-hydrate=background)",
  "auto-import (= hsm-hydrate=before-start)"
].join(", ")

/** Checks one option (already split on ","); undefined when it is allowed, else the message. */
const problemOf = (option: string): string | undefined => {
  if (option.includes("\0")) return `mount option ${quote(option)} contains a NUL byte; remove it`
  if (flags.has(option) || isHsmHydrationAlias(option)) return undefined
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
  return flags.has(key) || isHsmHydrationAlias(key)
    ? `mount option ${quote(option)} takes no value; write ${quote(key)}`
    : `mount option ${quote(option)} is not a Lustre or generic mount option; allowed: ${allowed}`
}

/** The options of mount flags that may each be a comma-separated list: split, trimmed, empty ones dropped. */
const optionsIn = (mountFlags: ReadonlyArray<string>): Array<string> =>
  mountFlags.flatMap((flag) => flag.split(",").map((option) => option.trim()).filter((option) => option !== ""))

/**
 * Checks a volume capability's (or a StorageClass's) mount options. Each flag may itself be a
 * comma-separated list ("noatime,flock"); the options are split, trimmed, emptied ones dropped.
 * Succeeds with the options for mount(8): the flat list without the HSM aliases (`hsm-aware`,
 * `auto-import`, read by hsmHydrationAliasesIn), duplicates removed, first-seen order kept. The
 * failure is the user-facing message naming the first bad option, or both aliases given
 * together. A value never holds "," (it would be split) or NUL, so an option cannot smuggle
 * another one into the mount command.
 */
export const validateMountOptions = (
  mountFlags: ReadonlyArray<string>
): Result.Result<ReadonlyArray<string>, string> => {
  const options: Array<string> = []
  for (const option of optionsIn(mountFlags)) {
    const problem = problemOf(option)
    if (problem !== undefined) return Result.fail(problem)
    if (!isHsmHydrationAlias(option) && !options.includes(option)) options.push(option)
  }
  if (hsmHydrationAliasesIn(mountFlags).length > 1) return Result.fail(bothHsmAliasesProblem)
  return Result.succeed(options)
}

/** The HSM aliases among the mount flags, each once, in first-seen order; other options are ignored. */
export const hsmHydrationAliasesIn = (mountFlags: ReadonlyArray<string>): ReadonlyArray<HsmHydrationAlias> => [
  ...new Set(optionsIn(mountFlags).filter(isHsmHydrationAlias))
]

/** The mount flags of each capability (none for a block capability, which is refused elsewhere). */
export const mountFlagsOfCapabilities = (
  capabilities: ReadonlyArray<VolumeCapability>
): ReadonlyArray<ReadonlyArray<string>> =>
  capabilities.map((capability) => capability.accessType?.$case === "mount" ? capability.accessType.value.mountFlags : [])
