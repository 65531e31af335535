import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { HsmState } from "../Hsm.js"

/**
 * The HSM state of the files of one simulated filesystem: a side table, since Node cannot set
 * the xattrs Lustre keeps it in.
 *
 * One small JSON file per file that has a state, `states/<dev>-<ino>.json`, keyed by the inode
 * as Lustre's state follows the file's FID: a rename keeps it, and a path through a bind mount or
 * `/proc/<pid>/fd/<n>` finds it. The entry also holds the file's birth time (statx btime): an
 * entry whose birth time is not the file's belongs to a dead file whose inode was reused, and
 * counts as no entry (it is overwritten at the next write). Writes are a temporary file renamed
 * over the entry, so a reader (another process, e.g. `sim-hsm` beside a running sim) sees the
 * old entry or the new one, never half of one; two writers of one file race, the last one wins.
 *
 * A file with no entry has no HSM state (flags 0). `dirty` is not stored: it is derived, as the
 * file being archived while its size or mtime is no longer the one archived. The mtime recorded
 * is the one read back after the model set the file's times (Node sets them to the microsecond
 * only), so a restore or a release does not make a file dirty.
 */
export const HsmEntry = Schema.Struct({
  /** The file's birth time (ns) when the entry was written. */
  birth: Schema.BigIntFromString,
  exists: Schema.Boolean,
  archived: Schema.Boolean,
  released: Schema.Boolean,
  lost: Schema.Boolean,
  noRelease: Schema.Boolean,
  noArchive: Schema.Boolean,
  archiveId: Schema.Number,
  /** The blob holding the archive copy: the file's path when it was imported or last archived. */
  blob: Schema.optionalKey(Schema.String),
  /** The file's size and mtime (ns) when its data last was the archive copy's. */
  archivedSize: Schema.optionalKey(Schema.BigIntFromString),
  archivedMtimeNs: Schema.optionalKey(Schema.BigIntFromString),
  /** Where the file was (within the filesystem) when the entry was written: a hint to find it again. */
  path: Schema.String
})
export type HsmEntry = typeof HsmEntry.Type

/** What a writer gives: the birth time comes from the file's stats. */
export type HsmEntryFields = Omit<HsmEntry, "birth">

const EntryJson = Schema.fromJsonString(HsmEntry)
const decodeEntry = Schema.decodeUnknownOption(EntryJson)
const encodeEntry = Schema.encodeSync(EntryJson)

/** A file's key in the table: its device and inode. */
export const keyOf = (stats: NodeFs.BigIntStats): string => `${stats.dev}-${stats.ino}`

const entryFile = (statesDir: string, key: string) => Path.join(statesDir, `${key}.json`)

/** The entry of the file `stats` describes, if it has one. */
export const readEntry = (statesDir: string, stats: NodeFs.BigIntStats): Effect.Effect<HsmEntry | undefined> =>
  Effect.map(readEntryFile(entryFile(statesDir, keyOf(stats))), (entry) =>
    entry !== undefined && entry.birth === stats.birthtimeNs ? entry : undefined)

const readEntryFile = (file: string): Effect.Effect<HsmEntry | undefined> =>
  Effect.promise(() => Fs.readFile(file, "utf8").catch(() => undefined)).pipe(
    Effect.map((text) => (text === undefined ? undefined : Option.getOrUndefined(decodeEntry(text))))
  )

/** Writes the entry of the file `stats` describes, atomically (temporary file, then rename). */
export const writeEntry = (
  statesDir: string,
  stats: NodeFs.BigIntStats,
  fields: HsmEntryFields
): Effect.Effect<void, Error> =>
  Effect.tryPromise({
    try: async () => {
      const file = entryFile(statesDir, keyOf(stats))
      const temporary = `${file}.${Crypto.randomUUID()}.tmp`
      await Fs.mkdir(statesDir, { recursive: true })
      await Fs.writeFile(temporary, encodeEntry({ ...fields, birth: stats.birthtimeNs }))
      await Fs.rename(temporary, file).catch(async (error: unknown) => {
        await Fs.rm(temporary, { force: true })
        throw error
      })
    },
    catch: (error) => (error instanceof Error ? error : new Error(String(error)))
  })

/** Every entry of the table with its key, for finding released files after a restart. */
export const listEntries = (statesDir: string): Effect.Effect<ReadonlyArray<{ readonly key: string; readonly entry: HsmEntry }>> =>
  Effect.gen(function*() {
    const names = yield* Effect.promise(() => Fs.readdir(statesDir).catch(() => [] as Array<string>))
    const entries = yield* Effect.forEach(
      names.filter((name) => name.endsWith(".json")),
      (name) => Effect.map(readEntryFile(Path.join(statesDir, name)), (entry) => ({ key: name.slice(0, -".json".length), entry })),
      { concurrency: 16 }
    )
    return entries.flatMap(({ key, entry }) => (entry === undefined ? [] : [{ key, entry }]))
  })

/** The file changed since it was archived: its size or mtime is not the one archived. */
export const isDirty = (entry: HsmEntry, stats: NodeFs.BigIntStats): boolean =>
  entry.archived && (entry.archivedSize !== stats.size || entry.archivedMtimeNs !== stats.mtimeNs)

/** `enum hsm_states` (lustre_user.h). */
const HS_EXISTS = 0x01
const HS_DIRTY = 0x02
const HS_RELEASED = 0x04
const HS_ARCHIVED = 0x08
const HS_NORELEASE = 0x10
const HS_NOARCHIVE = 0x20
const HS_LOST = 0x40

export const noHsmState: HsmState = {
  flags: 0,
  exists: false,
  dirty: false,
  released: false,
  archived: false,
  noRelease: false,
  noArchive: false,
  lost: false,
  archiveId: 0
}

/** The state `lfs hsm_state` would print for the file `stats` describes, given its entry. */
export const hsmStateOf = (entry: HsmEntry | undefined, stats: NodeFs.BigIntStats): HsmState => {
  if (entry === undefined) return noHsmState
  const dirty = isDirty(entry, stats)
  const bits: ReadonlyArray<readonly [boolean, number]> = [
    [entry.exists, HS_EXISTS],
    [dirty, HS_DIRTY],
    [entry.released, HS_RELEASED],
    [entry.archived, HS_ARCHIVED],
    [entry.noRelease, HS_NORELEASE],
    [entry.noArchive, HS_NOARCHIVE],
    [entry.lost, HS_LOST]
  ]
  return {
    flags: bits.reduce((flags, [set, bit]) => (set ? flags | bit : flags), 0),
    exists: entry.exists,
    dirty,
    released: entry.released,
    archived: entry.archived,
    noRelease: entry.noRelease,
    noArchive: entry.noArchive,
    lost: entry.lost,
    archiveId: entry.archiveId
  }
}

/** `lfs hsm_state`'s words for a state: `(0x0000000d) released exists archived, archive_id:1`. */
export const formatHsmState = (state: HsmState): string => {
  const words = [
    [state.released, "released"],
    [state.exists, "exists"],
    [state.dirty, "dirty"],
    [state.archived, "archived"],
    [state.noRelease, "never_release"],
    [state.noArchive, "never_archive"],
    [state.lost, "lost_from_hsm"]
  ] as const
  const named = words.filter(([set]) => set).map(([, word]) => ` ${word}`).join("")
  const archive = state.archiveId !== 0 ? `, archive_id:${state.archiveId}` : ""
  return `(0x${state.flags.toString(16).padStart(8, "0")})${named}${archive}`
}
