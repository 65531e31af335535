import { Context, Duration, Effect, Exit, Layer, Logger, Metric, Ref, References, Scope } from "effect"
import { PrometheusMetrics } from "effect/observability"
import type { AmlfsApi, ArmError } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, type AmlfsApiFakeOptions } from "../../layers/azure/AmlfsApiFake.js"
import { ClusterExpander } from "../../src/controller/dynamic/ClusterExpander.js"
import { ClusterProvisioner } from "../../src/controller/dynamic/ClusterProvisioner.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { SkuCatalog } from "../../src/controller/dynamic/SkuCatalog.js"
import { type VolumeEvent, VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { controllerService } from "../../src/controller/controllerService.js"
import { identityService } from "../../src/identity/identityService.js"
import { nodeService } from "../../src/node/nodeService.js"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DriverConfig, type Mode } from "../../src/config/DriverConfig.js"
import { CsiServerLive } from "../../src/csi/CsiServer.js"
import { DEFAULT_DRIVER_NAME } from "../../src/domain/DriverName.js"
import { HealthServer } from "../../src/health/HealthServer.js"
import type { Readiness } from "../../src/health/Readiness.js"
import { HsmFake } from "../../layers/hsm/HsmFake.js"
import { LnetProbeFake } from "../../layers/lnet/LnetProbeFake.js"
import { LustreShellFake, type LustreShellFakeOptions } from "../../layers/lustre/LustreShellFake.js"
import { StaticVolumes } from "../../src/controller/StaticVolumes.js"
import { KeyedLocks } from "../../src/locks/KeyedLocks.js"
import { type HydrationEvent, HydrationEvents } from "../../src/node/hsm/HydrationEvents.js"
import { HydrationRecords } from "../../src/node/hsm/HydrationRecords.js"
import { Hydrations } from "../../src/node/hsm/Hydrations.js"
import { NodeConfig } from "../../src/node/NodeConfig.js"
import { jsonLogger } from "../../src/observability/JsonLogger.js"
import { VENDOR_VERSION } from "../../src/version.js"
import { testControllerDefaults } from "./clusterFixtures.js"
import { csiClient } from "./csiClient.js"

/** The test controller watches clusters every 50 ms, with no quiet period. */
export const testControllerConfig: ControllerConfig["Service"] = {
  ...testControllerDefaults,
  creationPolling: { quietPeriod: Duration.seconds(0), interval: Duration.millis(50) },
  deletionPolling: { quietPeriod: Duration.seconds(0), interval: Duration.millis(50) },
  progressEventEvery: Duration.millis(100)
}

const servicesOf = (mode: Mode) =>
  mode === "controller"
    ? Effect.all([identityService, controllerService])
    : mode === "node"
    ? Effect.all([identityService, nodeService])
    : Effect.all([identityService, controllerService, nodeService])

export const tempSocketPath = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-test-")), "csi.sock")

/**
 * The real gRPC server on a real unix socket, in this process, over the given (fake) services.
 * Log lines are captured so tests can read them.
 */
export const startInProcessDriver = async (options: {
  readonly readiness: Layer.Layer<Readiness>
  /** The node's hands are deterministic fakes; a test may script them and read their state. */
  readonly lustreScript?: LustreShellFakeOptions
  readonly unreachableMgs?: ReadonlyArray<string>
  /** HSM on the node: a deterministic fake, scripted by the test. */
  readonly hsm?: Parameters<typeof HsmFake.layer>[0]
  readonly mountRoot?: string
  readonly nodeConfig?: Partial<NodeConfig["Service"]>
  /** The controller's ARM is a deterministic fake too, unless a test brings the real client. */
  readonly arm?: AmlfsApiFakeOptions
  readonly armLayer?: Layer.Layer<AmlfsApi, ArmError>
  readonly controllerConfig?: Partial<ControllerConfig["Service"]>
  readonly mode?: Mode
  readonly socketPath?: string
  readonly drainTimeout?: Duration.Input
  /** Serve /healthz, /livez and /metrics on a free loopback port too. */
  readonly healthServer?: boolean
}) => {
  const socketPath = options.socketPath ?? tempSocketPath()
  const logs: Array<string> = []
  const events = Ref.makeUnsafe<ReadonlyArray<VolumeEvent>>([])
  const config = Layer.succeed(DriverConfig, {
    driverName: DEFAULT_DRIVER_NAME,
    vendorVersion: VENDOR_VERSION,
    mode: options.mode ?? "all",
    nodeId: "node-1",
    drainTimeout: Duration.fromInputUnsafe(options.drainTimeout ?? "5 seconds")
  })
  const hydrationEvents = Ref.makeUnsafe<ReadonlyArray<HydrationEvent>>([])
  const hydrationRecords = Fs.mkdtempSync(Path.join(Os.tmpdir(), "hydrations-"))
  const nodeLayers = Layer.mergeAll(
    Layer.succeed(NodeConfig, {
      ...NodeConfig.defaults,
      nodeId: "node-1",
      zone: "eastus-1",
      mountRoot: options.mountRoot ?? "/var/lib/kubelet/plugins/azurelustre.csi.azure.com/mounts",
      podsDir: "/var/lib/kubelet/pods",
      ...options.nodeConfig
    }),
    KeyedLocks.layer,
    LustreShellFake.layer(options.lustreScript),
    LnetProbeFake.layer({ unreachable: options.unreachableMgs ?? [] }),
    HsmFake.layer(options.hsm),
    HydrationEvents.layerRecording(hydrationEvents),
    Layer.succeed(HydrationRecords, HydrationRecords.in(hydrationRecords)),
    StaticVolumes.layer,
    Layer.mergeAll(ClusterProvisioner.layer, ClusterExpander.layer.pipe(Layer.provideMerge(SkuCatalog.layer))).pipe(
      Layer.provideMerge(Layer.mergeAll(
        options.armLayer ?? AmlfsApiFake.layer(options.arm),
        Layer.succeed(ControllerConfig, { ...testControllerConfig, ...options.controllerConfig }),
        VolumeEvents.layerRecording(events)
      ))
    )
  )
  const logging = Layer.mergeAll(
    Logger.layer([jsonLogger((line) => logs.push(line))]),
    Layer.succeed(References.MinimumLogLevel, "Debug")
  )
  // Each driver counts in its own registry, so a test reads exactly the metrics its calls made.
  const metricRegistry = Layer.succeed(Metric.MetricRegistry, new Map())
  const scope = Effect.runSync(Scope.make())
  const nodeServices = await Effect.runPromise(
    Layer.buildWithScope(Layer.provideMerge(Hydrations.layer, Layer.merge(nodeLayers, metricRegistry)), scope)
  )
  const health = options.healthServer === true
    ? HealthServer.layer({ host: "127.0.0.1", port: 0 })
    : Layer.succeed(HealthServer, { port: 0 })
  const driverContext = await Effect.runPromise(
    Layer.buildWithScope(
      CsiServerLive(socketPath, servicesOf(options.mode ?? "all")).pipe(
        Layer.provideMerge(health),
        Layer.provide(Layer.mergeAll(config, options.readiness, Layer.succeedContext(nodeServices))),
        Layer.provide(logging)
      ),
      scope
    )
  )
  const healthPort = Context.get(driverContext, HealthServer).port
  const client = csiClient(socketPath)
  return {
    socketPath,
    logs,
    /** Where /healthz, /livez and /metrics answer (with `healthServer: true`). */
    healthUrl: `http://127.0.0.1:${healthPort}`,
    /** The driver's metrics in Prometheus text, as /metrics serves them. */
    metrics: () => Effect.runPromise(Effect.provide(PrometheusMetrics.format(), nodeServices)),
    /** The Kubernetes Events the controller recorded. */
    events: () => Ref.getUnsafe(events),
    /** The Kubernetes Events the node plugin's hydrations recorded. */
    hydrationEvents: () => Ref.getUnsafe(hydrationEvents),
    client,
    /** Runs an effect against the driver's own fakes (LustreShellFake, LnetProbeFake, ...). */
    inspect: <A>(effect: Effect.Effect<A, never, LustreShellFake | LnetProbeFake | HsmFake | AmlfsApiFake | AmlfsApi>) =>
      // With armLayer given there is no AmlfsApiFake: such a test inspects the emulator instead.
      Effect.runPromise(
        Effect.provide(effect, nodeServices as Context.Context<LustreShellFake | LnetProbeFake | HsmFake | AmlfsApiFake | AmlfsApi>)
      ),
    /** Closing the scope is what SIGTERM does: drain, stop, remove the socket. */
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      client.close()
    }
  }
}
