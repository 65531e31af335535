import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"
import { setTimes } from "./copyData.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import { isDirty, keyOf } from "./HsmStateTable.js"
import type { SimulatedFile } from "./locateFile.js"
import { entryOf, hostPathOf, type ModelContext, saveEntry, statOf } from "./modelContext.js"

/**
 * `lfs hsm_release`: drops the data of an archived file whose data is still the archive's
 * (not dirty, not never_release, not lost, no restore running): the file is cut to nothing and
 * back to its size, a hole (no data blocks), with its times kept. Released already is done.
 */
export const release = (
  context: ModelContext,
  located: SimulatedFile,
  isRestoring: (key: string) => boolean
): Effect.Effect<void, HsmFileFailed> =>
  context.withFileLock(
    keyOf(located.stats),
    Effect.gen(function*() {
      const failed = (why: string) => new HsmFileFailed({ path: located.path, message: `cannot release: ${why}` })
      const hostPath = hostPathOf(located)
      const stats = yield* statOf(hostPath, located.path)
      const file = { ...located, stats }
      if (!stats.isFile()) return yield* failed("not a regular file")
      const entry = yield* entryOf(context, file)
      if (entry?.released === true) return
      if (entry === undefined || !entry.archived) return yield* failed("it is not archived (Operation not permitted)")
      if (entry.noRelease) return yield* failed("never_release is set (Operation not permitted)")
      if (entry.lost) return yield* failed("lost_from_hsm: its archive copy is lost (Operation not permitted)")
      if (isDirty(entry, stats)) return yield* failed("it changed since it was archived (dirty; Operation not permitted)")
      if (isRestoring(keyOf(stats))) return yield* failed("a restore of it is running (Device or resource busy)")
      // Guarded first: an open from now on waits for a restore instead of reading the hole.
      yield* context.guard(file)
      yield* Effect.tryPromise({
        try: async () => {
          await Fs.truncate(hostPath, 0)
          await Fs.truncate(hostPath, Number(stats.size))
        },
        catch: (error) => failed(reasonOf(error))
      })
      yield* setTimes(hostPath, stats, located.path)
      const after = yield* statOf(hostPath, located.path)
      yield* saveEntry(context, file, after, {
        ...entry,
        released: true,
        archivedSize: after.size,
        archivedMtimeNs: after.mtimeNs,
        path: file.relative
      })
    })
  )
