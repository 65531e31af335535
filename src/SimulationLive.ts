import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Path from "node:path"
import { AmlfsApi, type ArmError } from "../layers/azure/AmlfsApi.js"
import { AmlfsApiLive } from "../layers/azure/AmlfsApiLive.js"
import { ArmEmulator, EMULATOR_HPC_CACHE_PRINCIPAL_ID } from "../layers/azure/ArmEmulator.js"
import { StorageAccess } from "../layers/azure/StorageAccess.js"
import { StorageAccessLive } from "../layers/azure/StorageAccessLive.js"
import { staticCredential } from "../layers/azure/AzureCredential.js"
import { LnetProbe } from "../layers/lnet/LnetProbe.js"
import { LnetProbeSimulation } from "../layers/lnet/LnetProbeSimulation.js"
import { LustreClientSimulation } from "../layers/lustreClient/LustreClientSimulation.js"
import { LustreShellSimulation } from "../layers/lustre/LustreShellSimulation.js"
import { SimulationFaults } from "../layers/simulation/SimulationFaults.js"
import { launcherCommand } from "./cli/launcher.js"
import type { SimOptions } from "./cli/options.js"
import { DriverConfig } from "./config/DriverConfig.js"
import { ControllerConfig } from "./controller/dynamic/ControllerConfig.js"
import { CsiServerLive } from "./csi/CsiServer.js"
import { controllerService } from "./controller/controllerService.js"
import { identityService } from "./identity/identityService.js"
import { nodeService } from "./node/nodeService.js"
import { DEFAULT_DRIVER_NAME } from "./domain/DriverName.js"
import { HealthServer } from "./health/HealthServer.js"
import { LNET_CHECKS, lnetReadinessChecks } from "./health/lnetReadinessChecks.js"
import { NodeSetup } from "./node/setup/NodeSetup.js"
import { NodeSetupEvents } from "./node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings, type NodeSetupSettings } from "./node/setup/NodeSetupSettings.js"
import { gatedByNodeSetup } from "./node/setup/nodeSetupReadiness.js"
import { Readiness } from "./health/Readiness.js"
import { simulationReadinessCheck } from "./health/simulationReadinessCheck.js"
import { countArmRequest } from "./observability/metrics.js"
import { HydrationEvents } from "./node/hsm/HydrationEvents.js"
import { ControllerServices } from "./ControllerServiceLayers.js"
import { NodeServices } from "./NodeServiceLayers.js"
import { VENDOR_VERSION } from "./version.js"
import { VolumeEvents } from "./controller/dynamic/VolumeEvents.js"
import { HsmSimulation } from "../layers/hsm/simulation/HsmSimulation.js"
import { HsmModel } from "../layers/hsm/simulation/HsmModel.js"

/**
 * The simulated node's setup and LNet checks (switched by the lustre-client-* and lnet-* fault
 * files, see LustreClientSimulation and LnetProbeSimulation) and the simulation's own `not-ready`
 * switch. LNet results are kept for a second, not five, so that a fault switched on shows at the
 * next Probe.
 */
const SimulationReadiness = Layer.effect(
  Readiness,
  Effect.gen(function*() {
    const lnet = yield* lnetReadinessChecks(yield* LnetProbe, { cacheFor: Duration.seconds(1) })
    return Readiness.fromChecks([
      gatedByNodeSetup(yield* NodeSetup, lnet, Object.values(LNET_CHECKS)),
      simulationReadinessCheck(yield* SimulationFaults)
    ])
  })
).pipe(Layer.provide(LnetProbeSimulation.layer))

/**
 * The simulated node's setup: its install takes no time, so the CSI socket opens on a node set
 * up (headStart); a failing one (the lustre-client-* faults) retries within seconds, not minutes.
 */
const simulatedNodeSetup: NodeSetupSettings = {
  ...defaultNodeSetupSettings,
  installRetryBase: Duration.seconds(1),
  roundRetryFirst: Duration.seconds(5),
  roundRetryCap: Duration.seconds(30)
}

/** Where the simulation's ARM emulator listens, once it does: for the banner. */
class ArmEmulatorUrl extends Context.Service<ArmEmulatorUrl, Effect.Effect<string, ArmError>>()(
  "azurelustre/simulation/ArmEmulatorUrl"
) {}

const banner = (options: SimOptions, faultsDir: string, armUrl: string, healthUrl: string) => {
  const launcher = launcherCommand()
  return Console.log([
    `azurelustre-csi ${VENDOR_VERSION}: the simulation serves Identity, Controller and Node on`,
    `  unix://${options.socketPath}`,
    "",
    "Try it from another terminal, in any directory:",
    `  ${launcher} call GetPluginInfo --endpoint unix://${options.socketPath}`,
    `  ${launcher} call Probe --endpoint unix://${options.socketPath}`,
    ...(launcher.includes("/") ? [`  (export PATH="${Path.dirname(launcher)}:$PATH" to call it azurelustre-csi, as the README does)`] : []),
    "Make Probe answer not ready, then ready again:",
    `  touch ${Path.join(faultsDir, "not-ready")}; rm ${Path.join(faultsDir, "not-ready")}`,
    "  (lnet-no-nid, lnet-modules-missing, mgs-unreachable, mount-hang, ...: the README lists every fault file)",
    `Publish targets go below the simulated kubelet's pods folder, ${Path.join(options.kubeletDir, "pods")}`,
    `Health and metrics: curl '${healthUrl}/healthz?verbose'; curl ${healthUrl}/metrics`,
    `The ARM emulator serves ${armUrl}; its faults: curl -k ${armUrl}/emulator/faults`,
    `HSM: blob containers are folders below ${Path.join(options.stateDir, "blob")}; link one to a filesystem and import it:`,
    `  ${launcher} sim-hsm link --state-dir ${options.stateDir} --filesystem 10.0.0.4/lustrefs --container <account>/<container>`,
    `Ctrl-C drains in-flight calls (up to ${options.drainTimeoutSeconds} s) and stops it; a second Ctrl-C stops it at once.`,
    ""
  ].join("\n"))
}

const SIM_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

/**
 * The ARM emulator (a real HTTPS server on loopback) and the real @azure/arm-storagecache client
 * pointed at it. Both start in the background, so the CSI socket does not wait for a certificate
 * to be made or the SDK to load; calls to ARM wait for them. The emulator's blob-integration jobs
 * act through the node's HSM model (the same instance), on the same directories.
 */
const SimulatedArm = (options: SimOptions) =>
  Layer.effectContext(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const hsm = yield* HsmModel
    const ready = yield* Deferred.make<
      { readonly api: AmlfsApi["Service"]; readonly storage: StorageAccess["Service"]; readonly url: string },
      ArmError
    >()
    yield* Effect.gen(function*() {
      const emulator = yield* ArmEmulator.start({
        subscriptionId: SIM_SUBSCRIPTION,
        creationDuration: Duration.seconds(options.clusterCreationSeconds),
        deletionDuration: Duration.seconds(Math.max(1, Math.round(options.clusterCreationSeconds / 3))),
        hsm
      })
      const armClient = {
        subscriptionId: SIM_SUBSCRIPTION,
        credential: staticCredential("simulation"),
        endpoint: emulator.url,
        trustedCertificatePem: emulator.certificatePem,
        onRequest: countArmRequest
      }
      const client = yield* Layer.buildWithScope(
        Layer.merge(AmlfsApiLive.layer(armClient), StorageAccessLive.layer(armClient)),
        scope
      )
      yield* Effect.logInfo("ARM emulator serving").pipe(Effect.annotateLogs({ url: emulator.url }))
      return { api: Context.get(client, AmlfsApi), storage: Context.get(client, StorageAccess), url: emulator.url }
    }).pipe(
      Effect.provideService(Scope.Scope, scope),
      Effect.exit,
      Effect.flatMap((exit) => Deferred.done(ready, exit)),
      Effect.forkIn(scope)
    )
    const api = Effect.map(Deferred.await(ready), (arm) => arm.api)
    return Context.make(AmlfsApi, AmlfsApi.of({
      get: (...args) => Effect.flatMap(api, (arm) => arm.get(...args)),
      beginCreate: (...args) => Effect.flatMap(api, (arm) => arm.beginCreate(...args)),
      beginDelete: (...args) => Effect.flatMap(api, (arm) => arm.beginDelete(...args)),
      listSkus: (...args) => Effect.flatMap(api, (arm) => arm.listSkus(...args)),
      requiredSubnetSize: (...args) => Effect.flatMap(api, (arm) => arm.requiredSubnetSize(...args)),
      checkSubnet: (...args) => Effect.flatMap(api, (arm) => arm.checkSubnet(...args)),
      getExpansionJob: (...args) => Effect.flatMap(api, (arm) => arm.getExpansionJob(...args)),
      beginExpansion: (...args) => Effect.flatMap(api, (arm) => arm.beginExpansion(...args)),
      listExpansionJobs: (...args) => Effect.flatMap(api, (arm) => arm.listExpansionJobs(...args)),
      beginImportJob: (...args) => Effect.flatMap(api, (arm) => arm.beginImportJob(...args)),
      getImportJob: (...args) => Effect.flatMap(api, (arm) => arm.getImportJob(...args)),
      listImportJobs: (...args) => Effect.flatMap(api, (arm) => arm.listImportJobs(...args)),
      cancelImportJob: (...args) => Effect.flatMap(api, (arm) => arm.cancelImportJob(...args)),
      beginAutoExportJob: (...args) => Effect.flatMap(api, (arm) => arm.beginAutoExportJob(...args)),
      getAutoExportJob: (...args) => Effect.flatMap(api, (arm) => arm.getAutoExportJob(...args)),
      listAutoExportJobs: (...args) => Effect.flatMap(api, (arm) => arm.listAutoExportJobs(...args)),
      disableAutoExportJob: (...args) => Effect.flatMap(api, (arm) => arm.disableAutoExportJob(...args)),
      beginAutoImportJob: (...args) => Effect.flatMap(api, (arm) => arm.beginAutoImportJob(...args)),
      getAutoImportJob: (...args) => Effect.flatMap(api, (arm) => arm.getAutoImportJob(...args)),
      listAutoImportJobs: (...args) => Effect.flatMap(api, (arm) => arm.listAutoImportJobs(...args)),
      disableAutoImportJob: (...args) => Effect.flatMap(api, (arm) => arm.disableAutoImportJob(...args)),
      archive: (...args) => Effect.flatMap(api, (arm) => arm.archive(...args)),
      cancelArchive: (...args) => Effect.flatMap(api, (arm) => arm.cancelArchive(...args))
    })).pipe(
      Context.add(StorageAccess, StorageAccess.of({
        containerExists: (...args) => Effect.flatMap(Deferred.await(ready), (arm) => arm.storage.containerExists(...args)),
        roleAssignmentsAt: (...args) => Effect.flatMap(Deferred.await(ready), (arm) => arm.storage.roleAssignmentsAt(...args))
      })),
      Context.add(ArmEmulatorUrl, Effect.map(Deferred.await(ready), (arm) => arm.url))
    )
  }))

/** The controller on the ARM emulator, watching clusters often so a walk-through takes a minute, not twenty. */
const SimulatedController = (options: SimOptions, hsm: Layer.Layer<HsmModel, never, SimulationFaults>) =>
  ControllerServices({
    arm: SimulatedArm(options).pipe(Layer.provide(hsm)),
    config: Layer.succeed(ControllerConfig, {
      subscriptionId: SIM_SUBSCRIPTION,
      networkSubscriptionId: SIM_SUBSCRIPTION,
      location: "eastus",
      resourceGroup: "sim-rg",
      vnetResourceGroup: "sim-rg",
      vnetName: "sim-vnet",
      subnetName: "sim-subnet",
      creationPolling: { quietPeriod: Duration.seconds(options.clusterCreationSeconds / 3), interval: Duration.seconds(2) },
      deletionPolling: { quietPeriod: Duration.zero, interval: Duration.seconds(2) },
      progressEventEvery: Duration.seconds(10),
      creationTakes: `${options.clusterCreationSeconds} s in the simulation (10 to 20 minutes in Azure)`,
      // The emulator's HPC Cache Resource Provider: the preflight checks the roles of exactly it.
      hpcCachePrincipalId: EMULATOR_HPC_CACHE_PRINCIPAL_ID
    }),
    events: VolumeEvents.layerLog
  })

/** All three CSI services on the simulation: no Azure, no Lustre, state under `options.stateDir`. */
export const SimulationLive = (options: SimOptions) => {
  const faultsDir = Path.join(options.stateDir, "faults")
  // One layer value, so one model: the node's HSM layer and the ARM emulator's jobs share it.
  const hsm = HsmSimulation.layer(options.stateDir, { restoreDelay: Duration.seconds(options.hsmRestoreDelaySeconds) })
  const printBanner = Effect.gen(function*() {
    const armUrl = yield* (yield* ArmEmulatorUrl)
    yield* banner(options, faultsDir, armUrl, `http://127.0.0.1:${(yield* HealthServer).port}`)
  })
  return Layer.effectDiscard(printBanner).pipe(
    Layer.provideMerge(
      CsiServerLive(options.socketPath, Effect.all([identityService, controllerService, nodeService]))
    ),
    // Before the CSI socket, as in a pod: the probes can watch the driver start.
    Layer.provideMerge(NodeSetup.headStart(simulatedNodeSetup)),
    Layer.provideMerge(HealthServer.layer({ host: "127.0.0.1", port: options.healthPort })),
    Layer.provideMerge(SimulatedController(options, hsm)),
    Layer.provide(Layer.mergeAll(
      Layer.succeed(DriverConfig, {
        driverName: DEFAULT_DRIVER_NAME,
        vendorVersion: VENDOR_VERSION,
        mode: "all",
        nodeId: options.nodeId,
        drainTimeout: Duration.seconds(options.drainTimeoutSeconds)
      }),
      SimulationReadiness,
      NodeServices({
        nodeId: options.nodeId,
        kubeletDir: options.kubeletDir,
        mountRoot: Path.join(options.stateDir, "mounts"),
        zone: Effect.succeed(undefined),
        mountTimeoutSeconds: options.mountTimeoutSeconds,
        // A simulated restore fails at once, not after a copytool's minutes: retried 1 s, then 2 s later.
        hydration: { retry: Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 2 })) },
        shell: LustreShellSimulation.layer(options.stateDir),
        lnet: LnetProbeSimulation.layer,
        hsm,
        hydrationEvents: HydrationEvents.layerLog
      })
    )),
    Layer.provide(NodeSetup.layer(simulatedNodeSetup).pipe(
      Layer.provide(Layer.merge(LustreClientSimulation.layer(options.stateDir), NodeSetupEvents.layerLog))
    )),
    Layer.provide(SimulationFaults.layer(faultsDir))
  )
}
