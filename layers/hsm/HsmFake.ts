import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { type FileHsmFailure, type FileHsmStatus, type HsmAction, type HsmState, Hsm, HsmUnavailable, type ReleasedFile } from "./Hsm.js"
import { noAction } from "./hsmActionOutput.js"
import { HS_ARCHIVED, HS_DIRTY, HS_EXISTS, HS_LOST, HS_RELEASED, hsmState } from "./hsmStateOutput.js"

/** A file as the fake holds it. */
export interface FakeHsmFile {
  readonly size: bigint
  readonly state: HsmState
  /** The action in progress; a running restore's bytes moved are worked out from the clock. */
  readonly action: HsmAction
  /** Why the last request on it failed. */
  readonly failure?: string
}

const fileWith = (size: bigint, flags: number, archiveId: number): FakeHsmFile => ({
  size,
  state: hsmState(flags, archiveId),
  action: noAction
})

/** A file whose data is only in the archive. */
export const releasedFile = (size: bigint, archiveId = 1): FakeHsmFile =>
  fileWith(size, HS_EXISTS | HS_ARCHIVED | HS_RELEASED, archiveId)
/** A file archived and resident. */
export const archivedFile = (size: bigint, archiveId = 1): FakeHsmFile => fileWith(size, HS_EXISTS | HS_ARCHIVED, archiveId)
/** A file never archived. */
export const newFile = (size: bigint): FakeHsmFile => fileWith(size, 0, 0)
/** A released file whose archive copy is lost: it cannot come back. */
export const lostFile = (size: bigint, archiveId = 1): FakeHsmFile =>
  fileWith(size, HS_EXISTS | HS_ARCHIVED | HS_RELEASED | HS_LOST, archiveId)

export type HsmOperation = "status" | "findReleased" | "restore" | "archive" | "release"

/** An operation the fake was asked for, with the number of paths it was given (1 for findReleased's directory). */
export interface HsmCall {
  readonly operation: HsmOperation
  readonly paths: number
}

/** A restore under way: when it started and how long it takes (undefined: it never ends). */
interface RestoreUnderWay {
  readonly startedAt: number
  readonly takesMillis: number | undefined
}

const lfsMissing = (operation: string, path: string) => `lfs ${operation}: get HSM state for '${path}' failed: No such file or directory`
const cannotStat = (path: string) => `Cannot stat ${path}: No such file or directory`
const restoreRunning: HsmAction = { kind: "RESTORE", progress: "running", bytesMoved: 0n }

/**
 * A deterministic Hsm for unit tests of the node's hydration logic, driven by the clock
 * (TestClock in tests). The filesystem is `files` (path -> size, HSM state, action). A restore
 * marks the file RESTORE running and, `restoreTakes` later, makes it resident - unless the path
 * is in `failingRestores` (the action goes back to NOOP, the file stays released and its status
 * carries the error in `failure`) or in `hangingRestores` (RESTORE running forever). A lost file
 * fails a restore at once. `restoring` counts the files in RESTORE now and `maxRestoring` the most
 * at one time (to check a concurrency bound); `calls` lists every operation with its number of
 * paths, in order (to check batching); `findReleased` answers in batches of `findBatchSize`;
 * operations in `hanging` never answer and those in `unavailable` fail with HsmUnavailable.
 * Archive and release act at once. The restores' fibers belong to the layer's scope.
 */
export class HsmFake extends Context.Service<HsmFake, {
  readonly files: Ref.Ref<ReadonlyMap<string, FakeHsmFile>>
  readonly restoreTakes: Ref.Ref<Duration.Duration>
  readonly failingRestores: Ref.Ref<ReadonlyMap<string, string>>
  readonly hangingRestores: Ref.Ref<ReadonlySet<string>>
  readonly calls: Ref.Ref<ReadonlyArray<HsmCall>>
  readonly restoring: Ref.Ref<number>
  readonly maxRestoring: Ref.Ref<number>
  readonly findBatchSize: Ref.Ref<number>
  readonly hanging: Ref.Ref<ReadonlySet<HsmOperation>>
  readonly unavailable: Ref.Ref<ReadonlyMap<HsmOperation, string>>
}>()("azurelustre/hsm/HsmFake") {
  static readonly layer = (
    options: {
      readonly files?: Iterable<readonly [string, FakeHsmFile]>
      readonly restoreTakes?: Duration.Input
      readonly failingRestores?: Iterable<readonly [string, string]>
      readonly hangingRestores?: Iterable<string>
      readonly findBatchSize?: number
      readonly hanging?: Iterable<HsmOperation>
    } = {}
  ): Layer.Layer<Hsm | HsmFake> =>
    Layer.effect(
      Hsm,
      Effect.gen(function*() {
        const fake = yield* HsmFake
        const scope = yield* Effect.scope
        const underWay = yield* Ref.make<ReadonlyMap<string, RestoreUnderWay>>(new Map())

        /** Records the call, then hangs, fails or answers as the test scripted. */
        const operation = <A>(name: HsmOperation, paths: number, answer: Effect.Effect<A>) =>
          Effect.gen(function*() {
            yield* Ref.update(fake.calls, (calls) => [...calls, { operation: name, paths }])
            if ((yield* Ref.get(fake.hanging)).has(name)) return yield* Effect.never
            const message = (yield* Ref.get(fake.unavailable)).get(name)
            if (message !== undefined) return yield* new HsmUnavailable({ operation: `${name} (fake)`, message })
            return yield* answer
          })

        const updateFile = (path: string, change: (file: FakeHsmFile) => FakeHsmFile) =>
          Ref.update(fake.files, (files) => {
            const file = files.get(path)
            return file === undefined ? files : new Map(files).set(path, change(file))
          })

        /** The restore's end: resident, or (failing) still released with the error. */
        const finishRestore = (path: string) =>
          Effect.gen(function*() {
            const failure = (yield* Ref.get(fake.failingRestores)).get(path)
            yield* updateFile(path, (file) =>
              failure !== undefined
                ? { size: file.size, state: file.state, action: noAction, failure }
                : { size: file.size, state: hsmState(file.state.flags & ~HS_RELEASED, file.state.archiveId), action: noAction })
          })

        const startRestore = (path: string) =>
          Effect.gen(function*() {
            const hangs = (yield* Ref.get(fake.hangingRestores)).has(path)
            const takes = yield* Ref.get(fake.restoreTakes)
            const startedAt = yield* Clock.currentTimeMillis
            yield* Ref.update(underWay, (all) => new Map(all).set(path, { startedAt, takesMillis: hangs ? undefined : Duration.toMillis(takes) }))
            const now = yield* Ref.updateAndGet(fake.restoring, (count) => count + 1)
            yield* Ref.update(fake.maxRestoring, (most) => Math.max(most, now))
            const run = hangs ? Effect.never : Effect.sleep(takes).pipe(Effect.andThen(finishRestore(path)))
            yield* run.pipe(
              Effect.ensuring(
                Ref.update(fake.restoring, (count) => count - 1).pipe(
                  Effect.andThen(Ref.update(underWay, (all) => {
                    const left = new Map(all)
                    left.delete(path)
                    return left
                  }))
                )
              ),
              // Started at once, so that closing the scope right after still runs the ensuring.
              Effect.forkIn(scope, { startImmediately: true })
            )
          })

        /** Asks for one file's data back: a failure, or whether a restore must start. */
        const requestRestore = (path: string) =>
          Ref.modify(fake.files, (files): readonly [FileHsmFailure | "start" | "nothing", ReadonlyMap<string, FakeHsmFile>] => {
            const file = files.get(path)
            if (file === undefined) return [{ path, error: cannotStat(path) }, files]
            if (file.state.lost) return [{ path, error: "lost_from_hsm: the archive copy is lost" }, files]
            // Lustre asks for no action on a resident file, and none twice for one file.
            if (!file.state.released || file.action.kind === "RESTORE") return ["nothing", files]
            return ["start", new Map(files).set(path, { size: file.size, state: file.state, action: restoreRunning })]
          })

        const restore = (paths: ReadonlyArray<string>) =>
          operation(
            "restore",
            paths.length,
            Effect.gen(function*() {
              const failures: Array<FileHsmFailure> = []
              for (const path of paths) {
                const outcome = yield* requestRestore(path)
                if (outcome === "start") yield* startRestore(path)
                else if (outcome !== "nothing") failures.push(outcome)
              }
              return failures
            })
          )

        /** Applies `change` to each file, or the failure it answers. */
        const actOnEach = (
          paths: ReadonlyArray<string>,
          change: (file: FakeHsmFile, path: string) => FakeHsmFile | string
        ) =>
          Ref.modify(fake.files, (files): readonly [ReadonlyArray<FileHsmFailure>, ReadonlyMap<string, FakeHsmFile>] => {
            const next = new Map(files)
            const failures: Array<FileHsmFailure> = []
            for (const path of paths) {
              const file = next.get(path)
              const changed = file === undefined ? cannotStat(path) : change(file, path)
              if (typeof changed === "string") failures.push({ path, error: changed })
              else next.set(path, changed)
            }
            return [failures, next]
          })

        const archive = (paths: ReadonlyArray<string>) =>
          operation(
            "archive",
            paths.length,
            actOnEach(paths, (file) =>
              file.state.noArchive
                ? "never_archive is set (Operation not permitted)"
                : {
                  size: file.size,
                  action: file.action,
                  state: hsmState((file.state.flags | HS_EXISTS | HS_ARCHIVED) & ~HS_DIRTY, file.state.archiveId || 1)
                })
          )

        const release = (paths: ReadonlyArray<string>) =>
          operation(
            "release",
            paths.length,
            actOnEach(paths, (file) =>
              !file.state.archived
                ? "it is not archived (Operation not permitted)"
                : file.state.noRelease
                ? "never_release is set (Operation not permitted)"
                : file.state.dirty
                ? "it changed since it was archived (dirty; Operation not permitted)"
                : file.action.kind === "RESTORE"
                ? "a restore is under way (Device or resource busy)"
                : { size: file.size, action: file.action, state: hsmState(file.state.flags | HS_RELEASED, file.state.archiveId) })
          )

        /** A running restore's bytes moved, in proportion to the time it has run (none for one that hangs). */
        const withProgress = (path: string, file: FakeHsmFile, now: number, restores: ReadonlyMap<string, RestoreUnderWay>): HsmAction => {
          const restore = restores.get(path)
          if (file.action.kind !== "RESTORE" || restore === undefined) return file.action
          const { takesMillis } = restore
          const moved = takesMillis === undefined
            ? 0n
            : takesMillis <= 0
            ? file.size
            : (file.size * BigInt(Math.min(now - restore.startedAt, takesMillis))) / BigInt(takesMillis)
          return { ...file.action, bytesMoved: moved }
        }

        const status = (paths: ReadonlyArray<string>) =>
          operation(
            "status",
            paths.length,
            Effect.gen(function*() {
              const files = yield* Ref.get(fake.files)
              const restores = yield* Ref.get(underWay)
              const now = yield* Clock.currentTimeMillis
              return paths.map((path): FileHsmStatus | FileHsmFailure => {
                const file = files.get(path)
                if (file === undefined) return { path, error: lfsMissing("hsm_state", path) }
                const answer = { path, state: file.state, action: withProgress(path, file, now, restores) }
                return file.failure === undefined ? answer : { ...answer, failure: file.failure }
              })
            })
          )

        const findReleased = (directory: string): Stream.Stream<ReadonlyArray<ReleasedFile>, HsmUnavailable> =>
          Stream.unwrap(operation(
            "findReleased",
            1,
            Effect.gen(function*() {
              const prefix = directory.endsWith("/") ? directory : `${directory}/`
              const size = Math.max(1, yield* Ref.get(fake.findBatchSize))
              const released = [...(yield* Ref.get(fake.files))]
                .filter(([path, file]) => path.startsWith(prefix) && file.state.released)
                .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                .map(([path, file]): ReleasedFile => ({ path, size: file.size }))
              const batches: Array<ReadonlyArray<ReleasedFile>> = []
              for (let start = 0; start < released.length; start += size) batches.push(released.slice(start, start + size))
              return Stream.fromIterable(batches)
            })
          ))

        return Hsm.of({
          status: Effect.fn("HsmFake.status")(status),
          findReleased,
          restore: Effect.fn("HsmFake.restore")(restore),
          archive: Effect.fn("HsmFake.archive")(archive),
          release: Effect.fn("HsmFake.release")(release)
        })
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      HsmFake,
      Effect.gen(function*() {
        return HsmFake.of({
          files: yield* Ref.make<ReadonlyMap<string, FakeHsmFile>>(new Map(options.files)),
          restoreTakes: yield* Ref.make(Duration.fromInputUnsafe(options.restoreTakes ?? "10 seconds")),
          failingRestores: yield* Ref.make<ReadonlyMap<string, string>>(new Map(options.failingRestores)),
          hangingRestores: yield* Ref.make<ReadonlySet<string>>(new Set(options.hangingRestores)),
          calls: yield* Ref.make<ReadonlyArray<HsmCall>>([]),
          restoring: yield* Ref.make(0),
          maxRestoring: yield* Ref.make(0),
          findBatchSize: yield* Ref.make(options.findBatchSize ?? 256),
          hanging: yield* Ref.make<ReadonlySet<HsmOperation>>(new Set(options.hanging)),
          unavailable: yield* Ref.make<ReadonlyMap<HsmOperation, string>>(new Map())
        })
      })
    )))
}
