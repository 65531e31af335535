import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { HsmFileFailed } from "../../layers/hsm/simulation/HsmFileFailed.js"
import { HsmModel } from "../../layers/hsm/simulation/HsmModel.js"
import { hsmPaths } from "../../layers/hsm/simulation/HsmPaths.js"
import { formatHsmState } from "../../layers/hsm/simulation/HsmStateTable.js"
import type { LustreFilesystem } from "../../layers/lustre/LustreShell.js"
import { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"

import type { HsmCommand } from "./hsmCommandLine.js"

/** Some of the work failed: the message says what (exit code 1). */
export class HsmCommandFailed extends Schema.TaggedError<HsmCommandFailed>()("HsmCommandFailed", { message: Schema.String }) {}

const label = (filesystem: LustreFilesystem) => `${filesystem.mgsAddress}@tcp:/${filesystem.fsName}`

/** Runs `act` on each path, printing what `show` makes of each answer and each failure on stderr. */
const eachPath = <A>(
  paths: ReadonlyArray<string>,
  act: (path: string) => Effect.Effect<A, HsmFileFailed>,
  show: (path: string, answer: A) => ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    let failed = 0
    for (const path of paths) {
      const outcome = yield* Effect.result(act(path))
      if (outcome._tag === "Failure") {
        failed++
        yield* Console.error(`${path}: ${outcome.failure.message}`)
      } else {
        for (const line of show(path, outcome.success)) yield* Console.log(line)
      }
    }
    if (failed > 0) return yield* new HsmCommandFailed({ message: `${failed} of ${paths.length} path(s) failed` })
  })

const run = (command: HsmCommand) =>
  Effect.gen(function*() {
    const model = yield* HsmModel
    switch (command._tag) {
      case "Link": {
        yield* model.link(command.filesystem, command.container)
        const folder = hsmPaths(command.stateDir).container(command.container)
        return yield* Console.log(
          `linked ${label(command.filesystem)} to ${command.container.storageAccount}/${command.container.container}: put blobs in ${folder}`
        )
      }
      case "Import": {
        const counts = yield* model.importPrefixes(command.filesystem, command.prefixes)
        yield* Console.log(
          `imported ${counts.files} file(s) and ${counts.directories} directories into ${label(command.filesystem)}; ` +
            `${counts.preexistingFiles} file(s) and ${counts.preexistingDirectories} directories were there already`
        )
        for (const error of counts.firstErrors) yield* Console.error(error)
        if (counts.errors > 0) return yield* new HsmCommandFailed({ message: `${counts.errors} blob(s) could not be imported` })
        return
      }
      case "Archive":
        return yield* eachPath(command.paths, model.archive, (path, counts) => [
          `${path}: ${counts.exported} file(s) exported (${counts.exportedBytes} bytes), ${counts.unchanged} unchanged, ` +
          `${counts.skipped} released or never_archive, ${counts.failed} failed`,
          ...counts.failures.map((failure) => `  ${failure.path}: ${failure.error}`)
        ])
      case "Release":
        return yield* eachPath(command.paths, model.release, () => [])
      case "Restore":
        return yield* eachPath(command.paths, model.restore, () => [])
      case "State":
        return yield* eachPath(command.paths, model.stateOf, (path, status) => [`${path}: ${formatHsmState(status.state)}`])
    }
  })

/**
 * Runs a `sim-hsm` command on its state directory. A restore here is the copytool at work
 * without the sim's restore delay; the faults in `<state-dir>/faults` apply.
 */
export const runHsmCommand = (command: HsmCommand): Effect.Effect<void, HsmCommandFailed> =>
  run(command).pipe(
    Effect.catchTag("HsmFileFailed", (failed) => Effect.fail(new HsmCommandFailed({ message: `${failed.path}: ${failed.message}` }))),
    Effect.provide(
      HsmModel.layer(command.stateDir, { restoreDelay: 0 }).pipe(Layer.provide(SimulationFaults.layer(hsmPaths(command.stateDir).faults)))
    )
  )
