/**
 * dpkg's database of installed packages, `/var/lib/dpkg/status` (deb-control(5) stanzas separated
 * by blank lines), read as a file so that knowing whether the client is installed costs no
 * package-manager process:
 *
 *   Package: amlfs-lustre-client-2.15.7-33-g79ddf99
 *   Status: install ok installed
 *   ...
 *   Version: 5.15.0-1079-azure
 */
export interface InstalledPackage {
  readonly name: string
  readonly version: string
  /** The last of `Status`'s three words: `installed`, `config-files`, `half-configured`, ... */
  readonly state: string
}

const fieldOf = (stanza: string, field: string): string | undefined => {
  const match = new RegExp(`^${field}:[ \\t]*(.*)$`, "m").exec(stanza)
  return match?.[1]?.trim()
}

/** Every package dpkg knows whose name passes `wanted`, with its version and state. */
export const parseDpkgStatus = (text: string, wanted: (name: string) => boolean = () => true): ReadonlyArray<InstalledPackage> =>
  text.split(/\n[ \t]*\n/).flatMap((stanza) => {
    const name = fieldOf(stanza, "Package")
    if (name === undefined || !wanted(name)) return []
    const state = (fieldOf(stanza, "Status") ?? "").split(/\s+/)[2] ?? ""
    return [{ name, version: fieldOf(stanza, "Version") ?? "", state }]
  })

/** Whether this exact package and version is installed and configured. */
export const isInstalled = (packages: ReadonlyArray<InstalledPackage>, name: string, version: string): boolean =>
  packages.some((found) => found.name === name && found.version === version && found.state === "installed")
