/**
 * The host's operating system as /etc/os-release (os-release(5)) names it: shell-style
 * `KEY=value` lines, values optionally in double or single quotes with backslash escapes.
 *
 *   Ubuntu 22.04:     ID=ubuntu, VERSION_ID="22.04", VERSION_CODENAME=jammy
 *   Azure Linux 3.0:  ID=azurelinux, VERSION_ID="3.0" (no codename)
 *
 * Samples in test/fixtures/lustreClient/.
 */
export interface HostRelease {
  /** `ID`, lower-case (`ubuntu`, `azurelinux`, `mariner`, `debian`). */
  readonly id: string
  /** `VERSION_ID`, e.g. `22.04`; empty when not given. */
  readonly versionId: string
  /** `VERSION_CODENAME` (else `UBUNTU_CODENAME`), e.g. `jammy`; empty when not given. */
  readonly codename: string
  /** `PRETTY_NAME`, for messages; else `NAME VERSION_ID`. */
  readonly prettyName: string
}

const unquote = (raw: string): string => {
  const value = raw.trim()
  const quote = value[0]
  if ((quote === "\"" || quote === "'") && value.endsWith(quote) && value.length >= 2) {
    const inner = value.slice(1, -1)
    return quote === "'" ? inner : inner.replace(/\\(["\\$`])/g, "$1")
  }
  return value
}

/** The fields of an os-release file; lines that are not `KEY=value` (comments, blanks) are skipped. */
export const parseOsReleaseFields = (text: string): ReadonlyMap<string, string> =>
  new Map(
    text.split("\n").flatMap((line) => {
      const [, key, value = ""] = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line) ?? []
      return key === undefined ? [] : [[key, unquote(value)] as const]
    })
  )

export const parseOsRelease = (text: string): HostRelease => {
  const fields = parseOsReleaseFields(text)
  const id = (fields.get("ID") ?? "").toLowerCase()
  const versionId = fields.get("VERSION_ID") ?? ""
  const codename = fields.get("VERSION_CODENAME") || fields.get("UBUNTU_CODENAME") || ""
  const name = fields.get("NAME") ?? id
  return { id, versionId, codename, prettyName: fields.get("PRETTY_NAME") || `${name} ${versionId}`.trim() }
}

/** `Ubuntu 22.04.5 LTS (jammy)`: what messages call the host's release. */
export const describeRelease = (release: HostRelease): string =>
  release.codename === "" || release.prettyName.includes(release.codename)
    ? release.prettyName
    : `${release.prettyName} (${release.codename})`
