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
import { LnetProbeLive } from "../layers/lnet/LnetProbeLive.js"
import type { ServeOptions } from "./cli/options.js"
import { ControllerConfig } from "./controller/dynamic/ControllerConfig.js"
import { VolumeEvents } from "./controller/dynamic/VolumeEvents.js"
import { CsiServerLive } from "./csi/CsiServer.js"
import { controllerService } from "./controller/controllerService.js"
import { identityService } from "./identity/identityService.js"
import { nodeService } from "./node/nodeService.js"
import { armReachableCheck, armTokenCheck } from "./health/armReadinessChecks.js"
import { READINESS_REFRESH, Readiness, type ReadinessEntry } from "./health/Readiness.js"
import { countArmRequest } from "./observability/metrics.js"
import { HsmLoopLayer } from "./controller/hsm/HsmLoopLayer.js"
import { ControllerServices } from "./ControllerServiceLayers.js"
import {
  driverConfigOf,
  healthServerOf,
  NodeLayers,
  nodeReadinessChecks,
  NodeSetupLive,
  refreshingReadiness,
  StartupTaint
} from "./NodeDriverLive.js"
import { NodeSetup } from "./node/setup/NodeSetup.js"
import { defaultNodeSetupSettings } from "./node/setup/NodeSetupSettings.js"

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
  return Layer.mergeAll(checks, HsmLoopLayer({ driverName: options.driverName, resync: Duration.seconds(options.hsmResyncSeconds) })).pipe(
    Layer.provideMerge(ControllerServices({ arm, config: controllerConfig, events: VolumeEvents.layerKube }))
  )
})).pipe(Layer.provide(AzureConfig.layerFromEnvironment.pipe(
  // Events say which driver reported them: this one's name, not the default's.
  Layer.provideMerge(KubeLive.layerWith({ reportingController: options.driverName }))
)))

/** The controller's readiness checks (arm-token, and arm-reachable with --check-arm), made beside its ARM client. */
class ControllerChecks extends Context.Service<ControllerChecks, ReadonlyArray<ReadinessEntry>>()(
  "azurelustre/ControllerChecks"
) {}

/** What readiness means in each mode; "all" needs both the node's and the controller's checks to pass. */
const ControllerReadiness = Readiness.layerRefreshed(Effect.service(ControllerChecks), { every: READINESS_REFRESH })
const AllReadiness = refreshingReadiness(
  Effect.gen(function*() {
    return [...(yield* nodeReadinessChecks), ...(yield* ControllerChecks)]
  })
).pipe(Layer.provide(LnetProbeLive.layerNode))

/**
 * The controller (`serve --mode controller`) and both services in one process (`--mode all`).
 * The node plugin alone is NodeDriverLive, a module graph of its own that never loads the Azure SDK.
 */
export const DriverLive = (options: ServeOptions & { readonly mode: "controller" | "all" }) => {
  const config = driverConfigOf(options)
  const health = healthServerOf(options)
  if (options.mode === "controller") {
    return CsiServerLive(options.socketPath, Effect.all([identityService, controllerService])).pipe(
      Layer.provide(health),
      Layer.provide(Layer.merge(config, ControllerReadiness)),
      Layer.provide(ControllerLayers(options))
    )
  }
  const nodeId = options.nodeId ?? ""
  return CsiServerLive(options.socketPath, Effect.all([identityService, controllerService, nodeService])).pipe(
    Layer.provide(NodeSetup.headStart(defaultNodeSetupSettings)),
    Layer.provide(health),
    Layer.merge(StartupTaint(options, nodeId)),
    Layer.provide(Layer.mergeAll(config, AllReadiness, NodeLayers(options, nodeId))),
    Layer.provide(NodeSetupLive(options, nodeId)),
    Layer.provide(ControllerLayers(options))
  )
}
