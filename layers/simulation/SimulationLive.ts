import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import type { SimOptions } from "../../src/cli/options.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import { CsiServerLive } from "../../src/csi/CsiServer.js"
import { controllerService, identityService, nodeService } from "../../src/csi/servedServices.js"
import { ClusterProvisioner } from "../../src/controller/dynamic/ClusterProvisioner.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { SkuCatalog } from "../../src/controller/dynamic/SkuCatalog.js"
import { VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { AmlfsApiLive } from "../azure/AmlfsApiLive.js"
import { ArmEmulator } from "../azure/ArmEmulator.js"
import { staticCredential } from "../azure/AzureCredential.js"
import { DEFAULT_DRIVER_NAME } from "../../src/domain/DriverName.js"
import { Readiness } from "../../src/health/Readiness.js"
import { VENDOR_VERSION } from "../../src/version.js"
import { StaticVolumes } from "../../src/controller/StaticVolumes.js"
import { KeyedLocks } from "../../src/locks/KeyedLocks.js"
import { NodeConfig } from "../../src/node/NodeConfig.js"
import { LnetProbeSimulation } from "../lnet/LnetProbeSimulation.js"
import { LustreShellSimulation } from "../lustre/LustreShellSimulation.js"
import { SimulationFaults, simulationReadinessCheck } from "./SimulationFaults.js"

const SimulationReadiness = Layer.effect(
  Readiness,
  Effect.gen(function*() {
    return Readiness.fromChecks([simulationReadinessCheck(yield* SimulationFaults)])
  })
)

/** Where the simulation's ARM emulator listens, for the banner. */
class ArmEmulatorUrl extends Context.Service<ArmEmulatorUrl, string>()("azurelustre/simulation/ArmEmulatorUrl") {}

const banner = (options: SimOptions, faultsDir: string, armUrl: string) =>
  Console.log([
    `azurelustre-csi ${VENDOR_VERSION}: the simulation serves Identity, Controller and Node on`,
    `  unix://${options.socketPath}`,
    "",
    "Try it from another terminal:",
    `  npx azurelustre-csi call GetPluginInfo --endpoint unix://${options.socketPath}`,
    `  npx azurelustre-csi call Probe --endpoint unix://${options.socketPath}`,
    "Make Probe answer not ready, then ready again:",
    `  touch ${Path.join(faultsDir, "not-ready")}; rm ${Path.join(faultsDir, "not-ready")}`,
    `The ARM emulator serves ${armUrl}; its faults: curl -k ${armUrl}/emulator/faults`,
    "Ctrl-C drains in-flight calls and stops it.",
    ""
  ].join("\n"))

const SIM_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

/**
 * The controller on the ARM emulator: a real HTTPS server on loopback, spoken to by the real
 * @azure/arm-storagecache client. Clusters take `creationSeconds` to create, and are watched
 * more often than in Azure so a walk-through takes a minute, not twenty.
 */
const SimulatedController = (options: SimOptions) =>
  Layer.unwrap(Effect.gen(function*() {
    const emulator = yield* ArmEmulator.start({
      subscriptionId: SIM_SUBSCRIPTION,
      creationDuration: Duration.seconds(options.clusterCreationSeconds),
      deletionDuration: Duration.seconds(Math.max(1, Math.round(options.clusterCreationSeconds / 3)))
    })
    yield* Effect.logInfo("ARM emulator serving").pipe(Effect.annotateLogs({ url: emulator.url }))
    const arm = AmlfsApiLive.layer({
      subscriptionId: SIM_SUBSCRIPTION,
      credential: staticCredential("simulation"),
      endpoint: emulator.url,
      trustedCertificatePem: emulator.certificatePem
    })
    const config = Layer.succeed(ControllerConfig, {
      subscriptionId: SIM_SUBSCRIPTION,
      networkSubscriptionId: SIM_SUBSCRIPTION,
      location: "eastus",
      resourceGroup: "sim-rg",
      vnetResourceGroup: "sim-rg",
      vnetName: "sim-vnet",
      subnetName: "sim-subnet",
      creationPolling: { quietPeriod: Duration.seconds(options.clusterCreationSeconds / 3), interval: Duration.seconds(2) },
      deletionPolling: { quietPeriod: Duration.zero, interval: Duration.seconds(2) },
      progressEventEvery: Duration.seconds(10)
    })
    return Layer.mergeAll(ClusterProvisioner.layer, SkuCatalog.layer).pipe(
      Layer.provideMerge(Layer.mergeAll(arm, config, VolumeEvents.layerLog)),
      Layer.merge(StaticVolumes.layer),
      Layer.merge(Layer.succeed(ArmEmulatorUrl, emulator.url))
    )
  }))

/** All three CSI services on the simulation: no Azure, no Lustre, state under `options.stateDir`. */
export const SimulationLive = (options: SimOptions) => {
  const faultsDir = Path.join(options.stateDir, "faults")
  return Layer.effectDiscard(ArmEmulatorUrl.use((armUrl) => banner(options, faultsDir, armUrl))).pipe(
    Layer.provideMerge(
      CsiServerLive(options.socketPath, Effect.all([identityService, controllerService, nodeService]))
    ),
    Layer.provideMerge(SimulatedController(options)),
    Layer.provide(Layer.mergeAll(
      Layer.succeed(DriverConfig, {
        driverName: DEFAULT_DRIVER_NAME,
        vendorVersion: VENDOR_VERSION,
        mode: "all",
        nodeId: options.nodeId,
        drainTimeout: Duration.seconds(10)
      }),
      Layer.succeed(NodeConfig, {
        ...NodeConfig.defaults,
        nodeId: options.nodeId,
        zone: undefined,
        mountRoot: Path.join(options.stateDir, "mounts"),
        mountTimeout: Duration.seconds(options.mountTimeoutSeconds)
      }),
      SimulationReadiness,
      KeyedLocks.layer,
      LustreShellSimulation.layer(options.stateDir),
      LnetProbeSimulation.layer
    )),
    Layer.provide(SimulationFaults.layer(faultsDir))
  )
}
