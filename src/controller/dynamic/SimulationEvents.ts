import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { VolumeEvents } from "./VolumeEvents.js"

/** The notes' words for Azure's durations, which the simulation's clusters do not take. */
const AZURE_CREATION = "this takes 10 to 20 minutes"
const MINUTES_SO_FAR = /\(\d+ minutes? so far\)/

/**
 * The simulation's Events, logged, in the simulation's time. The controller's notes speak of
 * Azure's durations (a creation "takes 10 to 20 minutes", "(3 minutes so far)"), while the ARM
 * emulator creates a cluster in `--cluster-creation` seconds and the simulated controller reports
 * progress every 10 s: the notes say those seconds instead, timed from each PVC's start Event.
 */
export const SimulationEvents = (clusterCreationSeconds: number) =>
  Layer.effect(
    VolumeEvents,
    Effect.gen(function*() {
      const logged = yield* VolumeEvents
      const startedAt = new Map<string, number>()
      return VolumeEvents.of({
        record: (event) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const pvc = `${event.pvc.namespace}/${event.pvc.name}`
            if (event.reason === "ProvisioningStarted") startedAt.set(pvc, now)
            const seconds = Math.round((now - (startedAt.get(pvc) ?? now)) / 1000)
            const note = event.note
              .replace(AZURE_CREATION, `this takes ${clusterCreationSeconds} s in the simulation (10 to 20 minutes in Azure)`)
              .replace(MINUTES_SO_FAR, `(${seconds} s so far)`)
            yield* logged.record({ ...event, note })
          })
      })
    })
  ).pipe(Layer.provide(VolumeEvents.layerLog))
