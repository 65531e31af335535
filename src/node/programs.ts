import type { LnetProbe } from "../../layers/lnet/LnetProbe.js"
import type { LustreShell } from "../../layers/lustre/LustreShell.js"
import type { Programs } from "../csi/implement.js"
import type { NodeService } from "../gen/csi.js"
import type { KeyedLocks } from "../locks/KeyedLocks.js"
import type { Hydrations } from "./hsm/Hydrations.js"
import type { NodeConfig } from "./NodeConfig.js"
import { nodeGetCapabilities } from "./nodeGetCapabilities.js"
import { nodeGetInfo } from "./nodeGetInfo.js"
import { nodeGetVolumeStats } from "./nodeGetVolumeStats.js"
import { nodePublishVolume } from "./nodePublishVolume.js"
import { nodeUnpublishVolume } from "./nodeUnpublishVolume.js"

export type NodeServices = NodeConfig | LustreShell | LnetProbe | KeyedLocks | Hydrations

/** The Node RPCs built so far; the rest (staging, expansion) answer UNIMPLEMENTED. */
export const nodePrograms: Programs<typeof NodeService, NodeServices> = {
  nodePublishVolume,
  nodeUnpublishVolume,
  nodeGetVolumeStats,
  nodeGetInfo,
  nodeGetCapabilities
}
