import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Path from "node:path"
import type { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"
import { NotReady, type ReadinessCheck } from "./Readiness.js"

const probeDelay = (faults: SimulationFaults["Service"]) =>
  faults.read("probe-delay").pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.void,
      onSome: (text) => /^\d{1,7}$/.test(text) ? Effect.sleep(Duration.millis(Number(text))) : Effect.void
    }))
  )

/** The simulation's own readiness: ready unless the `not-ready` fault is switched on. */
export const simulationReadinessCheck = (faults: SimulationFaults["Service"]): ReadinessCheck => ({
  name: "simulation",
  run: probeDelay(faults).pipe(
    Effect.andThen(faults.read("not-ready")),
    Effect.flatMap(Option.match({
      onNone: () => Effect.void,
      onSome: (reason) =>
        Effect.fail(
          new NotReady({
            reason: reason === ""
              ? `the simulation was told to report not ready (${Path.join(faults.directory, "not-ready")} exists)`
              : reason
          })
        )
    }))
  )
})
