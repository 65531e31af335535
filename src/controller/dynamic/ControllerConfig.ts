import * as Context from "effect/Context"
import * as Duration from "effect/Duration"

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
  readonly creationPolling: { readonly quietPeriod: Duration.Duration; readonly interval: Duration.Duration }
  readonly deletionPolling: { readonly quietPeriod: Duration.Duration; readonly interval: Duration.Duration }
  /** A Kubernetes Event on the PVC at least this often while a cluster is being created. */
  readonly progressEventEvery: Duration.Duration
}>()("azurelustre/controller/ControllerConfig") {
  static readonly polling = {
    creationPolling: { quietPeriod: Duration.seconds(450), interval: Duration.seconds(10) },
    deletionPolling: { quietPeriod: Duration.minutes(1), interval: Duration.seconds(10) },
    progressEventEvery: Duration.minutes(3)
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
