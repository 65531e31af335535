import * as Result from "effect/Result"
import {
  type ClientVersion,
  clientPackageName,
  debianArchitectureOf
} from "../../../layers/lustreClient/clientPackage.js"
import { describeRelease } from "../../../layers/lustreClient/hostRelease.js"
import type { HostFacts } from "../../../layers/lustreClient/LustreClient.js"
import type { PackageRepository } from "../../../layers/lustreClient/packageRepository.js"
import { type ClientVersions, clientVersionFor } from "./clientVersions.js"
import { NodeSetupFailed } from "./NodeSetupFailed.js"

/** What the node gets: this package, at the version built for this kernel, from this repository. */
export interface SetupPlan {
  readonly host: HostFacts
  readonly version: ClientVersion
  readonly packageName: string
  /** The package version to install: the kernel's `uname -r`. */
  readonly kernel: string
  readonly repository: PackageRepository
  /** `amlfs-lustre-client-2.15.7-33-g79ddf99 for 5.15.0-1079-azure`. */
  readonly describe: string
}

const knownReleases = (versions: ClientVersions) =>
  [...versions.byRelease.keys()].join(", ") + (versions.otherwise === undefined ? "" : " and any other Ubuntu release")

/**
 * The plan for this host, or why there is none: the AMLFS client is published for Ubuntu
 * releases (one repository each) on x86_64 and aarch64, and the driver must know which client
 * version a release gets. Each refusal is permanent: the node is what it is.
 */
export const planSetup = (
  host: HostFacts,
  versions: ClientVersions,
  repositoryFor: (codename: string, architecture: string) => PackageRepository
): Result.Result<SetupPlan, NodeSetupFailed> => {
  const release = describeRelease(host.release)
  const refuse = (reason: string) => Result.fail(new NodeSetupFailed({ reason, permanent: true }))
  if (host.release.id !== "ubuntu") {
    return refuse(
      `this node runs ${release}: the AMLFS Lustre client is published for Ubuntu only (${knownReleases(versions)}); ` +
        "run Lustre workloads on an Ubuntu node pool (az aks nodepool add --os-sku Ubuntu), or install a Lustre client " +
        "on these nodes yourself and set AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no (node.lustreClient.install: false)"
    )
  }
  const architecture = debianArchitectureOf(host.machine)
  if (architecture === undefined) {
    return refuse(`this node's architecture is ${host.machine}: AMLFS Lustre client packages are published for x86_64 and aarch64 only`)
  }
  const version = clientVersionFor(versions, host.release.codename)
  if (version === undefined) {
    const codename = host.release.codename === "" ? "this release" : host.release.codename
    return refuse(
      `no AMLFS Lustre client version is configured for ${release} (the driver knows ${knownReleases(versions)}): ` +
        `if Microsoft publishes amlfs-${codename}, set LUSTRE_VERSION and CLIENT_SHA_SUFFIX for ${codename} ` +
        `(node.lustreClient.versions.${codename} in the chart); otherwise move the node pool to a supported Ubuntu release`
    )
  }
  const packageName = clientPackageName(version)
  return Result.succeed({
    host,
    version,
    packageName,
    kernel: host.kernelRelease,
    repository: repositoryFor(host.release.codename, architecture),
    describe: `${packageName} for ${host.kernelRelease}`
  })
}
