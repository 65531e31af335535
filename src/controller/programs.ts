import type { Programs } from "../csi/implement.js"
import type { ControllerService } from "../gen/csi.js"

/** The Controller RPCs built so far; the rest answer UNIMPLEMENTED. */
export const controllerPrograms: Programs<typeof ControllerService, never> = {}
