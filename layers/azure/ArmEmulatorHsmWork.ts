/**
 * The ARM emulator's jobs acting on files: the HSM simulation's model (HsmModel) does the work,
 * on the same directories the node's HSM layer and `sim-hsm` use. A cluster's filesystem is
 * `<its MGS address>@tcp:/lustrefs`; its container is the directory of hsm.settings.container's
 * storage account and container (HsmPaths).
 *
 * What is simulated, and how far:
 * - every piece of work first links the filesystem to its container (model.link), as AMLFS does
 *   at creation;
 * - an import walks the container under the prefixes and makes released stubs (model.importPrefixes);
 *   its counts are the model's. Before it, the blobs whose path exists in the filesystem are
 *   looked at: a file imported from this container and not changed since is preexisting; anything
 *   else (a directory, a file written in the filesystem, a changed one) is a conflict.
 *   conflictResolutionMode Fail stops the job at once when there is one (nothing imported);
 *   Skip, OverwriteIfDirty and OverwriteAlways all skip conflicting paths (the model has no
 *   overwrite), and the job ends CompletedPartial when it skipped any;
 * - an archive copies new and changed files below the path to the container (model.archive); a
 *   path outside the filesystem, or absent, fails the archive;
 * - cancelling interrupts the work between files: what was done stays done.
 * Not simulated: symlinks, per-second rates, deletions (auto-import's enableDeletions), the
 * logging container, blob metadata of flat-namespace accounts.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { HsmModel } from "../hsm/simulation/HsmModel.js"
import type { LustreFilesystem } from "../lustre/LustreShell.js"
import { blobContainerOf } from "./AmlfsHsm.js"
import type { HsmWorker, WorkTarget } from "./ArmEmulatorHsmState.js"
import type { ArchiveWork, ImportWalk } from "./hsmJobTimeline.js"

/** Every AMLFS cluster's Lustre fsname. */
const FS_NAME = "lustrefs"
const CONFLICTS_NAMED = 5

type Run = <A>(effect: Effect.Effect<A>) => Fiber.Fiber<A, never>

/** The work could not be done; the message goes to the job's status. */
class WorkFailed extends Schema.TaggedError<WorkFailed>()("WorkFailed", { message: Schema.String }) {}

const filesystemOf = (target: WorkTarget): LustreFilesystem => ({ mgsAddress: target.mgsAddress, fsName: FS_NAME })

/** `/data/` and `data/` name the same blobs, as in the model. */
const normalizedPrefixes = (prefixes: ReadonlyArray<string>) => prefixes.map((prefix) => prefix.replace(/^\/+/, ""))

/** The blob names (paths below the container) under the prefixes, leaving out blobs an archive is still writing. */
const blobNames = async (container: string, prefixes: ReadonlyArray<string>): Promise<ReadonlyArray<string>> => {
  const names: Array<string> = []
  const walk = async (directory: string): Promise<void> => {
    const entries: Array<NodeFs.Dirent> = await Fs.readdir(Path.join(container, directory), { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      const name = directory === "" ? entry.name : `${directory}/${entry.name}`
      if (entry.isDirectory()) await walk(name)
      else if (entry.isFile() && !entry.name.endsWith(".archiving") && prefixes.some((prefix) => name.startsWith(prefix))) names.push(name)
    }
  }
  await walk("")
  return names.sort()
}

const reasonOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

export const makeHsmWorker = (model: HsmModel["Service"], run: Run, clock: () => number): HsmWorker => {
  const ensureLinked = (target: WorkTarget) =>
    Effect.gen(function*() {
      const container = blobContainerOf(target.settings.container)
      if (container === undefined) return yield* Effect.fail(new WorkFailed({ message: `'${target.settings.container}' is not a blob container ARM id` }))
      const filesystem = filesystemOf(target)
      const linked = yield* model.linkOf(filesystem)
      if (linked?.storageAccount !== container.storageAccount || linked.container !== container.container) {
        yield* model.link(filesystem, { storageAccount: container.storageAccount, container: container.container }).pipe(
          Effect.mapError((failed) => new WorkFailed({ message: failed.message }))
        )
      }
      return { filesystem, container: model.paths.container(container), root: model.paths.filesystem(filesystem) }
    })

  /** The blobs whose path is taken in the filesystem by something that is not their unchanged import. */
  const conflictsOf = (root: string, container: string, prefixes: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const names = yield* Effect.promise(() => blobNames(container, prefixes))
      const conflicts: Array<string> = []
      for (const name of names) {
        const target = Path.join(root, name)
        const stats = yield* Effect.promise(() => Fs.lstat(target).catch(() => undefined))
        if (stats === undefined) continue
        if (!stats.isFile()) {
          conflicts.push(name)
          continue
        }
        const clean = yield* model.stateOf(target).pipe(
          Effect.map(({ state }) => state.archived && !state.dirty && !state.lost),
          Effect.orElseSucceed(() => false)
        )
        if (!clean) conflicts.push(name)
      }
      return conflicts
    })

  const walkOf = (
    partial: Omit<ImportWalk, "doneAt" | "firstErrors" | "failure"> & { readonly firstErrors?: ReadonlyArray<string>; readonly failure?: string }
  ): ImportWalk => ({ firstErrors: [], failure: undefined, ...partial, doneAt: clock() })
  const noWalk = (failure: string | undefined) =>
    walkOf({ blobsWalked: 0, importedFiles: 0, importedDirectories: 0, preexistingFiles: 0, errors: 0, conflicts: 0, ...(failure === undefined ? {} : { failure }) })

  /** Runs `work`, then tells `done` its answer, or what stopped it; the cancel interrupts it. */
  const start = <A>(work: Effect.Effect<A, WorkFailed>, answerOf: (failure: string | undefined) => A, done: (answer: A) => void) => {
    const fiber = run(
      work.pipe(
        Effect.catch((failed) => Effect.succeed(answerOf(failed.message))),
        Effect.onExit((exit) =>
          Effect.sync(() =>
            done(
              Exit.isSuccess(exit)
                ? exit.value
                : answerOf(Cause.hasInterruptsOnly(exit.cause) ? undefined : `the emulator's work failed: ${Cause.pretty(exit.cause)}`)
            )
          )
        )
      )
    )
    return () => fiber.interruptUnsafe()
  }

  return {
    importPrefixes: (target, request, done) =>
      start(
        Effect.gen(function*() {
          const { filesystem, container, root } = yield* ensureLinked(target)
          const prefixes = normalizedPrefixes(request.prefixes)
          const conflicts = yield* conflictsOf(root, container, prefixes)
          if (request.conflictResolutionMode === "Fail" && conflicts.length > 0) {
            return walkOf({
              blobsWalked: 0,
              importedFiles: 0,
              importedDirectories: 0,
              preexistingFiles: 0,
              errors: 0,
              conflicts: conflicts.length,
              failure: `Import job stopped at a conflict (conflictResolutionMode Fail): ${conflicts.slice(0, CONFLICTS_NAMED).join(", ")} ` +
                "exist in the file system and are not unchanged imports of this container"
            })
          }
          const counts = yield* model.importPrefixes(filesystem, request.prefixes, { conflict: "skip" }).pipe(
            Effect.mapError((failed) => new WorkFailed({ message: `${failed.path}: ${failed.message}` }))
          )
          return walkOf({
            blobsWalked: counts.blobsWalked,
            importedFiles: counts.files,
            importedDirectories: counts.directories,
            preexistingFiles: Math.max(0, counts.preexistingFiles - conflicts.length),
            errors: counts.errors,
            conflicts: conflicts.length,
            firstErrors: counts.firstErrors
          })
        }),
        noWalk,
        done
      ),

    archive: (target, filesystemPath, done) => {
      const answerOf = (failure: string | undefined): ArchiveWork => ({
        doneAt: clock(),
        exported: 0,
        failed: 0,
        firstFailures: [],
        failure
      })
      return start(
        Effect.gen(function*() {
          const { root } = yield* ensureLinked(target)
          yield* Effect.tryPromise({ try: () => Fs.mkdir(root, { recursive: true }), catch: (error) => new WorkFailed({ message: reasonOf(error) }) })
          const path = Path.join(root, filesystemPath)
          if (path !== root && !path.startsWith(`${root}/`)) {
            return yield* Effect.fail(new WorkFailed({ message: `The path '${filesystemPath}' is not in the file system.` }))
          }
          const counts = yield* model.archive(path).pipe(Effect.mapError((failed) => new WorkFailed({ message: `${filesystemPath}: ${failed.message}` })))
          const work: ArchiveWork = {
            doneAt: clock(),
            exported: counts.exported,
            exportedBytes: Number(counts.exportedBytes),
            failed: counts.failed,
            firstFailures: counts.failures.map((failure) => `${failure.path}: ${failure.error}`),
            failure: undefined
          }
          return work
        }),
        answerOf,
        done
      )
    }
  }
}
