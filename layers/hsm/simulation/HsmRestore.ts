import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as NodeFs from "node:fs"
import * as Path from "node:path"
import type { SimulationFaults } from "../../simulation/SimulationFaults.js"
import type { HsmAction } from "../Hsm.js"
import { copyData, setTimes } from "./copyData.js"
import { HsmFileFailed } from "./HsmFileFailed.js"
import { type HsmEntryFields, keyOf } from "./HsmStateTable.js"
import type { SimulatedFile } from "./locateFile.js"
import { entryOf, hostPathOf, type ModelContext, saveEntry, statOf } from "./modelContext.js"

interface Transfer {
  bytesMoved: bigint
  readonly done: Deferred.Deferred<void, HsmFileFailed>
}

const noAction: HsmAction = { kind: "NOOP", progress: undefined, bytesMoved: undefined }

export interface RestoreSettings {
  readonly restoreDelay: Duration.Duration
  readonly faults: SimulationFaults["Service"]
  /** Where the restores run: they outlive the request that started them, as the copytool's do. */
  readonly scope: Scope.Scope
}

/**
 * The copytool's restores: at most one per file, in a fiber of the model's scope; a restore
 * asked for meanwhile joins it. A failed restore's reason is kept for the file's status until
 * the next restore starts. Faults, read at each restore after its delay (their text, if any,
 * limits them to paths containing it): hsm-restore-hang, hsm-archive-lost, hsm-restore-fail.
 */
export const makeRestores = (context: ModelContext, settings: RestoreSettings) => {
  const transfers = new Map<string, Transfer>()
  const lastFailures = new Map<string, string>()

  const faultApplies = (fault: string, file: SimulatedFile) =>
    Effect.map(
      settings.faults.read(fault),
      Option.match({ onNone: () => false, onSome: (text) => text === "" || file.path.includes(text) || file.relative.includes(text) })
    )

  /** Updates the file's entry as it is now (a flag may have been set while the restore ran). */
  const updateEntry = (file: SimulatedFile, stats: NodeFs.BigIntStats, change: Partial<HsmEntryFields>) =>
    context.withFileLock(
      keyOf(file.stats),
      Effect.gen(function*() {
        const entry = yield* entryOf(context, file)
        if (entry !== undefined) yield* saveEntry(context, file, stats, { ...entry, ...change })
      })
    )

  /** Waits, then brings the blob's data back into the file, keeping its times. */
  const run = (file: SimulatedFile, blobName: string, transfer: Transfer) =>
    Effect.gen(function*() {
      const failed = (message: string) => new HsmFileFailed({ path: file.path, message })
      yield* Effect.sleep(settings.restoreDelay)
      if (yield* faultApplies("hsm-restore-hang", file)) return yield* Effect.never
      if (yield* faultApplies("hsm-archive-lost", file)) {
        yield* updateEntry(file, file.stats, { lost: true })
        return yield* failed("lost_from_hsm: the archive copy is lost (simulated hsm-archive-lost)")
      }
      if (yield* faultApplies("hsm-restore-fail", file)) return yield* failed("Input/output error (simulated hsm-restore-fail)")
      const link = yield* context.linkOf(file.filesystem)
      if (link === undefined) return yield* failed("no blob container is linked to its filesystem")
      const hostPath = hostPathOf(file)
      const before = yield* statOf(hostPath, file.path)
      yield* copyData(Path.join(context.paths.container(link), blobName), hostPath, {
        shown: file.path,
        moved: (bytes) => (transfer.bytesMoved = bytes)
      }).pipe(Effect.mapError((error) => failed(`the copytool failed: ${error.message}`)))
      yield* setTimes(hostPath, before, file.path)
      const after = yield* statOf(hostPath, file.path)
      yield* updateEntry(file, after, { released: false, archivedSize: after.size, archivedMtimeNs: after.mtimeNs })
      yield* context.unguard(keyOf(file.stats))
    })

  /**
   * Starts the restore of a released file, or joins the one under way; answers at once with the
   * wait for its end. A file that is not released needs none (and is no longer guarded).
   */
  const start = (file: SimulatedFile): Effect.Effect<Effect.Effect<void, HsmFileFailed>, HsmFileFailed> => {
    const key = keyOf(file.stats)
    return context.withFileLock(
      key,
      Effect.gen(function*() {
        const running = transfers.get(key)
        if (running !== undefined) return Deferred.await(running.done)
        const entry = yield* entryOf(context, file)
        if (entry === undefined || !entry.released) {
          yield* context.unguard(key)
          return Effect.void
        }
        if (entry.lost) return yield* new HsmFileFailed({ path: file.path, message: "lost_from_hsm: the archive copy is lost" })
        const transfer: Transfer = { bytesMoved: 0n, done: Deferred.makeUnsafe<void, HsmFileFailed>() }
        transfers.set(key, transfer)
        lastFailures.delete(key)
        yield* run(file, entry.blob ?? file.relative, transfer).pipe(
          Effect.tapError((error) => Effect.sync(() => lastFailures.set(key, error.message))),
          Effect.onExit((exit) => Effect.andThen(Effect.sync(() => transfers.delete(key)), Deferred.done(transfer.done, exit))),
          Effect.forkIn(settings.scope)
        )
        return Deferred.await(transfer.done)
      })
    )
  }

  const actionOf = (key: string): HsmAction => {
    const transfer = transfers.get(key)
    return transfer === undefined ? noAction : { kind: "RESTORE", progress: "running", bytesMoved: transfer.bytesMoved }
  }

  return {
    start,
    actionOf,
    isRunning: (key: string) => transfers.has(key),
    /** Why the file's last restore failed, if it did and none started since. */
    failureOf: (key: string) => lastFailures.get(key)
  }
}

export type Restores = ReturnType<typeof makeRestores>
