import * as Effect from "effect/Effect"
import {
  type NodeGetCapabilitiesRequest,
  type NodeGetCapabilitiesResponse,
  NodeServiceCapability_RPC_Type
} from "../gen/csi.js"

// No STAGE_UNSTAGE_VOLUME: kubelet refuses NodeUnstageVolume while another mount shares the
// staging mount's device and root (HasMountRefs), so the shared Lustre mount is the plugin's own.
const capabilities = [
  NodeServiceCapability_RPC_Type.GET_VOLUME_STATS,
  NodeServiceCapability_RPC_Type.VOLUME_CONDITION,
  NodeServiceCapability_RPC_Type.SINGLE_NODE_MULTI_WRITER
]

export const nodeGetCapabilities = Effect.fnUntraced(function*(_request: NodeGetCapabilitiesRequest) {
  const response: NodeGetCapabilitiesResponse = {
    capabilities: capabilities.map((type) => ({ type: { $case: "rpc", value: { type } } }))
  }
  return response
})
