import * as Effect from "effect/Effect"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LustreFilesystem } from "../../lustre/LustreShell.js"
import { setTimes } from "./copyData.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import type { SimulatedFile } from "./locateFile.js"
import { blankEntry, type ModelContext, requireLink, saveEntry, statOf } from "./modelContext.js"

/** What an import did, in the words of an AMLFS import job's status. */
export interface ImportCounts {
  /** Blobs (and directories) under the prefixes looked at. */
  readonly blobsWalked: number
  /** Released stubs made. */
  readonly files: number
  readonly directories: number
  /** Paths that already existed, left alone. */
  readonly preexistingFiles: number
  readonly preexistingDirectories: number
  readonly errors: number
  /** The first few errors, for a status message. */
  readonly firstErrors: ReadonlyArray<string>
}

/**
 * What an import does with a path that already exists in the filesystem: AMLFS's
 * `conflictResolutionMode`. Only Skip so far; Fail, OverwriteIfDirty and OverwriteAlways come
 * with the ARM emulator's import jobs.
 */
export type ImportConflict = "skip"

const ERRORS_KEPT = 5

/** `/data/` and `data/` name the same blobs; "" (or "/") is every blob. A prefix inside another adds nothing. */
const normalizedPrefixes = (prefixes: ReadonlyArray<string>): ReadonlyArray<string> => {
  const stripped = [...new Set(prefixes.map((prefix) => prefix.replace(/^\/+/, "")))]
  return stripped.filter((prefix) => !stripped.some((other) => other !== prefix && prefix.startsWith(other)))
}

const modeOf = (stats: NodeFs.BigIntStats) => Number(stats.mode & 0o7777n)

/** The directory holding a blob or directory name ("" for the top). */
const parentOf = (name: string) => (name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "")

/**
 * Imports the namespace of the blobs whose names start with one of `prefixes` into the
 * filesystem, as AMLFS does at creation and in import jobs: for each blob, a released stub at
 * the same path (a sparse file of the blob's size, no data, the blob's mode, owner and mtime),
 * exists+archived+released, its data left in the container until a restore. Directories are
 * made with the container directory's mode and owner. A path that exists is left alone.
 */
export const importPrefixes = (
  context: ModelContext,
  filesystem: LustreFilesystem,
  prefixes: ReadonlyArray<string>,
  _options: { readonly conflict: ImportConflict }
): Effect.Effect<ImportCounts, HsmFileFailed> =>
  Effect.gen(function*() {
    const rootPath = context.paths.filesystem(filesystem)
    const root = yield* Effect.tryPromise({
      try: async () => {
        await Fs.mkdir(rootPath, { recursive: true })
        const canonical = await Fs.realpath(rootPath)
        return { canonical, stats: await Fs.stat(canonical, { bigint: true }) }
      },
      catch: (error) => new HsmFileFailed({ path: rootPath, message: `cannot open the filesystem directory: ${reasonOf(error)}` })
    })
    const fileAt = (relative: string, stats: NodeFs.BigIntStats): SimulatedFile => ({
      path: Path.join(root.canonical, relative),
      filesystem,
      root: root.canonical,
      relative,
      stats
    })
    const link = yield* requireLink(context, fileAt("", root.stats))
    const container = context.paths.container(link)
    const counts = { blobsWalked: 0, files: 0, directories: 0, preexistingFiles: 0, preexistingDirectories: 0, errors: 0 }
    const firstErrors: Array<string> = []
    const known = new Set<string>([""])

    const failed = (name: string, message: string) =>
      Effect.sync(() => {
        counts.errors++
        if (firstErrors.length < ERRORS_KEPT) firstErrors.push(`${name}: ${message}`)
      })

    /** Makes the directory `name` (and its parents) like the container's, unless it exists. */
    const ensureDirectory = (name: string, countExisting: boolean): Effect.Effect<void, HsmFileFailed> =>
      Effect.gen(function*() {
        if (known.has(name)) return
        yield* ensureDirectory(parentOf(name), false)
        const target = Path.join(root.canonical, name)
        const existing = yield* Effect.promise(() => Fs.lstat(target).catch(() => undefined))
        if (existing !== undefined) {
          if (!existing.isDirectory()) return yield* new HsmFileFailed({ path: name, message: "a file of the filesystem is in the way of this directory" })
          if (countExisting) counts.preexistingDirectories++
        } else {
          const model = yield* statOf(Path.join(container, name), name)
          yield* Effect.tryPromise({
            try: async () => {
              await Fs.mkdir(target).catch((error: unknown) => {
                if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error
              })
              await Fs.chown(target, Number(model.uid), Number(model.gid))
              await Fs.chmod(target, modeOf(model))
            },
            catch: (error) => new HsmFileFailed({ path: name, message: `cannot make the directory: ${reasonOf(error)}` })
          })
          counts.directories++
        }
        known.add(name)
      })

    const importBlob = (name: string): Effect.Effect<void, HsmFileFailed> =>
      Effect.gen(function*() {
        const blob = yield* statOf(Path.join(container, name), name)
        yield* ensureDirectory(parentOf(name), false)
        const target = Path.join(root.canonical, name)
        const created = yield* Effect.tryPromise({
          try: async () => {
            const handle = await Fs.open(target, "wx", modeOf(blob)).catch((error: unknown) => {
              if (error instanceof Error && "code" in error && error.code === "EEXIST") return undefined
              throw error
            })
            if (handle === undefined) return false
            try {
              await handle.truncate(Number(blob.size))
              await handle.chown(Number(blob.uid), Number(blob.gid))
              await handle.chmod(modeOf(blob))
            } finally {
              await handle.close()
            }
            return true
          },
          catch: (error) => new HsmFileFailed({ path: name, message: `cannot make the stub: ${reasonOf(error)}` })
        })
        if (!created) {
          counts.preexistingFiles++
          return
        }
        yield* setTimes(target, blob, name)
        const stats = yield* statOf(target, name)
        const file = fileAt(name, stats)
        yield* saveEntry(context, file, stats, {
          ...blankEntry(name),
          exists: true,
          archived: true,
          released: true,
          archiveId: link.archiveId,
          blob: name,
          archivedSize: stats.size,
          archivedMtimeNs: stats.mtimeNs
        }).pipe(Effect.tapError(() => Effect.promise(() => Fs.rm(target, { force: true }))))
        yield* context.guard(file)
        counts.files++
      })

    /** Walks the container below `directory`, into the directories that can hold a blob under `prefix`. */
    const walk = (directory: string, prefix: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const entries = yield* Effect.promise(() =>
          Fs.readdir(Path.join(container, directory), { withFileTypes: true }).catch(() => [] as Array<NodeFs.Dirent>)
        )
        for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
          const name = directory === "" ? entry.name : `${directory}/${entry.name}`
          yield* visit(entry, name, prefix).pipe(Effect.catchTag("HsmFileFailed", (error) => failed(error.path, error.message)))
        }
      })

    const visit = (entry: NodeFs.Dirent, name: string, prefix: string): Effect.Effect<void, HsmFileFailed> => {
      if (entry.isDirectory()) {
        if (!`${name}/`.startsWith(prefix)) return prefix.startsWith(`${name}/`) ? walk(name, prefix) : Effect.void
        return Effect.gen(function*() {
          counts.blobsWalked++
          yield* ensureDirectory(name, true)
          yield* walk(name, prefix)
        })
      }
      if (!entry.isFile() || !name.startsWith(prefix)) return Effect.void
      return Effect.suspend(() => {
        counts.blobsWalked++
        return importBlob(name)
      })
    }

    for (const prefix of normalizedPrefixes(prefixes)) yield* walk("", prefix)
    return { ...counts, firstErrors }
  })
