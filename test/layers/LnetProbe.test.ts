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
import { LnetProbeSimulation } from "../../layers/lnet/LnetProbeSimulation.js"
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
})
