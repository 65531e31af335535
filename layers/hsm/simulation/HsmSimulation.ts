import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { SimulationFaults } from "../../simulation/SimulationFaults.js"
import { type FileHsmFailure, type FileHsmStatus, Hsm, HsmUnavailable } from "../Hsm.js"
import type { HsmFileFailed } from "./HsmFileFailed.js"
import { HsmModel } from "./HsmModel.js"
import { makeReadGate } from "./ReadGate.js"

export { type BlobContainer, hsmPaths, type HsmPaths } from "./HsmPaths.js"

export interface HsmSimulationOptions {
  /** How long a restore waits before copying the blob back (the copytool's queue and Blob's latency). */
  readonly restoreDelay: Duration.Input
  /**
   * Whether reads of released files by other processes wait for their restore (the read gate:
   * fanotify, needs root; without it they read the stub's zeros). Default true.
   */
  readonly readGate?: boolean
}

const CONCURRENCY = 16

const asFailure = (error: HsmFileFailed): FileHsmFailure => ({ path: error.path, error: error.message })

/** Runs `act` on each path; answers the paths it failed on. */
const failuresOf = <A>(
  paths: ReadonlyArray<string>,
  act: (path: string) => Effect.Effect<A, HsmFileFailed>,
  failuresIn: (answer: A) => ReadonlyArray<FileHsmFailure> = () => []
) =>
  Effect.map(
    Effect.forEach(paths, (path) => act(path).pipe(Effect.match({ onFailure: (error) => [asFailure(error)], onSuccess: failuresIn })), {
      concurrency: CONCURRENCY
    }),
    (answers) => answers.flat()
  )

/**
 * `Hsm` on the simulation's model (HsmModel): the paths given may be any path to a file of a
 * simulated filesystem (a bind mount, `/proc/<pid>/fd/<n>/...`). Restores are asynchronous, as
 * `lfs hsm_restore` is: `restore` answers once they are started; `status` shows them running,
 * then the file no longer released, or the restore's failure. Archive and release are done
 * before they answer.
 */
const makeSimulatedHsm = (options: HsmSimulationOptions) =>
  Effect.gen(function*() {
    const model = yield* HsmModel
    if (options.readGate !== false) {
      const gate = yield* makeReadGate((open) =>
        model.restore(open.path).pipe(
          Effect.as("allow" as const),
          Effect.catchTag("HsmFileFailed", (failed) =>
            Effect.as(Effect.logWarning(`a read of ${open.path} is refused: its restore failed: ${failed.message}`), "deny" as const))
        )
      )
      if (gate !== undefined) yield* model.plugReadGate(gate)
    }

    const status = (paths: ReadonlyArray<string>) =>
      Effect.forEach(
        paths,
        (path) =>
          model.stateOf(path).pipe(
            Effect.match({
              onFailure: asFailure,
              onSuccess: ({ state, action, failure }): FileHsmStatus => ({
                path,
                state,
                action,
                ...(failure !== undefined ? { failure } : {})
              })
            })
          ),
        { concurrency: CONCURRENCY }
      )

    const findReleased = (directory: string) =>
      model.findReleased(directory).pipe(
        Stream.mapError((failed) => new HsmUnavailable({ operation: `find released files in ${directory}`, message: failed.message }))
      )

    return Hsm.of({
      status,
      findReleased,
      restore: (paths) => failuresOf(paths, model.startRestore),
      archive: (paths) => failuresOf(paths, model.archive, (counts) => counts.failures),
      release: (paths) => failuresOf(paths, model.release)
    })
  })

export const HsmSimulation = {
  /** `Hsm` and the model it acts through (for the ARM emulator's jobs): one model per state directory. */
  layer: (stateDir: string, options: HsmSimulationOptions): Layer.Layer<Hsm | HsmModel, never, SimulationFaults> =>
    Layer.effect(Hsm, makeSimulatedHsm(options)).pipe(Layer.provideMerge(HsmModel.layer(stateDir, options)))
} as const
