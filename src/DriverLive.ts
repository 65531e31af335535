import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { AmlfsApiLive } from "../layers/azure/AmlfsApiLive.js"
import { AzureConfig } from "../layers/azure/AzureConfig.js"
import { AmlfsApi } from "../layers/azure/AmlfsApi.js"
import { chooseArmCredential, makeArmCredential, tokenEndpointOf } from "../layers/azure/AzureCredential.js"
import { StorageAccessLive } from "../layers/azure/StorageAccessLive.js"
import { KubeLive } from "../layers/kube/KubeLive.js"
import { HsmLive } from "../layers/hsm/HsmLive.js"
import { KubeNodeLive } from "../layers/kube/KubeNodeLive.js"
import { LnetProbe } from "../layers/lnet/LnetProbe.js"
import { LnetProbeLive } from "../layers/lnet/LnetProbeLive.js"
import { LustreShellLive } from "../layers/lustre/LustreShellLive.js"
import { LustreClientLive } from "../layers/lustreClient/LustreClientLive.js"
import type { ServeOptions } from "./cli/options.js"
import { DriverConfig } from "./config/DriverConfig.js"
import { ControllerConfig } from "./controller/dynamic/ControllerConfig.js"
import { VolumeEvents } from "./controller/dynamic/VolumeEvents.js"
import { CsiServerLive } from "./csi/CsiServer.js"
import { controllerService, identityService, nodeService } from "./csi/servedServices.js"
import { armReachableCheck, armTokenCheck } from "./health/armReadinessChecks.js"
import { HealthServer } from "./health/HealthServer.js"
import { LNET_CHECKS, lnetReadinessChecks } from "./health/lnetReadinessChecks.js"
import { NodeSetup } from "./node/setup/NodeSetup.js"
import { NodeSetupEvents } from "./node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings } from "./node/setup/NodeSetupSettings.js"
import { gatedByNodeSetup } from "./node/setup/nodeSetupReadiness.js"
import { Readiness, type ReadinessEntry } from "./health/Readiness.js"
import { resolveNodeZone } from "./node/nodeZone.js"
import { removeStartupTaint } from "./node/startupTaint.js"
import { countArmRequest } from "./observability/metrics.js"
import { HsmLoopLayer } from "./controller/hsm/HsmLoopLayer.js"
import { HydrationEvents } from "./node/hsm/HydrationEvents.js"
import { ControllerServices, NodeServices } from "./ServiceLayers.js"
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
const NodeLayers = (options: ServeOptions, nodeId: string) =>
  NodeServices({
    nodeId,
    kubeletDir: options.kubeletDir,
    mountRoot: options.mountRoot,
    zone: nodeZone(options, nodeId),
    mountTimeoutSeconds: options.mountTimeoutSeconds,
    shell: LustreShellLive.layerNode,
    lnet: LnetProbeLive.layerNode,
    hsm: HsmLive.layerNode(),
    hydrationEvents: HydrationEvents.layerKube(
      KubeNodeLive.layerInCluster({ reportingController: options.driverName, reportingInstance: nodeId })
    )
  })

/**
 * In the background, removes this node's start-up taint once it is ready (see startupTaint.ts),
 * unless --remove-node-taint=false. Outside a pod there is no API server: it says so and stops;
 * the driver serves on.
 */
const StartupTaint = (options: ServeOptions, nodeId: string) =>
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

/** What the Controller service needs: ARM through the SDK with the cloud config's identity, Events through Kubernetes. */
const ControllerLayers = (options: ServeOptions) => Layer.unwrap(Effect.gen(function*() {
  const azure = yield* AzureConfig
  const credential = yield* makeArmCredential(azure)
  const controllerConfig = Layer.succeed(ControllerConfig, {
    ...ControllerConfig.polling,
    creationPolling: { ...ControllerConfig.polling.creationPolling, quietPeriod: Duration.seconds(options.armPollQuietSeconds) },
    subscriptionId: azure.subscriptionId,
    networkSubscriptionId: azure.networkResourceSubscriptionID ?? azure.subscriptionId,
    location: azure.location,
    resourceGroup: azure.resourceGroup,
    vnetResourceGroup: azure.vnetResourceGroup ?? azure.resourceGroup,
    vnetName: azure.vnetName ?? "",
    subnetName: azure.subnetName ?? "",
    hpcCachePrincipalId: options.hpcCachePrincipalId
  })
  const armClient = {
    subscriptionId: azure.subscriptionId,
    credential,
    endpoint: azure.armEndpoint,
    // The token the arm-token check asks for is the token ARM requests carry.
    credentialScope: azure.armScope,
    onRequest: countArmRequest
  }
  // The blob-integration preflight reads storage through the same ARM client settings.
  const arm = Layer.merge(AmlfsApiLive.layer(armClient), StorageAccessLive.layer(armClient))
  const checks = Layer.effect(
    ControllerChecks,
    Effect.gen(function*() {
      const choice = Result.getOrUndefined(chooseArmCredential(azure, process.env))
      const token = yield* armTokenCheck(credential, azure.armScope, choice?._tag ?? "no identity", {
        ...(choice === undefined ? {} : { tokenEndpoint: tokenEndpointOf(choice, process.env) })
      })
      return options.checkArm ? [token, yield* armReachableCheck(yield* AmlfsApi, azure.location)] : [token]
    })
  )
  // The HSM loop (PVC annotations: imports, archives) runs on the replica that holds its Lease.
  return Layer.mergeAll(checks, HsmLoopLayer({ driverName: options.driverName })).pipe(
    Layer.provideMerge(ControllerServices({ arm, config: controllerConfig, events: VolumeEvents.layerKube }))
  )
})).pipe(Layer.provide(AzureConfig.layerFromEnvironment.pipe(
  // Events say which driver reported them: this one's name, not the default's.
  Layer.provideMerge(KubeLive.layerWith({ reportingController: options.driverName }))
)))

/**
 * The node setup: the AMLFS Lustre client installed and loaded through the node's root (the
 * DaemonSet mounts it at --host-root), in the background from the start; its Events on this Node.
 */
const NodeSetupLive = (options: ServeOptions, nodeId: string) =>
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
const nodeReadinessChecks: Effect.Effect<ReadonlyArray<ReadinessEntry>, never, LnetProbe | NodeSetup> = Effect.gen(function*() {
  return [gatedByNodeSetup(yield* NodeSetup, yield* lnetReadinessChecks(yield* LnetProbe), Object.values(LNET_CHECKS))]
})

/** The controller's readiness checks (arm-token, and arm-reachable with --check-arm), made beside its ARM client. */
class ControllerChecks extends Context.Service<ControllerChecks, ReadonlyArray<ReadinessEntry>>()(
  "azurelustre/ControllerChecks"
) {}

/** What readiness means in each mode; "all" needs both the node's and the controller's checks to pass. */
const NodeReadiness = Layer.effect(Readiness, Effect.map(nodeReadinessChecks, Readiness.fromChecks)).pipe(
  Layer.provide(LnetProbeLive.layerNode)
)
const ControllerReadiness = Layer.effect(Readiness, Effect.map(ControllerChecks, Readiness.fromChecks))
const AllReadiness = Layer.effect(
  Readiness,
  Effect.gen(function*() {
    return Readiness.fromChecks([...(yield* nodeReadinessChecks), ...(yield* ControllerChecks)])
  })
).pipe(Layer.provide(LnetProbeLive.layerNode))

/**
 * The driver as it runs in a cluster. Each mode loads only what it uses: the node plugin runs on
 * every node, so its memory is paid once per node, and never loads the Azure SDK.
 */
export const DriverLive = (options: ServeOptions) => {
  const config = Layer.succeed(DriverConfig, {
    driverName: options.driverName,
    vendorVersion: VENDOR_VERSION,
    mode: options.mode,
    nodeId: options.nodeId,
    drainTimeout: Duration.seconds(options.drainTimeoutSeconds)
  })
  const nodeId = options.nodeId ?? ""
  // The health server starts before the CSI socket, so kubelet's probes can watch start-up.
  const health = HealthServer.layer({ host: "0.0.0.0", port: options.healthPort })
  switch (options.mode) {
    case "controller":
      return CsiServerLive(options.socketPath, Effect.all([identityService, controllerService])).pipe(
        Layer.provide(health),
        Layer.provide(Layer.merge(config, ControllerReadiness)),
        Layer.provide(ControllerLayers(options))
      )
    // The node setup starts first and the CSI socket waits for it a little (NodeSetup.headStart).
    case "node":
      return CsiServerLive(options.socketPath, Effect.all([identityService, nodeService])).pipe(
        Layer.provide(NodeSetup.headStart(defaultNodeSetupSettings)),
        Layer.provide(health),
        Layer.merge(StartupTaint(options, nodeId)),
        Layer.provide(Layer.mergeAll(config, NodeReadiness, NodeLayers(options, nodeId))),
        Layer.provide(NodeSetupLive(options, nodeId))
      )
    case "all":
      return CsiServerLive(options.socketPath, Effect.all([identityService, controllerService, nodeService])).pipe(
        Layer.provide(NodeSetup.headStart(defaultNodeSetupSettings)),
        Layer.provide(health),
        Layer.merge(StartupTaint(options, nodeId)),
        Layer.provide(Layer.mergeAll(config, AllReadiness, NodeLayers(options, nodeId))),
        Layer.provide(NodeSetupLive(options, nodeId)),
        Layer.provide(ControllerLayers(options))
      )
  }
}
