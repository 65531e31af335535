import type { AmlFilesystemSpec } from "../../layers/azure/AmlfsApi.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { CREATED_BY_TAG, CREATED_BY_VALUE } from "../../src/domain/ClusterTags.js"

export const testSubnet =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/lustre"

/** A cluster the driver would ask for: 16 TiB of AMLFS-Durable-Premium-125 in eastus zone 1, tagged as its own. */
export const testClusterSpec: AmlFilesystemSpec = {
  location: "eastus",
  skuName: "AMLFS-Durable-Premium-125",
  storageCapacityTiB: 16,
  filesystemSubnet: testSubnet,
  zones: ["1"],
  maintenanceWindow: { dayOfWeek: "Sunday", timeOfDayUTC: "02:00" },
  tags: { [CREATED_BY_TAG]: CREATED_BY_VALUE },
  identities: []
}

/** Where the test controller creates clusters, with the polling the driver runs with. */
export const testControllerDefaults: ControllerConfig["Service"] = {
  subscriptionId: "00000000-0000-0000-0000-000000000000",
  networkSubscriptionId: "00000000-0000-0000-0000-000000000000",
  location: "eastus",
  resourceGroup: "rg-test",
  vnetResourceGroup: "rg-net",
  vnetName: "vnet",
  subnetName: "lustre",
  ...ControllerConfig.polling
}

const emulatorSubnetPrefix =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets"

/** The ARM emulator's subnets: `amlfs` with room for any cluster, `small` for scripted shortages. */
export const emulatorSubnet = `${emulatorSubnetPrefix}/amlfs`
export const emulatorSmallSubnet = `${emulatorSubnetPrefix}/small`

/** A cluster the ARM emulator (and the fake, which shares its tables) accepts: 16 TiB of -125 in eastus zone 2. */
export const emulatorClusterSpec = (overrides: Partial<AmlFilesystemSpec> = {}): AmlFilesystemSpec => ({
  ...testClusterSpec,
  filesystemSubnet: emulatorSubnet,
  zones: ["2"],
  maintenanceWindow: { dayOfWeek: "Sunday", timeOfDayUTC: "03:00" },
  ...overrides
})
