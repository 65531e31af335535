/**
 * The AMLFS Lustre client as Microsoft packages it: one package per client version,
 * `amlfs-lustre-client-<LUSTRE_VERSION>-<CLIENT_SHA_SUFFIX>` (the suffix is `git describe`'s
 * `<commits>-g<sha>`), with one package version per kernel it is built for, equal to that
 * kernel's `uname -r`: `apt-get install amlfs-lustre-client-2.15.7-33-g79ddf99=5.15.0-1079-azure`.
 */
export interface ClientVersion {
  /** `LUSTRE_VERSION`, e.g. `2.15.7`. */
  readonly lustreVersion: string
  /** `CLIENT_SHA_SUFFIX`, e.g. `33-g79ddf99`. */
  readonly shaSuffix: string
}

export const PACKAGE_PREFIX = "amlfs-lustre-client-"

export const LUSTRE_VERSION_PATTERN = /^\d{1,4}(\.\d{1,4}){1,3}$/
export const SHA_SUFFIX_PATTERN = /^\d{1,6}-g[0-9a-f]{7,40}$/

/** `2.15.7-33-g79ddf99`. */
export const clientLabel = (version: ClientVersion): string => `${version.lustreVersion}-${version.shaSuffix}`

/** `amlfs-lustre-client-2.15.7-33-g79ddf99`. */
export const clientPackageName = (version: ClientVersion): string => `${PACKAGE_PREFIX}${clientLabel(version)}`

/** The client version a package name carries, or undefined when it is not an AMLFS client package. */
export const parseClientPackageName = (name: string): ClientVersion | undefined => {
  if (!name.startsWith(PACKAGE_PREFIX)) return undefined
  const [, lustreVersion = "", shaSuffix = ""] = /^(\d[\d.]*)-(\d+-g[0-9a-f]+)$/.exec(name.slice(PACKAGE_PREFIX.length)) ?? []
  if (!LUSTRE_VERSION_PATTERN.test(lustreVersion) || !SHA_SUFFIX_PATTERN.test(shaSuffix)) return undefined
  return { lustreVersion, shaSuffix }
}

/** Whether a package is some Lustre client (the Go driver removes `*lustre-client*` before a retry). */
export const isLustreClientPackage = (name: string): boolean => name.includes("lustre-client")

/**
 * Lustre's modules carry their build's version (`/sys/module/lustre/version`), written as Lustre's
 * build writes it: `2.15.7_33_g79ddf99`, the package's label with `_` for `-`.
 */
export const moduleVersionOf = (version: ClientVersion): string => clientLabel(version).replaceAll("-", "_")

/** Whether a loaded module's version is this client version (either spelling). */
export const isModuleOf = (moduleVersion: string, version: ClientVersion): boolean =>
  moduleVersion.trim().replaceAll("_", "-") === clientLabel(version)

const numbers = (text: string) => text.split(".").map(Number)

const compareNumbers = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0)
    if (difference !== 0) return Math.sign(difference)
  }
  return 0
}

/**
 * Orders client versions: by Lustre version (numerically, part by part), then by the commits
 * after it; two builds of as many commits with other hashes are ordered by hash, so the order is
 * total, though only the first two say which is newer.
 */
export const compareClientVersions = (a: ClientVersion, b: ClientVersion): -1 | 0 | 1 => {
  const [commitsA = "0", hashA = ""] = a.shaSuffix.split("-g")
  const [commitsB = "0", hashB = ""] = b.shaSuffix.split("-g")
  const order = compareNumbers(numbers(a.lustreVersion), numbers(b.lustreVersion)) ||
    Math.sign(Number(commitsA) - Number(commitsB)) ||
    (hashA < hashB ? -1 : hashA > hashB ? 1 : 0)
  return order < 0 ? -1 : order > 0 ? 1 : 0
}

/** Debian's name for the machine (`uname -m`), as Microsoft's repositories are split; undefined: none is published. */
export const debianArchitectureOf = (machine: string): "amd64" | "arm64" | undefined =>
  machine === "x86_64" ? "amd64" : machine === "aarch64" || machine === "arm64" ? "arm64" : undefined
