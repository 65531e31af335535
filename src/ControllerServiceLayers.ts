import * as Layer from "effect/Layer"
import type { StorageAccess } from "../layers/azure/StorageAccess.js"
import { ClusterExpander } from "./controller/dynamic/ClusterExpander.js"
import { ClusterProvisioner } from "./controller/dynamic/ClusterProvisioner.js"
import type { ControllerConfig } from "./controller/dynamic/ControllerConfig.js"
import { SkuCatalog } from "./controller/dynamic/SkuCatalog.js"
import type { VolumeEvents } from "./controller/dynamic/VolumeEvents.js"
import { StaticVolumes } from "./controller/StaticVolumes.js"

/**
 * The services the Controller RPCs run on, wired one way for `serve` (DriverLive) and `sim`
 * (SimulationLive), which give only what differs: ARM (the SDK on Azure or on the emulator, with
 * the storage reads of the blob-integration preflight; its layer may provide more, such as the
 * emulator's URL, and all of it is kept), the controller's config and where Events go.
 */
export const ControllerServices = <Arm, EA, RA, EC, RC, EE, RE>(given: {
  readonly arm: Layer.Layer<Arm | StorageAccess, EA, RA>
  readonly config: Layer.Layer<ControllerConfig, EC, RC>
  readonly events: Layer.Layer<VolumeEvents, EE, RE>
}) =>
  Layer.mergeAll(ClusterProvisioner.layer, ClusterExpander.layer.pipe(Layer.provideMerge(SkuCatalog.layer))).pipe(
    Layer.provideMerge(Layer.mergeAll(given.arm, given.config, given.events)),
    Layer.merge(StaticVolumes.layer)
  )
