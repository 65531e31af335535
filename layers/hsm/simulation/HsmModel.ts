import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LustreFilesystem } from "../../lustre/LustreShell.js"
import { SimulationFaults } from "../../simulation/SimulationFaults.js"
import type { HsmAction, HsmState, ReleasedFile } from "../Hsm.js"
import { findReleased } from "./findReleased.js"
import { type ArchiveCounts, archive } from "./HsmArchive.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import { type ImportConflict, type ImportCounts, importPrefixes } from "./HsmImport.js"
import { type BlobContainer, hsmPaths, type HsmPaths } from "./HsmPaths.js"
import { release } from "./HsmRelease.js"
import { makeRestores } from "./HsmRestore.js"
import { hsmStateOf, keyOf } from "./HsmStateTable.js"
import { locateFile } from "./locateFile.js"
import { blankEntry, entryOf, hostPathOf, type HsmLink, type ModelContext, saveEntry } from "./modelContext.js"
import { makeReadGateGuards, type ReadGateHooks } from "./readGateGuards.js"

export type { ArchiveCounts } from "./HsmArchive.js"
export type { ImportConflict, ImportCounts } from "./HsmImport.js"
export type { HsmLink } from "./modelContext.js"
export type { ReadGateHooks } from "./readGateGuards.js"

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

/**
 * The simulated blob link of AMLFS, one model for the node's HSM layer (HsmSimulation), the ARM
 * emulator's import and archive jobs and the `sim-hsm` command, acting on real files under the
 * state directory (HsmPaths: where everything is):
 *
 * - a blob container is a directory; a blob is a file, its name the path below, its mode, owner
 *   and mtime the blob's POSIX headers;
 * - a filesystem links to at most one container (`link`, a side file), archive id 1;
 * - each file's HSM state is an entry of a side table keyed by inode (HsmStateTable);
 * - an import makes released stubs of blobs: namespace only, no data (HsmImport);
 * - an archive copies new and changed files to their blobs, nothing else (HsmArchive);
 * - a release drops an archived, unchanged file's data (HsmRelease);
 * - a restore copies the blob back after `restoreDelay`, joined by every other restore of the
 *   file meanwhile; faults hsm-restore-fail, hsm-restore-hang, hsm-archive-lost (HsmRestore);
 * - a read gate, once plugged in, holds other processes' reads of released files until their
 *   restore (readGateGuards, ReadGate).
 *
 * Paths may be reached any way (a bind mount, `/proc/<pid>/fd/<n>/...`): files are found by
 * inode (locateFile). State changes of one file are serialized in this process; between
 * processes, each write of the table is atomic and the last one wins.
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
    const scope = yield* Effect.scope
    const guards = makeReadGateGuards(paths, stateDir, scope)
    const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()

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

    const linkOf = (filesystem: LustreFilesystem) =>
      Effect.promise(() => Fs.readFile(paths.link(filesystem), "utf8").catch(() => undefined)).pipe(
        Effect.map((text) => (text === undefined ? undefined : Option.getOrUndefined(decodeLink(text))))
      )

    const context: ModelContext = {
      paths,
      linkOf,
      withFileLock,
      guard: (file) => guards.guard(keyOf(file.stats), hostPathOf(file)),
      unguard: guards.unguard
    }
    const restores = makeRestores(context, {
      restoreDelay: Duration.fromInputUnsafe(options.restoreDelay),
      faults: yield* SimulationFaults,
      scope
    })
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
      // The action before the entry: a restore that ends between the two reads then shows as still
      // running (read again, resident), never as ended with the file still released (a failure).
      const action = restores.actionOf(key)
      const failure = restores.failureOf(key)
      const state = hsmStateOf(yield* entryOf(context, file), file.stats)
      return { state, action, failure: state.released ? failure : undefined }
    })

    const startRestore = Effect.fn("HsmModel.startRestore")(function*(path: string) {
      return yield* restores.start(yield* locate(path))
    })

    return HsmModel.of({
      paths,
      link,
      linkOf,
      importPrefixes: Effect.fn("HsmModel.importPrefixes")(function*(filesystem, prefixes, importOptions) {
        return yield* importPrefixes(context, filesystem, prefixes, importOptions ?? { conflict: "skip" })
      }),
      archive: Effect.fn("HsmModel.archive")(function*(path) {
        return yield* archive(context, yield* locate(path))
      }),
      release: Effect.fn("HsmModel.release")(function*(path) {
        return yield* release(context, yield* locate(path), restores.isRunning)
      }),
      startRestore,
      restore: (path) => Effect.flatten(startRestore(path)),
      setFlags,
      stateOf,
      findReleased: (directory) => Stream.unwrap(Effect.map(locate(directory), (top) => findReleased(context, top))),
      plugReadGate: guards.plug
    })
  })
