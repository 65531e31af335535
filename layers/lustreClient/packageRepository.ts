/**
 * Where the host's apt finds the AMLFS client: Microsoft's repository for the node's Ubuntu
 * release (`https://packages.microsoft.com/repos/amlfs-<codename>/`, suite `<codename>`, `main`),
 * trusted through Microsoft's key for this one source only (`signed-by`, not apt's global keyring
 * as the Go driver does).
 */
export interface PackageRepository {
  /** For messages: where the packages come from. */
  readonly url: string
  /** The file in the host's /etc/apt/sources.list.d/ holding `sourceLine`. */
  readonly listFile: string
  /** One deb line (sources.list(5)). */
  readonly sourceLine: string
  /** The repository's signing key, downloaded (ASCII-armored) to `path` in the host root when missing there. */
  readonly key?: { readonly url: string; readonly path: string }
}

export const MICROSOFT_KEY_URL = "https://packages.microsoft.com/keys/microsoft.asc"
export const MICROSOFT_KEY_PATH = "/etc/apt/keyrings/microsoft-amlfs.asc"

export const microsoftAmlfsRepository = (codename: string, architecture: string): PackageRepository => {
  const url = `https://packages.microsoft.com/repos/amlfs-${codename}/`
  return {
    url,
    listFile: "/etc/apt/sources.list.d/amlfs.list",
    sourceLine: `deb [arch=${architecture} signed-by=${MICROSOFT_KEY_PATH}] ${url} ${codename} main`,
    key: { url: MICROSOFT_KEY_URL, path: MICROSOFT_KEY_PATH }
  }
}
