import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { LnetProbe } from "../../layers/lnet/LnetProbe.js"
import { LnetProbeFake } from "../../layers/lnet/LnetProbeFake.js"
import { LnetProbeLive } from "../../layers/lnet/LnetProbeLive.js"
import { LnetProbeSimulation, SIMULATED_INTERFACE, SIMULATED_NID } from "../../layers/lnet/LnetProbeSimulation.js"
import { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"

const faultsDir = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "lnet-sim-test-"))
afterAll(() => Fs.rm(faultsDir, { recursive: true, force: true }))

const switchFault = (fault: string, text: string | undefined) =>
  Effect.gen(function*() {
    const faults = yield* SimulationFaults
    const path = Path.join(faultsDir, fault)
    yield* Effect.promise(() => text === undefined ? Fs.rm(path, { force: true }) : Fs.writeFile(path, text))
    yield* faults.read(fault).pipe(
      Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (seen) => Option.isSome(seen) === (text !== undefined) }),
      Effect.timeout("2 seconds")
    )
  })

describe("LnetProbe", () => {
  it.effect("live: lctl ping, which this machine does not have, is MgsUnreachable with the reason", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip((yield* LnetProbe).pingMgs("10.0.0.4"))
      assert.strictEqual(failed.mgsAddress, "10.0.0.4")
      assert.match(failed.message, /^lctl ping 10\.0\.0\.4@tcp: .*NotFound/)
    }).pipe(Effect.provide(LnetProbeLive.layerNode)))

  it.live("simulation: mgs-unreachable and mgs-ping-hang, for every MGS or one", () =>
    Effect.gen(function*() {
      const probe = yield* LnetProbe
      yield* probe.pingMgs("10.0.0.4")
      yield* switchFault("mgs-unreachable", "10.0.0.5")
      yield* probe.pingMgs("10.0.0.4")
      const failed = yield* Effect.flip(probe.pingMgs("10.0.0.5"))
      assert.strictEqual(failed.message, "no route to 10.0.0.5@tcp (simulated)")
      yield* switchFault("mgs-unreachable", "")
      assert.strictEqual((yield* Effect.flip(probe.pingMgs("10.0.0.4"))).message, "no route to 10.0.0.4@tcp (simulated)")
      yield* switchFault("mgs-unreachable", undefined)
      yield* switchFault("mgs-ping-hang", "")
      assert.strictEqual((yield* Effect.flip(probe.pingMgs("10.0.0.4").pipe(Effect.timeout("50 millis"))))._tag, "TimeoutError")
      yield* switchFault("mgs-ping-hang", undefined)
      yield* probe.pingMgs("10.0.0.4")
    }).pipe(Effect.provide(LnetProbeSimulation.layer.pipe(Layer.provideMerge(SimulationFaults.layer(faultsDir))))))

  it.effect("fake: unreachable and hanging addresses, and the pings it saw", () =>
    Effect.gen(function*() {
      const probe = yield* LnetProbe
      const fake = yield* LnetProbeFake
      yield* probe.pingMgs("10.0.0.4")
      assert.strictEqual((yield* Effect.flip(probe.pingMgs("10.0.0.5"))).message, "no route to 10.0.0.5@tcp (fake)")
      const hung = yield* Effect.forkChild(probe.pingMgs("10.0.0.6").pipe(Effect.timeout("5 seconds")))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Effect.flip(Fiber.join(hung)))._tag, "TimeoutError")
      yield* Ref.set(fake.unreachable, new Set())
      yield* probe.pingMgs("10.0.0.5")
      assert.deepStrictEqual(yield* Ref.get(fake.pings), ["10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.5"])
    }).pipe(Effect.provide(LnetProbeFake.layer({ unreachable: ["10.0.0.5"], hanging: ["10.0.0.6"] }))))

  it.live("simulation: lnet-modules-missing, lnet-no-nid, lnet-ping-fails and lnet-interface-down switch what LNet shows", () =>
    Effect.gen(function*() {
      const probe = yield* LnetProbe
      const modules = () => Effect.map(probe.loadedModules, (loaded) => ["lnet", "lustre"].filter((module) => loaded.has(module)))
      assert.deepStrictEqual(yield* modules(), ["lnet", "lustre"])
      assert.deepStrictEqual((yield* probe.localNis).map((ni) => ni.nid), ["0@lo", SIMULATED_NID])
      yield* probe.pingNid(SIMULATED_NID)
      assert.deepStrictEqual(yield* probe.interfaceState(SIMULATED_INTERFACE), Option.some({ operstate: "up", administrativelyUp: true }))
      assert.deepStrictEqual(yield* probe.interfaceWithAddress("192.0.2.10"), Option.some(SIMULATED_INTERFACE))

      yield* switchFault("lnet-modules-missing", "")
      assert.deepStrictEqual(yield* modules(), [])
      yield* switchFault("lnet-modules-missing", "lustre")
      assert.deepStrictEqual(yield* modules(), ["lnet"])
      yield* switchFault("lnet-modules-missing", undefined)

      yield* switchFault("lnet-no-nid", "")
      assert.deepStrictEqual((yield* probe.localNis).map((ni) => ni.nid), ["0@lo"])
      yield* switchFault("lnet-no-nid", undefined)

      yield* switchFault("lnet-ping-fails", "")
      assert.strictEqual((yield* Effect.flip(probe.pingNid(SIMULATED_NID))).message, `failed to ping ${SIMULATED_NID}: Input/output error (simulated)`)
      yield* switchFault("lnet-ping-fails", "failed to ping it: No route to host")
      assert.strictEqual((yield* Effect.flip(probe.pingNid(SIMULATED_NID))).message, "failed to ping it: No route to host")
      yield* switchFault("lnet-ping-fails", undefined)
      yield* switchFault("lnet-ping-hang", "")
      assert.strictEqual((yield* Effect.flip(probe.pingNid(SIMULATED_NID).pipe(Effect.timeout("50 millis"))))._tag, "TimeoutError")
      yield* switchFault("lnet-ping-hang", undefined)
      yield* probe.pingNid(SIMULATED_NID)

      yield* switchFault("lnet-interface-down", "")
      assert.deepStrictEqual(yield* probe.interfaceState(SIMULATED_INTERFACE), Option.some({ operstate: "down", administrativelyUp: true }))
      yield* switchFault("lnet-interface-down", "lowerlayerdown")
      assert.deepStrictEqual(
        yield* probe.interfaceState(SIMULATED_INTERFACE),
        Option.some({ operstate: "lowerlayerdown", administrativelyUp: true })
      )
      yield* switchFault("lnet-interface-down", undefined)
      assert.deepStrictEqual(yield* probe.interfaceState(SIMULATED_INTERFACE), Option.some({ operstate: "up", administrativelyUp: true }))
    }).pipe(Effect.provide(LnetProbeSimulation.layer.pipe(Layer.provideMerge(SimulationFaults.layer(faultsDir))))))

  it.effect("fake: Refs script each LNet observation, failures and hangs, and it records the calls", () =>
    Effect.gen(function*() {
      const probe = yield* LnetProbe
      const fake = yield* LnetProbeFake
      assert.isTrue((yield* probe.loadedModules).has("lustre"))
      assert.deepStrictEqual((yield* probe.localNis).map((ni) => ni.nid), ["0@lo", "10.0.0.5@tcp"])
      yield* probe.pingNid("10.0.0.5@tcp")
      assert.deepStrictEqual(yield* probe.interfaceState("eth0"), Option.some({ operstate: "up", administrativelyUp: true }))
      assert.deepStrictEqual(yield* probe.interfaceWithAddress("10.0.0.5"), Option.some("eth0"))

      yield* Ref.set(fake.modules, new Set(["lnet"]))
      yield* Ref.set(fake.unreachableNids, new Set(["10.0.0.5@tcp"]))
      yield* Ref.set(fake.interfaces, new Map([["eth0", { operstate: "down", administrativelyUp: true }]]))
      yield* Ref.set(fake.failing, new Map([["localNis", "cannot get networks: Network is down"] as const]))
      assert.isFalse((yield* probe.loadedModules).has("lustre"))
      assert.strictEqual((yield* Effect.flip(probe.pingNid("10.0.0.5@tcp"))).message, "failed to ping 10.0.0.5@tcp: Input/output error")
      assert.deepStrictEqual(yield* probe.interfaceState("eth0"), Option.some({ operstate: "down", administrativelyUp: true }))
      assert.deepStrictEqual(yield* probe.interfaceState("eth1"), Option.none())
      assert.strictEqual((yield* Effect.flip(probe.localNis)).message, "cannot get networks: Network is down")

      yield* Ref.set(fake.stuck, new Set(["interfaceWithAddress"] as const))
      const stuck = yield* Effect.forkChild(probe.interfaceWithAddress("10.0.0.5").pipe(Effect.timeout("2 seconds")))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Effect.flip(Fiber.join(stuck)))._tag, "TimeoutError")
      assert.deepStrictEqual(yield* Ref.get(fake.calls), [
        "loadedModules",
        "localNis",
        "pingNid 10.0.0.5@tcp",
        "interfaceState eth0",
        "interfaceWithAddress 10.0.0.5",
        "loadedModules",
        "pingNid 10.0.0.5@tcp",
        "interfaceState eth0",
        "interfaceState eth1",
        "localNis",
        "interfaceWithAddress 10.0.0.5"
      ])
    }).pipe(Effect.provide(LnetProbeFake.layer())))
})
