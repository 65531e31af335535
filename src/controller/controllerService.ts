import { serve } from "../csi/servedServices.js"
import { ControllerService } from "../gen/csi.js"
import { type ControllerServices, controllerPrograms } from "./programs.js"

export const controllerService = serve<typeof ControllerService, ControllerServices>(ControllerService, controllerPrograms)
