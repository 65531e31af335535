import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Hsm } from "../layers/hsm/Hsm.js"
import type { LnetProbe } from "../layers/lnet/LnetProbe.js"
import type { LustreShell } from "../layers/lustre/LustreShell.js"
import { KeyedLocks } from "./locks/KeyedLocks.js"
import type { HydrationSettings } from "./node/hsm/hydrate.js"
import type { HydrationEvents } from "./node/hsm/HydrationEvents.js"
import { HydrationRecords } from "./node/hsm/HydrationRecords.js"
import { Hydrations } from "./node/hsm/Hydrations.js"
import { NodeConfig } from "./node/NodeConfig.js"
import { resolveNodeDirectories } from "./node/nodeDirectories.js"

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
