import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { NotReady, type ReadinessCheck } from "../../src/health/Readiness.js"

/**
 * Faults the simulation is told to show, one file each in `<state>/faults/`. A user (or a test)
 * switches a fault on with `touch` or `echo`, and off with `rm`; the driver reads the folder on
 * every check, so no restart is needed.
 *
 *   not-ready     Probe answers ready=false; the file's text, if any, is the reason given
 *   probe-delay   every readiness check first waits this many milliseconds (e.g. "2000")
 */
export class SimulationFaults extends Context.Service<SimulationFaults, {
  readonly directory: string
  /** The fault's file content when it is switched on. */
  readonly read: (fault: string) => Effect.Effect<Option.Option<string>>
}>()("azurelustre/simulation/SimulationFaults") {
  static readonly layer = (directory: string) =>
    Layer.effect(
      SimulationFaults,
      Effect.promise(() => Fs.mkdir(directory, { recursive: true })).pipe(
        Effect.as(SimulationFaults.of({
          directory,
          read: (fault) =>
            Effect.promise(() =>
              Fs.readFile(Path.join(directory, fault), "utf8").then(
                (text) => Option.some(text.trim()),
                () => Option.none<string>()
              )
            )
        }))
      )
    )
}

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
