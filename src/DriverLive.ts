import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import { LnetProbeLive } from "../layers/lnet/LnetProbeLive.js"
import { LustreShellLive } from "../layers/lustre/LustreShellLive.js"
import type { ServeOptions } from "./cli/options.js"
import { DriverConfig } from "./config/DriverConfig.js"
import { StaticVolumes } from "./controller/StaticVolumes.js"
import { CsiServerLive } from "./csi/CsiServer.js"
import { Readiness } from "./health/Readiness.js"
import { KeyedLocks } from "./locks/KeyedLocks.js"
import { NodeConfig } from "./node/NodeConfig.js"
import { VENDOR_VERSION } from "./version.js"

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
      Layer.succeed(NodeConfig, {
        ...NodeConfig.defaults,
        nodeId: options.nodeId ?? "",
        zone: options.zone,
        mountRoot: options.mountRoot,
        mountTimeout: Duration.seconds(options.mountTimeoutSeconds)
      }),
      // The LNet checks (node) and the ARM token check (controller) join here as they are built.
      Readiness.layerFromChecks([]),
      StaticVolumes.layer,
      KeyedLocks.layer,
      LustreShellLive.layerNode,
      LnetProbeLive.layerNode
    ))
  )
