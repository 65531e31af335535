import * as Effect from "effect/Effect"
import { DriverConfig, servesController } from "../config/DriverConfig.js"
import {
  type GetPluginCapabilitiesRequest,
  type GetPluginCapabilitiesResponse,
  type PluginCapability,
  PluginCapability_Service_Type,
  PluginCapability_VolumeExpansion_Type
} from "../gen/csi.js"

const service = (type: PluginCapability_Service_Type): PluginCapability => ({
  type: { $case: "service", value: { type } }
})

export const getPluginCapabilities = Effect.fnUntraced(
  function*(_request: GetPluginCapabilitiesRequest) {
    const config = yield* DriverConfig
    const capabilities: Array<PluginCapability> = []
    if (servesController(config.mode)) {
      capabilities.push(service(PluginCapability_Service_Type.CONTROLLER_SERVICE))
      // Lustre clients see a grown filesystem by themselves: ControllerExpandVolume alone, while mounted.
      capabilities.push({
        type: { $case: "volumeExpansion", value: { type: PluginCapability_VolumeExpansion_Type.ONLINE } }
      })
    }
    const response: GetPluginCapabilitiesResponse = { capabilities }
    return response
  }
)
