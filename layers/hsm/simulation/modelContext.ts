import * as Effect from "effect/Effect"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LustreFilesystem } from "../../lustre/LustreShell.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import type { BlobContainer, HsmPaths } from "./HsmPaths.js"
import { type HsmEntry, type HsmEntryFields, readEntry, writeEntry } from "./HsmStateTable.js"
import type { SimulatedFile } from "./locateFile.js"

/** The container a filesystem is linked to, and the archive id its files carry. */
export interface HsmLink extends BlobContainer {
  readonly archiveId: number
}

/** What the model's operations (import, archive, restore, release) share. */
export interface ModelContext {
  readonly paths: HsmPaths
  readonly linkOf: (filesystem: LustreFilesystem) => Effect.Effect<HsmLink | undefined>
  /** Runs `effect` alone among the model's state changes of one file (by key). */
  readonly withFileLock: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Asks the read gate, if one is plugged in, to hold other processes' opens of a released file. */
  readonly guard: (file: SimulatedFile) => Effect.Effect<void>
  /** Lets opens of the file (by key) through again. */
  readonly unguard: (key: string) => Effect.Effect<void>
}

/** The file's path under the filesystem directory: always writable, unlike a read-only bind mount. */
export const hostPathOf = (file: SimulatedFile): string => Path.join(file.root, file.relative)

export const statesOf = (context: ModelContext, file: SimulatedFile): string => context.paths.states(file.filesystem)

export const entryOf = (context: ModelContext, file: SimulatedFile): Effect.Effect<HsmEntry | undefined> =>
  readEntry(statesOf(context, file), file.stats)

export const saveEntry = (
  context: ModelContext,
  file: SimulatedFile,
  stats: NodeFs.BigIntStats,
  fields: HsmEntryFields
): Effect.Effect<void, HsmFileFailed> =>
  writeEntry(statesOf(context, file), stats, fields).pipe(
    Effect.mapError((error) => new HsmFileFailed({ path: file.path, message: `cannot record its HSM state: ${reasonOf(error)}` }))
  )

/** The entry of a file that had no HSM state. */
export const blankEntry = (relative: string): HsmEntryFields => ({
  exists: false,
  archived: false,
  released: false,
  lost: false,
  noRelease: false,
  noArchive: false,
  archiveId: 0,
  path: relative
})

export const statOf = (path: string, shown: string): Effect.Effect<NodeFs.BigIntStats, HsmFileFailed> =>
  Effect.tryPromise({
    try: () => Fs.lstat(path, { bigint: true }),
    catch: (error) => new HsmFileFailed({ path: shown, message: `cannot stat: ${reasonOf(error)}` })
  })

export const requireLink = (context: ModelContext, file: SimulatedFile): Effect.Effect<HsmLink, HsmFileFailed> =>
  Effect.flatMap(context.linkOf(file.filesystem), (link) =>
    link !== undefined
      ? Effect.succeed(link)
      : Effect.fail(
        new HsmFileFailed({
          path: file.path,
          message: `no blob container is linked to ${file.filesystem.mgsAddress}@tcp:/${file.filesystem.fsName} (azurelustre-csi sim-hsm link)`
        })
      ))
