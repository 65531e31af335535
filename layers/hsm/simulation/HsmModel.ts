import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LustreFilesystem } from "../../lustre/LustreShell.js"
import { SimulationFaults } from "../../simulation/SimulationFaults.js"
import type { HsmAction, HsmState, ReleasedFile } from "../Hsm.js"
import { copyData, setTimes } from "./copyData.js"
import { type ArchiveCounts, archive } from "./HsmArchive.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import { type ImportConflict, type ImportCounts, importPrefixes } from "./HsmImport.js"
import { type BlobContainer, hsmPaths, type HsmPaths } from "./HsmPaths.js"
import { type HsmEntry, hsmStateOf, isDirty, keyOf, listEntries, readEntry } from "./HsmStateTable.js"
import { childOf, locateFile, type SimulatedFile } from "./locateFile.js"
import { blankEntry, entryOf, hostPathOf, type HsmLink, type ModelContext, saveEntry, statOf } from "./modelContext.js"

export type { ArchiveCounts } from "./HsmArchive.js"
export type { ImportConflict, ImportCounts } from "./HsmImport.js"
export type { HsmLink } from "./modelContext.js"

/**
 * The read gate (ReadGate.ts): holds other processes' opens of a guarded file until the model
 * has restored it. The model guards a file when it makes a stub or releases one, and unguards it
 * once its data is back.
 */
export interface ReadGateHooks {
  readonly guard: (path: string) => Effect.Effect<void, unknown>
  readonly unguard: (path: string) => Effect.Effect<void, unknown>
}

/** A file's HSM state, the action in progress on it, and why its last restore failed, if it did. */
export interface ModelFileStatus {
  readonly state: HsmState
  readonly action: HsmAction
  readonly failure: string | undefined
}

/** `lfs hsm_set` / `lfs hsm_clear`: the flags a user (or a test) may set by hand. */
export interface SettableFlags {
  readonly noRelease?: boolean
  readonly noArchive?: boolean
  readonly lost?: boolean
}

const LinkJson = Schema.fromJsonString(Schema.Struct({
  storageAccount: Schema.String,
  container: Schema.String,
  archiveId: Schema.Number
}))
const decodeLink = Schema.decodeUnknownOption(LinkJson)
const encodeLink = Schema.encodeSync(LinkJson)

/** AMLFS's one archive backend: the linked container. */
const ARCHIVE_ID = 1
/** Released files found per batch of `findReleased`. */
const RELEASED_BATCH = 256
/** How often a plugged-in gate looks for files released by another process (`sim-hsm` beside the sim). */
const GUARD_RESCAN = Schedule.spaced("1 second")

const noAction: HsmAction = { kind: "NOOP", progress: undefined, bytesMoved: undefined }

interface Transfer {
  bytesMoved: bigint
  readonly done: Deferred.Deferred<void, HsmFileFailed>
}

/**
 * The simulated blob link of AMLFS, one model for the node's HSM layer (HsmSimulation), the ARM
 * emulator's import and archive jobs and the `sim-hsm` command, acting on real files under the
 * state directory (HsmPaths):
 *
 * - a blob container is a directory; a blob is a file, its name the path below, its mode, owner
 *   and mtime the blob's POSIX headers;
 * - a filesystem links to at most one container (`link`), archive id 1;
 * - each file's HSM state is an entry of a side table keyed by inode (HsmStateTable);
 * - an import makes released stubs of blobs (HsmImport); an archive copies new and changed
 *   files to blobs (HsmArchive); a release drops an archived file's data; a restore copies the
 *   blob back after `restoreDelay`, joined by every other restore of the file meanwhile.
 *
 * Paths may be reached any way (a bind mount, `/proc/<pid>/fd/<n>/...`): files are found by
 * inode (locateFile). Restores run in fibers of the model's scope; their faults, files in the
 * faults directory read at each restore (the text, if any, limits them to paths containing it):
 *
 *   hsm-restore-fail   the restore fails with an I/O error
 *   hsm-restore-hang   the restore never completes (until the sim stops)
 *   hsm-archive-lost   the archive copy is lost: the file becomes lost_from_hsm and cannot come back
 */
export class HsmModel extends Context.Service<HsmModel, {
  readonly paths: HsmPaths
  readonly link: (filesystem: LustreFilesystem, container: BlobContainer) => Effect.Effect<void, HsmFileFailed>
  readonly linkOf: (filesystem: LustreFilesystem) => Effect.Effect<HsmLink | undefined>
  readonly importPrefixes: (
    filesystem: LustreFilesystem,
    prefixes: ReadonlyArray<string>,
    options?: { readonly conflict: ImportConflict }
  ) => Effect.Effect<ImportCounts, HsmFileFailed>
  /** Archives a file or every file below a directory. */
  readonly archive: (path: string) => Effect.Effect<ArchiveCounts, HsmFileFailed>
  /** Drops the data of an archived, unchanged file. */
  readonly release: (path: string) => Effect.Effect<void, HsmFileFailed>
  /**
   * Starts the restore of a released file (or joins the one under way) and answers at once with
   * the wait for its end; a file that is not released needs none.
   */
  readonly startRestore: (path: string) => Effect.Effect<Effect.Effect<void, HsmFileFailed>, HsmFileFailed>
  /** Restores a released file and waits until its data is back. */
  readonly restore: (path: string) => Effect.Effect<void, HsmFileFailed>
  readonly setFlags: (path: string, flags: SettableFlags) => Effect.Effect<void, HsmFileFailed>
  readonly stateOf: (path: string) => Effect.Effect<ModelFileStatus, HsmFileFailed>
  /** The released regular files below a directory, a directory at a time, in batches. */
  readonly findReleased: (directory: string) => Stream.Stream<ReadonlyArray<ReleasedFile>, HsmFileFailed>
  /** From now on, stubs and released files are guarded by `gate` (and those released before are, too). */
  readonly plugReadGate: (gate: ReadGateHooks) => Effect.Effect<void>
}>()("azurelustre/hsm/simulation/HsmModel") {
  static readonly layer = (
    stateDir: string,
    options: { readonly restoreDelay: Duration.Input }
  ): Layer.Layer<HsmModel, never, SimulationFaults> => Layer.effect(HsmModel, makeHsmModel(stateDir, options))
}

const makeHsmModel = (stateDir: string, options: { readonly restoreDelay: Duration.Input }) =>
  Effect.gen(function*() {
    const paths = hsmPaths(stateDir)
    const faults = yield* SimulationFaults
    const scope = yield* Effect.scope
    const restoreDelay = Duration.fromInputUnsafe(options.restoreDelay)
    const transfers = new Map<string, Transfer>()
    const lastFailures = new Map<string, string>()
    const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
    let gate: ReadGateHooks | undefined
    /** Files the gate guards, by key, with the path they were guarded by. */
    const guarded = new Map<string, string>()
    /** The mtime of each states directory when the gate's guards were last reconciled with it. */
    const statesSeen = new Map<string, bigint>()

    const withFileLock = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          const lock = locks.get(key) ?? { semaphore: Semaphore.makeUnsafe(1), users: 0 }
          lock.users++
          locks.set(key, lock)
          return lock
        }),
        (lock) => lock.semaphore.withPermits(1)(effect),
        (lock) => Effect.sync(() => void (--lock.users === 0 && locks.delete(key)))
      )

    const guardPath = (key: string, path: string) =>
      gate === undefined || guarded.get(key) === path ? Effect.void : gate.guard(path).pipe(
        Effect.tap(() => Effect.sync(() => guarded.set(key, path))),
        Effect.catch((error) => Effect.logWarning(`the read gate cannot guard ${path}: ${reasonOf(error)}`))
      )
    const unguard = (key: string) => {
      const path = guarded.get(key)
      if (gate === undefined || path === undefined) return Effect.void
      guarded.delete(key)
      return gate.unguard(path).pipe(Effect.catch((error) => Effect.logWarning(`the read gate cannot unguard ${path}: ${reasonOf(error)}`)))
    }

    const linkOf = (filesystem: LustreFilesystem) =>
      Effect.promise(() => Fs.readFile(paths.link(filesystem), "utf8").catch(() => undefined)).pipe(
        Effect.map((text) => (text === undefined ? undefined : Option.getOrUndefined(decodeLink(text))))
      )

    const context: ModelContext = {
      paths,
      linkOf,
      withFileLock,
      guard: (file) => guardPath(keyOf(file.stats), hostPathOf(file))
    }

    const locate = (path: string) => locateFile(paths, path)

    const link = Effect.fn("HsmModel.link")(function*(filesystem: LustreFilesystem, container: BlobContainer) {
      const file = paths.link(filesystem)
      const text = encodeLink({ storageAccount: container.storageAccount, container: container.container, archiveId: ARCHIVE_ID })
      yield* Effect.tryPromise({
        try: async () => {
          await Fs.mkdir(paths.container(container), { recursive: true })
          await Fs.mkdir(Path.dirname(file), { recursive: true })
          const temporary = `${file}.${Crypto.randomUUID()}.tmp`
          await Fs.writeFile(temporary, text)
          await Fs.rename(temporary, file)
        },
        catch: (error) => new HsmFileFailed({ path: file, message: `cannot link the container: ${reasonOf(error)}` })
      })
    })

    const faultApplies = (fault: string, file: SimulatedFile) =>
      Effect.map(
        faults.read(fault),
        Option.match({ onNone: () => false, onSome: (text) => text === "" || file.path.includes(text) || file.relative.includes(text) })
      )

    /** The copytool's work: wait, then bring the blob's data back into the file, keeping its mtime. */
    const runRestore = (file: SimulatedFile, entry: HsmEntry, transfer: Transfer) =>
      Effect.gen(function*() {
        const failed = (message: string) => new HsmFileFailed({ path: file.path, message })
        yield* Effect.sleep(restoreDelay)
        if (yield* faultApplies("hsm-restore-hang", file)) return yield* Effect.never
        if (yield* faultApplies("hsm-archive-lost", file)) {
          yield* saveEntry(context, file, file.stats, { ...entry, lost: true })
          return yield* failed("lost_from_hsm: the archive copy is lost (simulated hsm-archive-lost)")
        }
        if (yield* faultApplies("hsm-restore-fail", file)) return yield* failed("Input/output error (simulated hsm-restore-fail)")
        const link = yield* linkOf(file.filesystem)
        if (link === undefined) return yield* failed("no blob container is linked to its filesystem")
        const blob = Path.join(paths.container(link), entry.blob ?? file.relative)
        const hostPath = hostPathOf(file)
        const before = yield* statOf(hostPath, file.path)
        yield* copyData(blob, hostPath, { shown: file.path, moved: (bytes) => (transfer.bytesMoved = bytes) }).pipe(
          Effect.catchTag("HsmFileFailed", (error) => Effect.fail(failed(`the copytool failed: ${error.message}`)))
        )
        // A restore does not change the file's times.
        yield* setTimes(hostPath, before, file.path)
        const after = yield* statOf(hostPath, file.path)
        yield* saveEntry(context, file, after, { ...entry, released: false, archivedSize: after.size, archivedMtimeNs: after.mtimeNs })
        yield* unguard(keyOf(file.stats))
      })

    const startRestore = Effect.fn("HsmModel.startRestore")(function*(path: string) {
      const file = yield* locate(path)
      const key = keyOf(file.stats)
      return yield* withFileLock(
        key,
        Effect.gen(function*() {
          const running = transfers.get(key)
          if (running !== undefined) return Deferred.await(running.done)
          const entry = yield* entryOf(context, file)
          if (entry === undefined || !entry.released) {
            yield* unguard(key)
            return Effect.void
          }
          if (entry.lost) return yield* new HsmFileFailed({ path, message: "lost_from_hsm: the archive copy is lost" })
          const transfer: Transfer = { bytesMoved: 0n, done: Deferred.makeUnsafe<void, HsmFileFailed>() }
          transfers.set(key, transfer)
          lastFailures.delete(key)
          yield* runRestore(file, entry, transfer).pipe(
            Effect.tapError((error) => Effect.sync(() => lastFailures.set(key, error.message))),
            Effect.onExit((exit) =>
              Effect.andThen(Effect.sync(() => transfers.delete(key)), Deferred.done(transfer.done, exit))
            ),
            Effect.forkIn(scope)
          )
          return Deferred.await(transfer.done)
        })
      )
    })

    const release = Effect.fn("HsmModel.release")(function*(path: string) {
      const located = yield* locate(path)
      const key = keyOf(located.stats)
      yield* withFileLock(
        key,
        Effect.gen(function*() {
          const failed = (why: string) => new HsmFileFailed({ path, message: `cannot release: ${why}` })
          const hostPath = hostPathOf(located)
          const stats = yield* statOf(hostPath, path)
          const file = { ...located, stats }
          if (!stats.isFile()) return yield* failed("not a regular file")
          const entry = yield* entryOf(context, file)
          if (entry?.released === true) return
          if (entry === undefined || !entry.archived) return yield* failed("it is not archived (Operation not permitted)")
          if (entry.noRelease) return yield* failed("never_release is set (Operation not permitted)")
          if (entry.lost) return yield* failed("lost_from_hsm: its archive copy is lost (Operation not permitted)")
          if (isDirty(entry, stats)) return yield* failed("it changed since it was archived (dirty; Operation not permitted)")
          if (transfers.has(key)) return yield* failed("a restore of it is running (Device or resource busy)")
          // Guarded first: an open from now on waits for the restore instead of reading the hole.
          yield* context.guard(file)
          yield* Effect.tryPromise({
            try: async () => {
              await Fs.truncate(hostPath, 0)
              await Fs.truncate(hostPath, Number(stats.size))
            },
            catch: (error) => failed(reasonOf(error))
          })
          yield* setTimes(hostPath, stats, path)
          const after = yield* statOf(hostPath, path)
          yield* saveEntry(context, file, after, { ...entry, released: true, archivedSize: after.size, archivedMtimeNs: after.mtimeNs, path: file.relative })
        })
      )
    })

    const setFlags = Effect.fn("HsmModel.setFlags")(function*(path: string, flags: SettableFlags) {
      const file = yield* locate(path)
      yield* withFileLock(
        keyOf(file.stats),
        Effect.gen(function*() {
          const entry = (yield* entryOf(context, file)) ?? blankEntry(file.relative)
          yield* saveEntry(context, file, file.stats, { ...entry, ...flags })
        })
      )
    })

    const stateOf = Effect.fn("HsmModel.stateOf")(function*(path: string) {
      const file = yield* locate(path)
      const key = keyOf(file.stats)
      const entry = yield* entryOf(context, file)
      const transfer = transfers.get(key)
      const action: HsmAction = transfer === undefined
        ? noAction
        : { kind: "RESTORE", progress: "running", bytesMoved: transfer.bytesMoved }
      return { state: hsmStateOf(entry, file.stats), action, failure: lastFailures.get(key) }
    })

    const findReleased = (directory: string): Stream.Stream<ReadonlyArray<ReleasedFile>, HsmFileFailed> =>
      Stream.unwrap(Effect.map(locate(directory), (top) =>
        Stream.paginate([top] as ReadonlyArray<SimulatedFile>, (pending) =>
          Effect.gen(function*() {
            const [current, ...rest] = pending
            if (current === undefined) return [[], Option.none()] as const
            const { subdirectories, released } = yield* releasedIn(current)
            const next = [...subdirectories, ...rest]
            const batches: Array<ReadonlyArray<ReleasedFile>> = []
            for (let i = 0; i < released.length; i += RELEASED_BATCH) batches.push(released.slice(i, i + RELEASED_BATCH))
            return [batches, next.length === 0 ? Option.none() : Option.some(next)] as const
          }))))

    /** One directory's released files (a stub has no data blocks: only those are looked up) and subdirectories. */
    const releasedIn = (directory: SimulatedFile) =>
      Effect.gen(function*() {
        const names = yield* Effect.tryPromise({
          try: () => Fs.readdir(directory.path),
          catch: (error) => new HsmFileFailed({ path: directory.path, message: `cannot list: ${reasonOf(error)}` })
        })
        const children = yield* Effect.forEach(
          names.sort(),
          (name) =>
            Effect.promise(() => Fs.lstat(Path.join(directory.path, name), { bigint: true }).catch(() => undefined)).pipe(
              Effect.flatMap((stats) => {
                if (stats === undefined) return Effect.succeed(undefined)
                const child = childOf(directory, name, stats)
                if (stats.isDirectory()) return Effect.succeed({ child, released: false })
                if (!stats.isFile() || stats.blocks !== 0n) return Effect.succeed(undefined)
                return Effect.map(entryOf(context, child), (entry) => ({ child, released: entry?.released === true }))
              })
            ),
          { concurrency: 16 }
        )
        const subdirectories: Array<SimulatedFile> = []
        const released: Array<ReleasedFile> = []
        for (const seen of children) {
          if (seen === undefined) continue
          if (seen.child.stats.isDirectory()) subdirectories.push(seen.child)
          else if (seen.released) released.push({ path: seen.child.path, size: seen.child.stats.size })
        }
        return { subdirectories, released }
      })

    /**
     * Guards the released files the gate does not guard yet, and unguards those no longer
     * released: after a restart, and for the files another process (`sim-hsm`) released,
     * imported or restored. Each entry names where its file was; the inode must still match.
     */
    const reconcileGuards = Effect.gen(function*() {
      for (const filesystem of yield* linkedFilesystems) {
        const states = paths.states(filesystem)
        // Every write renames an entry into the directory: an unchanged directory has unchanged
        // entries. One changed within the last second is read again: its mtime has the kernel
        // clock's granularity, so a second write in the same tick would not show.
        const changed = yield* Effect.promise(() => Fs.stat(states, { bigint: true }).catch(() => undefined))
        if (changed === undefined || statesSeen.get(states) === changed.mtimeNs) continue
        const settled = changed.mtimeNs < BigInt(yield* Clock.currentTimeMillis) * 1_000_000n - 1_000_000_000n
        if (settled) statesSeen.set(states, changed.mtimeNs)
        for (const { key, entry } of yield* listEntries(states)) {
          if (entry.released && !guarded.has(key)) {
            const path = Path.join(paths.filesystem(filesystem), entry.path)
            const stats = yield* Effect.promise(() => Fs.stat(path, { bigint: true }).catch(() => undefined))
            if (stats !== undefined && keyOf(stats) === key) {
              const current = yield* readEntry(states, stats)
              if (current?.released === true) yield* guardPath(key, path)
            }
          } else if (!entry.released && guarded.has(key)) {
            yield* unguard(key)
          }
        }
      }
    })

    const linkedFilesystems = Effect.promise(async () => {
      const hsmDirectory = Path.join(stateDir, "hsm")
      const names = (directory: string) => Fs.readdir(directory).catch(() => [] as Array<string>)
      const filesystems: Array<LustreFilesystem> = []
      for (const mgsAddress of await names(hsmDirectory)) {
        for (const fsName of await names(Path.join(hsmDirectory, mgsAddress))) filesystems.push({ mgsAddress, fsName })
      }
      return filesystems
    })

    const plugReadGate = (readGate: ReadGateHooks) =>
      Effect.gen(function*() {
        gate = readGate
        yield* reconcileGuards.pipe(Effect.repeat(GUARD_RESCAN), Effect.forkIn(scope))
      })

    const restore = (path: string) => Effect.flatten(startRestore(path))

    return HsmModel.of({
      paths,
      link,
      linkOf,
      importPrefixes: (filesystem, prefixes, importOptions) =>
        importPrefixes(context, filesystem, prefixes, importOptions ?? { conflict: "skip" }).pipe(
          Effect.withSpan("HsmModel.importPrefixes")
        ),
      archive: (path) => Effect.flatMap(locate(path), (file) => archive(context, file)).pipe(Effect.withSpan("HsmModel.archive")),
      release,
      startRestore,
      restore,
      setFlags,
      stateOf,
      findReleased,
      plugReadGate
    })
  })
