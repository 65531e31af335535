import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import type { SimOptions } from "../../src/cli/options.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import { CsiServerLive } from "../../src/csi/CsiServer.js"
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

const banner = (options: SimOptions, faultsDir: string) =>
  Console.log([
    `azurelustre-csi ${VENDOR_VERSION}: the simulation serves Identity, Controller and Node on`,
    `  unix://${options.socketPath}`,
    "",
    "Try it from another terminal:",
    `  npx azurelustre-csi call GetPluginInfo --endpoint unix://${options.socketPath}`,
    `  npx azurelustre-csi call Probe --endpoint unix://${options.socketPath}`,
    "Make Probe answer not ready, then ready again:",
    `  touch ${Path.join(faultsDir, "not-ready")}; rm ${Path.join(faultsDir, "not-ready")}`,
    "Ctrl-C drains in-flight calls and stops it.",
    ""
  ].join("\n"))

/** All three CSI services on the simulation: no Azure, no Lustre, state under `options.stateDir`. */
export const SimulationLive = (options: SimOptions) => {
  const faultsDir = Path.join(options.stateDir, "faults")
  return Layer.effectDiscard(banner(options, faultsDir)).pipe(
    Layer.provideMerge(CsiServerLive(options.socketPath)),
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
      StaticVolumes.layer,
      KeyedLocks.layer,
      LustreShellSimulation.layer(options.stateDir),
      LnetProbeSimulation.layer
    )),
    Layer.provide(SimulationFaults.layer(faultsDir))
  )
}
