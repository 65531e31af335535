import * as Effect from "effect/Effect"
import type { NodeGetInfoRequest, NodeGetInfoResponse } from "../gen/csi.js"
import { NodeConfig } from "./NodeConfig.js"

export const ZONE_TOPOLOGY_KEY = "topology.kubernetes.io/zone"

export const nodeGetInfo = Effect.fnUntraced(function*(_request: NodeGetInfoRequest) {
  const config = yield* NodeConfig
  const response: NodeGetInfoResponse = {
    nodeId: config.nodeId,
    maxVolumesPerNode: 0n,
    accessibleTopology: config.zone === undefined ? undefined : { segments: { [ZONE_TOPOLOGY_KEY]: config.zone } }
  }
  return response
})
