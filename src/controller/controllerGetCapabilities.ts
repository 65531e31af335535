import * as Effect from "effect/Effect"
import {
  type ControllerGetCapabilitiesRequest,
  type ControllerGetCapabilitiesResponse,
  ControllerServiceCapability_RPC_Type
} from "../gen/csi.js"

const capabilities = [
  ControllerServiceCapability_RPC_Type.CREATE_DELETE_VOLUME,
  ControllerServiceCapability_RPC_Type.SINGLE_NODE_MULTI_WRITER,
  ControllerServiceCapability_RPC_Type.EXPAND_VOLUME
]

export const controllerGetCapabilities = Effect.fnUntraced(function*(_request: ControllerGetCapabilitiesRequest) {
  const response: ControllerGetCapabilitiesResponse = {
    capabilities: capabilities.map((type) => ({ type: { $case: "rpc", value: { type } } }))
  }
  return response
})
