import * as Duration from "effect/Duration"
import { microsoftAmlfsRepository, type PackageRepository } from "../../../layers/lustreClient/packageRepository.js"
import { type ClientVersions, DEFAULT_CLIENT_VERSIONS } from "./clientVersions.js"

/** How the node plugin sets up the Lustre client before it reports ready. */
export interface NodeSetupSettings {
  /** AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT: false assumes a client is there (installed some other way). */
  readonly install: boolean
  readonly versions: ClientVersions
  /** Where each release's packages come from: Microsoft's AMLFS repository (tests: a local one). */
  readonly repositoryFor: (codename: string, architecture: string) => PackageRepository
  /** Each step's bound; a step that takes longer is cut (its command killed) and the round fails. */
  readonly timeouts: {
    /** Reading the host's release, dpkg's database, the loaded modules. */
    readonly inspect: Duration.Duration
    /** Writing the repository's list file, downloading its key. */
    readonly repository: Duration.Duration
    readonly updatePackageLists: Duration.Duration
    readonly install: Duration.Duration
    readonly remove: Duration.Duration
    /** lustre_rmmod, each modprobe. */
    readonly modules: Duration.Duration
    /** Each lnetctl and ip command. */
    readonly lnet: Duration.Duration
  }
  /** The first wait between apt-get install tries (then twice it). */
  readonly installRetryBase: Duration.Duration
  /** The first wait between rounds after a failed one, and the most it grows to. */
  readonly roundRetryFirst: Duration.Duration
  readonly roundRetryCap: Duration.Duration
  /**
   * How long the plugin waits for the setup before it opens its CSI socket: a node whose client is
   * installed is ready at its first Probe, and a long install never keeps kubelet from
   * unpublishing (the socket opens after this at the latest).
   */
  readonly headStart: Duration.Duration
}

export const defaultNodeSetupSettings: NodeSetupSettings = {
  install: true,
  versions: DEFAULT_CLIENT_VERSIONS,
  repositoryFor: microsoftAmlfsRepository,
  timeouts: {
    inspect: Duration.seconds(30),
    repository: Duration.seconds(60),
    updatePackageLists: Duration.minutes(5),
    install: Duration.minutes(10),
    remove: Duration.minutes(5),
    modules: Duration.minutes(2),
    lnet: Duration.minutes(1)
  },
  installRetryBase: Duration.seconds(15),
  roundRetryFirst: Duration.minutes(1),
  roundRetryCap: Duration.minutes(30),
  headStart: Duration.seconds(10)
}
