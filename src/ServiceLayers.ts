import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Hsm } from "../layers/hsm/Hsm.js"
import type { LnetProbe } from "../layers/lnet/LnetProbe.js"
import type { LustreShell } from "../layers/lustre/LustreShell.js"
import type { StorageAccess } from "../layers/azure/StorageAccess.js"
import { ClusterExpander } from "./controller/dynamic/ClusterExpander.js"
import { ClusterProvisioner } from "./controller/dynamic/ClusterProvisioner.js"
import type { ControllerConfig } from "./controller/dynamic/ControllerConfig.js"
import { SkuCatalog } from "./controller/dynamic/SkuCatalog.js"
import type { VolumeEvents } from "./controller/dynamic/VolumeEvents.js"
import { StaticVolumes } from "./controller/StaticVolumes.js"
import { KeyedLocks } from "./locks/KeyedLocks.js"
import type { HydrationSettings } from "./node/hsm/hydrate.js"
import type { HydrationEvents } from "./node/hsm/HydrationEvents.js"
import { HydrationRecords } from "./node/hsm/HydrationRecords.js"
import { Hydrations } from "./node/hsm/Hydrations.js"
import { NodeConfig } from "./node/NodeConfig.js"
import { resolveNodeDirectories } from "./node/nodeDirectories.js"

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

/**
 * The services the Node RPCs run on, wired one way for `serve` and `sim`: the node's config
 * (its directories resolved and checked, its zone), per-target locks, the Lustre shell, LNet, and
 * HSM with the hydrations that use it.
 */
export const NodeServices = <ES, RS, EL, RL, EZ, RZ, EH, RH, EE, RE>(given: {
  readonly nodeId: string
  readonly kubeletDir: string
  readonly mountRoot: string
  readonly zone: Effect.Effect<string | undefined, EZ, RZ>
  readonly mountTimeoutSeconds: number
  /** How hydrations restore, where it differs from the defaults (the simulation's retries are quicker). */
  readonly hydration?: Partial<HydrationSettings>
  readonly shell: Layer.Layer<LustreShell, ES, RS>
  readonly lnet: Layer.Layer<LnetProbe, EL, RL>
  readonly hsm: Layer.Layer<Hsm, EH, RH>
  readonly hydrationEvents: Layer.Layer<HydrationEvents, EE, RE>
}) =>
  Hydrations.layer.pipe(
    Layer.provide(HydrationRecords.layer),
    Layer.provideMerge(Layer.mergeAll(
    Layer.effect(
      NodeConfig,
      Effect.gen(function*() {
        const directories = yield* resolveNodeDirectories(given.kubeletDir, given.mountRoot)
        return {
          ...NodeConfig.defaults,
          ...directories,
          nodeId: given.nodeId,
          zone: yield* given.zone,
          mountTimeout: Duration.seconds(given.mountTimeoutSeconds),
          hydration: { ...NodeConfig.defaults.hydration, ...given.hydration }
        }
      })
    ),
    KeyedLocks.layer,
    given.shell,
    given.lnet,
    given.hsm,
    given.hydrationEvents
  )))
