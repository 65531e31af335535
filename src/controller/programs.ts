import type { Programs } from "../csi/implement.js"
import type { ControllerService } from "../gen/csi.js"
import { controllerExpandVolume } from "./controllerExpandVolume.js"
import { controllerGetCapabilities } from "./controllerGetCapabilities.js"
import { createVolume } from "./createVolume.js"
import { deleteVolume } from "./deleteVolume.js"
import type { ClusterExpander } from "./dynamic/ClusterExpander.js"
import type { ClusterProvisioner } from "./dynamic/ClusterProvisioner.js"
import type { ControllerConfig } from "./dynamic/ControllerConfig.js"
import type { SkuCatalog } from "./dynamic/SkuCatalog.js"
import type { StaticVolumes } from "./StaticVolumes.js"
import { validateVolumeCapabilities } from "./validateVolumeCapabilities.js"

export type ControllerServices = StaticVolumes | ClusterProvisioner | ClusterExpander | SkuCatalog | ControllerConfig

/** The Controller RPCs built so far; the rest answer UNIMPLEMENTED. */
export const controllerPrograms: Programs<typeof ControllerService, ControllerServices> = {
  createVolume,
  deleteVolume,
  validateVolumeCapabilities,
  controllerGetCapabilities,
  controllerExpandVolume
}
