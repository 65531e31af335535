import * as Result from "effect/Result"
import { quote } from "../domain/BoundedText.js"
import { isValidClusterName } from "../domain/ClusterName.js"
import { isResourceGroupName } from "../domain/DynamicVolumeParameters.js"
import type { VolumeId } from "../domain/VolumeId.js"

export interface DriverCluster {
  readonly resourceGroup: string
  readonly name: string
}

/**
 * The AMLFS cluster of a volume the driver created. The driver (and the Go driver) names clusters
 * and resource groups by ARM's rules, so an id with other values was not written by either: it
 * is never sent to ARM. The failure completes "volume <id> says the driver created it but …".
 */
export const driverClusterOf = (id: VolumeId): Result.Result<DriverCluster, string> => {
  if (id.resourceGroup === "") return Result.fail("names no resource group")
  if (!isResourceGroupName(id.resourceGroup)) {
    return Result.fail(`its resource group ${quote(id.resourceGroup)} is not an Azure resource group name`)
  }
  if (!isValidClusterName(id.name)) return Result.fail(`its name ${quote(id.name)} is not an AMLFS cluster name`)
  return Result.succeed({ resourceGroup: id.resourceGroup, name: id.name })
}
