import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { FileHsmFailure } from "../Hsm.js"
import { copyData, setTimes } from "./copyData.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import { isDirty, keyOf } from "./HsmStateTable.js"
import { childOf, type SimulatedFile } from "./locateFile.js"
import { blankEntry, entryOf, hostPathOf, type HsmLink, type ModelContext, requireLink, saveEntry, statOf } from "./modelContext.js"

/** What an archive did, in the words of an AMLFS archive or auto-export status. */
export interface ArchiveCounts {
  /** Files copied to the container: new, or changed since their last archive. */
  readonly exported: number
  readonly exportedBytes: bigint
  /** Archived files that have not changed. */
  readonly unchanged: number
  /** Released files (their data is the archive's already) and never_archive files. */
  readonly skipped: number
  readonly failed: number
  /** The first few failures. */
  readonly failures: ReadonlyArray<FileHsmFailure>
}

const FAILURES_KEPT = 10

type Outcome = { readonly exported: bigint } | "unchanged" | "skipped"

/** Writes the blob beside its final name, then renames it there: a reader of the container never sees half a blob. */
const writeBlob = (file: SimulatedFile, stats: NodeFs.BigIntStats, blobPath: string) =>
  Effect.gen(function*() {
    const temporary = Path.join(Path.dirname(blobPath), `.${Path.basename(blobPath)}.${Crypto.randomUUID()}.archiving`)
    const attempt = (doing: string, run: () => Promise<unknown>) =>
      Effect.tryPromise({ try: run, catch: (error) => new HsmFileFailed({ path: file.path, message: `cannot ${doing}: ${reasonOf(error)}` }) })
    yield* attempt("make the blob's directory", async () => {
      await Fs.mkdir(Path.dirname(blobPath), { recursive: true })
      await (await Fs.open(temporary, "wx", 0o600)).close()
    })
    const bytes = yield* Effect.gen(function*() {
      const bytes = yield* copyData(hostPathOf(file), temporary, { shown: file.path })
      // The blob's POSIX headers: what an import gives the file back.
      yield* attempt("set the blob's owner and mode", async () => {
        await Fs.chown(temporary, Number(stats.uid), Number(stats.gid))
        await Fs.chmod(temporary, Number(stats.mode & 0o7777n))
      })
      yield* setTimes(temporary, stats, file.path)
      yield* attempt("rename the blob into place", () => Fs.rename(temporary, blobPath))
      return bytes
    }).pipe(Effect.tapError(() => Effect.promise(() => Fs.rm(temporary, { force: true }))))
    return bytes
  })

/**
 * Archives one regular file, as an AMLFS archive job does: a file with no HSM state, or changed
 * since its archive (dirty), is copied to the blob at its path and becomes exists+archived; an
 * unchanged file, a released one or a never_archive one is left. Its metadata alone (owner,
 * mode, name) is no change: a renamed file keeps its state (the table follows the inode) and
 * its old blob.
 */
const archiveFile = (context: ModelContext, link: HsmLink, file: SimulatedFile): Effect.Effect<Outcome, HsmFileFailed> =>
  context.withFileLock(
    keyOf(file.stats),
    Effect.gen(function*() {
      const stats = yield* statOf(hostPathOf(file), file.path)
      const now = { ...file, stats }
      const entry = yield* entryOf(context, now)
      if (entry?.released === true || entry?.noArchive === true) return "skipped"
      if (entry?.archived === true && !entry.lost && !isDirty(entry, stats)) return "unchanged"
      const exported = yield* writeBlob(now, stats, Path.join(context.paths.container(link), file.relative))
      yield* saveEntry(context, now, stats, {
        ...(entry ?? blankEntry(file.relative)),
        exists: true,
        archived: true,
        lost: false,
        archiveId: link.archiveId,
        blob: file.relative,
        archivedSize: stats.size,
        archivedMtimeNs: stats.mtimeNs,
        path: file.relative
      })
      return { exported }
    })
  )

/** Archives a file, or every regular file below a directory (one directory at a time). */
export const archive = (context: ModelContext, target: SimulatedFile): Effect.Effect<ArchiveCounts, HsmFileFailed> =>
  Effect.gen(function*() {
    const link = yield* requireLink(context, target)
    const counts = { exported: 0, exportedBytes: 0n, unchanged: 0, skipped: 0, failed: 0 }
    const failures: Array<FileHsmFailure> = []

    const tally = (outcome: Outcome) =>
      Effect.sync(() => {
        if (outcome === "unchanged") counts.unchanged++
        else if (outcome === "skipped") counts.skipped++
        else {
          counts.exported++
          counts.exportedBytes += outcome.exported
        }
      })

    /** Symlinks and special files are no blobs: they are passed over. */
    const visit = (file: SimulatedFile): Effect.Effect<void> => {
      const work = file.stats.isDirectory()
        ? walk(file)
        : file.stats.isFile()
        ? Effect.flatMap(archiveFile(context, link, file), tally)
        : Effect.void
      return work.pipe(
        Effect.catchTag("HsmFileFailed", (error) =>
          Effect.sync(() => {
            counts.failed++
            if (failures.length < FAILURES_KEPT) failures.push({ path: error.path, error: error.message })
          }))
      )
    }

    const walk = (directory: SimulatedFile): Effect.Effect<void, HsmFileFailed> =>
      Effect.gen(function*() {
        const names = yield* Effect.tryPromise({
          try: () => Fs.readdir(directory.path),
          catch: (error) => new HsmFileFailed({ path: directory.path, message: `cannot list: ${reasonOf(error)}` })
        })
        for (const name of names.sort()) {
          const child = yield* Effect.promise(() => Fs.lstat(Path.join(directory.path, name), { bigint: true }).catch(() => undefined))
          if (child !== undefined) yield* visit(childOf(directory, name, child))
        }
      })

    if (!target.stats.isDirectory() && !target.stats.isFile()) {
      return yield* new HsmFileFailed({ path: target.path, message: "not a regular file or directory" })
    }
    yield* visit(target)
    return { ...counts, failures }
  })
