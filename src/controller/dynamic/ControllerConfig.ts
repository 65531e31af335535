import * as Context from "effect/Context"
import * as Duration from "effect/Duration"

/** How the controller reads what ARM is changing: see armPolling. */
export interface Polling {
  readonly quietPeriod: Duration.Duration
  readonly interval: Duration.Duration
  /** Reads start this soon after the quiet period and double up to `interval`. */
  readonly firstRead?: Duration.Duration | undefined
}

/** Where the controller creates clusters by default, and how it watches them. */
export class ControllerConfig extends Context.Service<ControllerConfig, {
  readonly subscriptionId: string
  /** The subscription of the VNet, when it is not the clusters' (cloud config networkResourceSubscriptionID). */
  readonly networkSubscriptionId: string
  /** Defaults for the StorageClass's location, resource-group-name, vnet-* and subnet-name. */
  readonly location: string
  readonly resourceGroup: string
  readonly vnetResourceGroup: string
  readonly vnetName: string
  readonly subnetName: string
  /** A creation: quiet for most of the 10 to 20 minutes AMLFS takes, then a read every interval. */
  readonly creationPolling: Polling
  /** A deletion: read at once and soon after (ARM may be done in a second), then every interval. */
  readonly deletionPolling: Polling
  /** An expansion job; without it, the creation's interval from the start, ramping up from 1 s. */
  readonly expansionPolling?: Polling | undefined
  /** A Kubernetes Event on the PVC at least this often while a cluster is being created. */
  readonly progressEventEvery: Duration.Duration
  /** How long a creation takes, as the PVC's Events say it ("10 to 20 minutes" in Azure). */
  readonly creationTakes: string
  /**
   * The object id of the service principal "HPC Cache Resource Provider" in the tenant: the
   * blob-integration preflight looks for the storage roles assigned to it. Without it, a role
   * assigned to any service principal on the storage account counts (weaker).
   */
  readonly hpcCachePrincipalId?: string | undefined
}>()("azurelustre/controller/ControllerConfig") {
  static readonly polling: Pick<ControllerConfig["Service"], "creationPolling" | "deletionPolling" | "expansionPolling" | "progressEventEvery" | "creationTakes"> = {
    creationPolling: { quietPeriod: Duration.seconds(450), interval: Duration.seconds(10) },
    deletionPolling: { quietPeriod: Duration.zero, interval: Duration.seconds(10), firstRead: Duration.seconds(1) },
    expansionPolling: { quietPeriod: Duration.zero, interval: Duration.seconds(10), firstRead: Duration.seconds(1) },
    progressEventEvery: Duration.minutes(3),
    creationTakes: "10 to 20 minutes"
  }
}

export const subnetIdOf = (config: {
  readonly subscriptionId: string
  readonly vnetResourceGroup: string
  readonly vnetName: string
  readonly subnetName: string
}) =>
  `/subscriptions/${config.subscriptionId}/resourceGroups/${config.vnetResourceGroup}/providers/Microsoft.Network/` +
  `virtualNetworks/${config.vnetName}/subnets/${config.subnetName}`
