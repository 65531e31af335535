import * as Result from "effect/Result"
import {
  type ClientVersion,
  LUSTRE_VERSION_PATTERN,
  SHA_SUFFIX_PATTERN
} from "../../../layers/lustreClient/clientPackage.js"

/**
 * Which AMLFS client version each Ubuntu release gets. The Go driver's variables hold one version
 * (an image per release); here each may also be a list per release, so one DaemonSet serves
 * jammy and noble node pools:
 *
 *   LUSTRE_VERSION="jammy=2.15.7 noble=2.16.1"   CLIENT_SHA_SUFFIX="jammy=33-g79ddf99 noble=14-gbc76088"
 *   LUSTRE_VERSION=2.15.7                        CLIENT_SHA_SUFFIX=33-g79ddf99   (every release)
 */
export interface ClientVersions {
  /** By Ubuntu codename. */
  readonly byRelease: ReadonlyMap<string, ClientVersion>
  /** For a release not named (both variables plain, as the Go driver's). */
  readonly otherwise: ClientVersion | undefined
}

/** Microsoft's clients for AKS's Ubuntu images, as the Go driver's manifests pin them. */
export const DEFAULT_CLIENT_VERSIONS: ClientVersions = {
  byRelease: new Map([
    ["jammy", { lustreVersion: "2.15.7", shaSuffix: "33-g79ddf99" }],
    ["noble", { lustreVersion: "2.16.1", shaSuffix: "14-gbc76088" }]
  ]),
  otherwise: undefined
}

interface Parsed {
  readonly plain: string | undefined
  readonly byRelease: ReadonlyMap<string, string>
}

const parseOne = (variable: string, value: string, valid: RegExp, example: string): Result.Result<Parsed, string> => {
  const words = value.split(/[\s,;]+/).filter((word) => word !== "")
  if (words.length === 0) return Result.fail(`${variable} is empty: give a version (${example}) or one per release (jammy=${example})`)
  let plain: string | undefined
  const byRelease = new Map<string, string>()
  for (const word of words) {
    const at = word.indexOf("=")
    const release = at < 0 ? undefined : word.slice(0, at)
    const version = at < 0 ? word : word.slice(at + 1)
    if (release !== undefined && !/^[a-z]{2,20}$/.test(release)) {
      return Result.fail(`${variable}: ${JSON.stringify(release)} is not an Ubuntu release codename (jammy, noble, ...)`)
    }
    if (!valid.test(version)) return Result.fail(`${variable}: ${JSON.stringify(version)} is not a version like ${example}`)
    if (release === undefined) {
      if (plain !== undefined) return Result.fail(`${variable} gives two versions for every release; name each release (jammy=${example})`)
      plain = version
    } else {
      if (byRelease.has(release)) return Result.fail(`${variable} names ${release} twice`)
      byRelease.set(release, version)
    }
  }
  return Result.succeed({ plain, byRelease })
}

/** The versions from LUSTRE_VERSION and CLIENT_SHA_SUFFIX (both or neither: neither means the defaults). */
export const parseClientVersions = (
  lustreVersion: string | undefined,
  shaSuffix: string | undefined
): Result.Result<ClientVersions, string> =>
  Result.gen(function*() {
    if (lustreVersion === undefined && shaSuffix === undefined) return DEFAULT_CLIENT_VERSIONS
    if (lustreVersion === undefined || shaSuffix === undefined) {
      return yield* Result.fail(
        `${lustreVersion === undefined ? "CLIENT_SHA_SUFFIX is set without LUSTRE_VERSION" : "LUSTRE_VERSION is set without CLIENT_SHA_SUFFIX"}: ` +
          "set both (a client package is amlfs-lustre-client-<LUSTRE_VERSION>-<CLIENT_SHA_SUFFIX>), or neither for the driver's defaults"
      )
    }
    const versions = yield* parseOne("LUSTRE_VERSION", lustreVersion, LUSTRE_VERSION_PATTERN, "2.15.7")
    const suffixes = yield* parseOne("CLIENT_SHA_SUFFIX", shaSuffix, SHA_SUFFIX_PATTERN, "33-g79ddf99")
    const byRelease = new Map<string, ClientVersion>()
    for (const release of [...new Set([...versions.byRelease.keys(), ...suffixes.byRelease.keys()])].sort()) {
      const version = versions.byRelease.get(release) ?? versions.plain
      const suffix = suffixes.byRelease.get(release) ?? suffixes.plain
      if (version === undefined) return yield* Result.fail(`LUSTRE_VERSION names no version for ${release}, which CLIENT_SHA_SUFFIX names: add ${release}=<version>`)
      if (suffix === undefined) return yield* Result.fail(`CLIENT_SHA_SUFFIX names no suffix for ${release}, which LUSTRE_VERSION names: add ${release}=<suffix>`)
      byRelease.set(release, { lustreVersion: version, shaSuffix: suffix })
    }
    const otherwise = versions.plain !== undefined && suffixes.plain !== undefined
      ? { lustreVersion: versions.plain, shaSuffix: suffixes.plain }
      : undefined
    return { byRelease, otherwise }
  })

/** The client version for a release, if any is configured for it. */
export const clientVersionFor = (versions: ClientVersions, codename: string): ClientVersion | undefined =>
  versions.byRelease.get(codename) ?? versions.otherwise

/** `jammy=2.15.7-33-g79ddf99, noble=2.16.1-14-gbc76088`: for messages and logs. */
export const describeClientVersions = (versions: ClientVersions): string =>
  [
    ...[...versions.byRelease].map(([release, version]) => `${release}=${version.lustreVersion}-${version.shaSuffix}`),
    ...(versions.otherwise === undefined ? [] : [`any other Ubuntu release=${versions.otherwise.lustreVersion}-${versions.otherwise.shaSuffix}`])
  ].join(", ")
