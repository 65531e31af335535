import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { HsmLive } from "../layers/hsm/HsmLive.js"
import { HsmPinned } from "../layers/hsm/HsmPinned.js"
import { KubeNodeLive } from "../layers/kube/KubeNodeLive.js"
import { LnetProbe } from "../layers/lnet/LnetProbe.js"
import { LnetProbeLive } from "../layers/lnet/LnetProbeLive.js"
import { LustreShellLive } from "../layers/lustre/LustreShellLive.js"
import { LustreClientLive } from "../layers/lustreClient/LustreClientLive.js"
import type { ServeOptions } from "./cli/options.js"
import { DriverConfig } from "./config/DriverConfig.js"
import { CsiServerLive } from "./csi/CsiServer.js"
import { HealthServer } from "./health/HealthServer.js"
import { LNET_CHECKS, lnetReadinessChecks } from "./health/lnetReadinessChecks.js"
import { READINESS_REFRESH, Readiness, type ReadinessEntry } from "./health/Readiness.js"
import { identityService } from "./identity/identityService.js"
import { HydrationEvents } from "./node/hsm/HydrationEvents.js"
import { nodeService } from "./node/nodeService.js"
import { resolveNodeZone } from "./node/nodeZone.js"
import { NodeSetup } from "./node/setup/NodeSetup.js"
import { NodeSetupEvents } from "./node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings } from "./node/setup/NodeSetupSettings.js"
import { gatedByNodeSetup } from "./node/setup/nodeSetupReadiness.js"
import { removeStartupTaint } from "./node/startupTaint.js"
import { NodeServices } from "./NodeServiceLayers.js"
import { VENDOR_VERSION } from "./version.js"

/**
 * The zone NodeGetInfo reports: the flag's, else the Node's zone label, read through the node
 * plugin's small client (KubeNodeLive), not @kubernetes/client-node.
 */
const nodeZone = (options: ServeOptions, nodeId: string): Effect.Effect<string | undefined> =>
  options.zone !== undefined ? Effect.succeed(options.zone) : resolveNodeZone(undefined, nodeId).pipe(
    Effect.provide(KubeNodeLive.layer),
    Effect.catch((failed) =>
      Effect.logWarning("cannot reach the Kubernetes API to read the node's zone; reporting no zone").pipe(
        Effect.annotateLogs({ reason: failed.message }),
        Effect.as(undefined)
      )
    )
  )

/** What the Node service needs: the Lustre shell, LNet, per-target locks. */
export const NodeLayers = (options: ServeOptions, nodeId: string) =>
  NodeServices({
    nodeId,
    kubeletDir: options.kubeletDir,
    mountRoot: options.mountRoot,
    zone: nodeZone(options, nodeId),
    mountTimeoutSeconds: options.mountTimeoutSeconds,
    shell: LustreShellLive.layerNode,
    lnet: LnetProbeLive.layerNode,
    hsm: HsmPinned.layer.pipe(Layer.provide(HsmLive.layerNode())),
    hydrationEvents: HydrationEvents.layerKube(
      KubeNodeLive.layerInCluster({ reportingController: options.driverName, reportingInstance: nodeId })
    )
  })

/**
 * In the background, removes this node's start-up taint once it is ready (see startupTaint.ts),
 * unless --remove-node-taint=false. Outside a pod there is no API server: it says so and stops;
 * the driver serves on.
 */
export const StartupTaint = (options: ServeOptions, nodeId: string) =>
  options.removeNodeTaint
    ? Layer.effectDiscard(Effect.forkScoped(
      removeStartupTaint({ nodeName: nodeId, driverName: options.driverName, pollInterval: Duration.seconds(5) }).pipe(
        Effect.provide(KubeNodeLive.layer),
        Effect.catch((failed) =>
          Effect.logWarning("cannot remove the node's start-up taint").pipe(Effect.annotateLogs({ reason: failed.message }))
        )
      )
    ))
    : Layer.empty


/**
 * The node setup: the AMLFS Lustre client installed and loaded through the node's root (the
 * DaemonSet mounts it at --host-root), in the background from the start; its Events on this Node.
 */
export const NodeSetupLive = (options: ServeOptions, nodeId: string) =>
  NodeSetup.layer({ ...defaultNodeSetupSettings, install: options.nodeSetup.install, versions: options.nodeSetup.versions }).pipe(
    Layer.provide(Layer.mergeAll(
      LustreClientLive.layerNode({ hostRoot: options.nodeSetup.hostRoot }),
      NodeSetupEvents.layerKube(nodeId, KubeNodeLive.layerInCluster({ reportingController: options.driverName, reportingInstance: nodeId }))
    ))
  )

/**
 * The node plugin is ready when its Lustre client is set up (lustre-client) and LNet works:
 * lnet-modules, lnet-nid, lnet-self-ping, lnet-interface.
 */
export const nodeReadinessChecks: Effect.Effect<ReadonlyArray<ReadinessEntry>, never, LnetProbe | NodeSetup> = Effect.gen(function*() {
  return [gatedByNodeSetup(yield* NodeSetup, yield* lnetReadinessChecks(yield* LnetProbe), Object.values(LNET_CHECKS))]
})

/**
 * Readiness refreshed every READINESS_REFRESH, and at each step of the node setup: /healthz says
 * what the setup does now, and a node whose client is installed is ready without waiting.
 */
export const refreshingReadiness = <E, R>(checks: Effect.Effect<ReadonlyArray<ReadinessEntry>, E, R>) =>
  Readiness.layerRefreshed(checks, {
    every: READINESS_REFRESH,
    refreshOn: Stream.unwrap(NodeSetup.use((setup) => Effect.succeed(setup.changes)))
  })

/** The driver's settings every mode shares. */
export const driverConfigOf = (options: ServeOptions) =>
  Layer.succeed(DriverConfig, {
    driverName: options.driverName,
    vendorVersion: VENDOR_VERSION,
    mode: options.mode,
    nodeId: options.nodeId,
    drainTimeout: Duration.seconds(options.drainTimeoutSeconds)
  })

/** The health server starts before the CSI socket, so kubelet's probes can watch start-up. */
export const healthServerOf = (options: ServeOptions) => HealthServer.layer({ host: "0.0.0.0", port: options.healthPort })

/**
 * The node plugin as it runs on every node (`serve --mode node`). Its module graph is its own
 * bundle chunk: no Azure SDK, no @kubernetes/client-node, no ARM emulator, so that every node pays
 * only for what the node plugin uses (bench/README.md, footprint).
 */
export const NodeDriverLive = (options: ServeOptions) => {
  const nodeId = options.nodeId ?? ""
  // The node setup starts first and the CSI socket waits for it a little (NodeSetup.headStart).
  return CsiServerLive(options.socketPath, Effect.all([identityService, nodeService])).pipe(
    Layer.provide(NodeSetup.headStart(defaultNodeSetupSettings)),
    Layer.provide(healthServerOf(options)),
    Layer.merge(StartupTaint(options, nodeId)),
    Layer.provide(Layer.mergeAll(
      driverConfigOf(options),
      refreshingReadiness(nodeReadinessChecks).pipe(Layer.provide(LnetProbeLive.layerNode)),
      NodeLayers(options, nodeId)
    )),
    Layer.provide(NodeSetupLive(options, nodeId))
  )
}
