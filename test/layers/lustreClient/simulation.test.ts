import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { LustreClientSimulation } from "../../../layers/lustreClient/LustreClientSimulation.js"
import { SimulationFaults } from "../../../layers/simulation/SimulationFaults.js"
import { NodeSetup, type NodeSetupStatus } from "../../../src/node/setup/NodeSetup.js"
import { NodeSetupEvents } from "../../../src/node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings } from "../../../src/node/setup/NodeSetupSettings.js"
import { lustreClientPackageOperations } from "../../../src/observability/metrics.js"

/** `azurelustre-csi sim`'s node setup on a state folder, until it is ready or has failed. */
const setUpSimulatedNode = (stateDir: string, settings = defaultNodeSetupSettings) =>
  Effect.gen(function*() {
    const setup = yield* NodeSetup
    return yield* setup.status.pipe(
      Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (s: NodeSetupStatus) => s._tag === "Ready" || s._tag === "Failed" }),
      Effect.timeout("5 seconds")
    )
  }).pipe(
    Effect.provide(NodeSetup.layer(settings).pipe(
      Layer.provide(Layer.merge(LustreClientSimulation.layer(stateDir), NodeSetupEvents.layerLog)),
      Layer.provide(SimulationFaults.layer(Path.join(stateDir, "faults")))
    )),
    Effect.scoped
  )

const stateFolder = () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sim-node-setup-"))
  Fs.mkdirSync(Path.join(dir, "faults"))
  return dir
}

describe("the simulated node's setup (sim)", () => {
  it.live("installs the jammy client once: a restarted simulation finds it installed", () =>
    Effect.gen(function*() {
      const dir = stateFolder()
      assert.deepStrictEqual(yield* setUpSimulatedNode(dir), {
        _tag: "Ready",
        summary: "amlfs-lustre-client-2.15.7-33-g79ddf99 for 5.15.0-1079-azure installed, LNet tcp on sim0"
      })
      assert.deepStrictEqual(JSON.parse(Fs.readFileSync(Path.join(dir, "host", "dpkg-status.json"), "utf8")), [
        { name: "amlfs-lustre-client-2.15.7-33-g79ddf99", version: "5.15.0-1079-azure", state: "installed" }
      ])
      assert.deepStrictEqual(yield* setUpSimulatedNode(dir), {
        _tag: "Ready",
        summary: "amlfs-lustre-client-2.15.7-33-g79ddf99 for 5.15.0-1079-azure, LNet tcp on sim0"
      })
    }))

  it.live("its faults: no package for the kernel, the repository unreachable", () =>
    Effect.gen(function*() {
      const noPackage = stateFolder()
      Fs.writeFileSync(Path.join(noPackage, "faults", "lustre-client-no-package"), "")
      const failed = yield* setUpSimulatedNode(noPackage)
      assert.match(failed._tag === "Failed" ? failed.reason : "", /^no amlfs-lustre-client-2\.15\.7-33-g79ddf99 package for kernel 5\.15\.0-1079-azure/)

      const unreachable = stateFolder()
      Fs.writeFileSync(Path.join(unreachable, "faults", "lustre-client-repository-unreachable"), "")
      const cut = yield* setUpSimulatedNode(unreachable)
      assert.match(cut._tag === "Failed" ? cut.reason : "",
        /^cannot reach the AMLFS package repository https:\/\/packages\.microsoft\.com\/repos\/amlfs-jammy\/ \(Err:1 .*Could not resolve 'packages\.microsoft\.com' \(simulated\)/)
    }))

  it.live("its fault lustre-client-dpkg-interrupted: the first try refused, dpkg --configure -a, the next try installs", () =>
    Effect.gen(function*() {
      const dir = stateFolder()
      Fs.writeFileSync(Path.join(dir, "faults", "lustre-client-dpkg-interrupted"), "")
      const ready = yield* setUpSimulatedNode(dir, { ...defaultNodeSetupSettings, installRetryBase: Duration.millis(10) })
      assert.strictEqual(ready._tag, "Ready")
      const operations = yield* Metric.value(lustreClientPackageOperations.pipe(Metric.withAttributes({ operation: "configure", outcome: "ok" })))
      assert.isAtLeast(operations.count, 1)
    }))
})
