import { serve } from "../csi/servedServices.js"
import { NodeService } from "../gen/csi.js"
import { type NodeServices, nodePrograms } from "./programs.js"

export const nodeService = serve<typeof NodeService, NodeServices>(NodeService, nodePrograms)
