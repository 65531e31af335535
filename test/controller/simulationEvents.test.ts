import { assert, it } from "@effect/vitest"
import { Duration, Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import { type VolumeEvent, VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { SimulationEvents } from "../../src/controller/dynamic/SimulationEvents.js"

const pvc = { namespace: "ml", name: "data" }
const event = (reason: string, note: string): VolumeEvent => ({ pvc, type: "Normal", action: "Provisioning", reason, note })

it.effect("the simulation's Events speak of its own durations: --cluster-creation seconds, seconds so far", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = Logger.layer([Logger.make(({ message }) => lines.push((Array.isArray(message) ? message : [message]).join(" ")))])
    yield* Effect.gen(function*() {
      const events = yield* VolumeEvents
      yield* events.record(event(
        "ProvisioningStarted",
        "creating Azure Managed Lustre data (AMLFS-Durable-Premium-125, 16 TiB) in sim-rg; this takes 10 to 20 minutes"
      ))
      yield* TestClock.adjust(Duration.seconds(20))
      yield* events.record(event("ProvisioningInProgress", "Azure Managed Lustre data is Creating (0 minutes so far)"))
      yield* events.record(event("Provisioned", "Azure Managed Lustre data is ready: MGS 10.0.0.4"))
    }).pipe(Effect.provide(SimulationEvents(30)), Effect.provide(capture))

    assert.deepStrictEqual(lines, [
      "event Normal ProvisioningStarted: creating Azure Managed Lustre data (AMLFS-Durable-Premium-125, 16 TiB) in sim-rg; " +
      "this takes 30 s in the simulation (10 to 20 minutes in Azure)",
      "event Normal ProvisioningInProgress: Azure Managed Lustre data is Creating (20 s so far)",
      "event Normal Provisioned: Azure Managed Lustre data is ready: MGS 10.0.0.4"
    ])
  }))
