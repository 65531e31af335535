import type { Programs } from "../csi/implement.js"
import type { NodeService } from "../gen/csi.js"

/** The Node RPCs built so far; the rest answer UNIMPLEMENTED. */
export const nodePrograms: Programs<typeof NodeService, never> = {}
