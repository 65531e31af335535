import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LnetProbeLive } from "../layers/lnet/LnetProbeLive.js"
import { KubeLive } from "../layers/kube/KubeLive.js"
import { LustreShellLive } from "../layers/lustre/LustreShellLive.js"
import type { ServeOptions } from "./cli/options.js"
import { DriverConfig, servesNode } from "./config/DriverConfig.js"
import { StaticVolumes } from "./controller/StaticVolumes.js"
import { CsiServerLive } from "./csi/CsiServer.js"
import { Readiness } from "./health/Readiness.js"
import { KeyedLocks } from "./locks/KeyedLocks.js"
import { NodeConfig } from "./node/NodeConfig.js"
import { resolveNodeZone } from "./node/nodeZone.js"
import { VENDOR_VERSION } from "./version.js"

/**
 * The zone NodeGetInfo reports: the flag's, else the Node's zone label. The Kubernetes client
 * (~90 MB resident) is loaded only for that, and only by a node plugin given no --zone.
 */
const nodeZone = (options: ServeOptions): Effect.Effect<string | undefined> => {
  if (options.zone !== undefined || !servesNode(options.mode) || options.nodeId === undefined) {
    return Effect.succeed(options.zone)
  }
  const nodeId = options.nodeId
  return resolveNodeZone(undefined, nodeId).pipe(
    Effect.provide(KubeLive.layer),
    Effect.catch((failed) =>
      Effect.logWarning("cannot reach the Kubernetes API to read the node's zone; reporting no zone").pipe(
        Effect.annotateLogs({ reason: failed.message }),
        Effect.as(undefined)
      )
    )
  )
}

/**
 * The driver as it runs in a cluster. Each mode loads only what it uses: the node plugin runs on
 * every node, so its memory is paid once per node.
 */
export const DriverLive = (options: ServeOptions) =>
  CsiServerLive(options.socketPath).pipe(
    Layer.provide(Layer.mergeAll(
      Layer.succeed(DriverConfig, {
        driverName: options.driverName,
        vendorVersion: VENDOR_VERSION,
        mode: options.mode,
        nodeId: options.nodeId,
        drainTimeout: Duration.seconds(options.drainTimeoutSeconds)
      }),
      Layer.effect(
        NodeConfig,
        Effect.map(nodeZone(options), (zone) => ({
          ...NodeConfig.defaults,
          nodeId: options.nodeId ?? "",
          zone,
          mountRoot: options.mountRoot,
          mountTimeout: Duration.seconds(options.mountTimeoutSeconds)
        }))
      ),
      // The LNet checks (node) and the ARM token check (controller) join here as they are built.
      Readiness.layerFromChecks([]),
      StaticVolumes.layer,
      KeyedLocks.layer,
      LustreShellLive.layerNode,
      LnetProbeLive.layerNode
    ))
  )
