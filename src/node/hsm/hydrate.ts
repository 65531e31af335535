import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type FileHsmStatus, Hsm, type ReleasedFile } from "../../../layers/hsm/Hsm.js"
import { bounded } from "../../domain/BoundedText.js"
import { count, countHsmOperation, hsmRestoredBytes, hsmRestoreDuration, hsmRestores, observeMillis } from "../../observability/metrics.js"
import { type BatchedHsm, makeBatchedHsm } from "./batchedHsm.js"

/** A directory to hydrate: where it is open (absolute) and how to name it within the volume. */
export interface HydrationDirectory {
  readonly path: string
  readonly shown: string
}

/** A file that could not be brought back, named within the volume. */
export interface UnrestoredFile {
  readonly path: string
  readonly error: string
}

export interface HydrationProgress {
  /** Released files found so far. */
  readonly found: number
  /** Files whose restore is being asked for or waited on now. */
  readonly restoring: number
  readonly restored: number
  readonly restoredBytes: bigint
  readonly failed: number
  /** The first few failures, for messages and Events. */
  readonly firstFailures: ReadonlyArray<UnrestoredFile>
  /** Every directory has been walked. */
  readonly scanned: boolean
}

export const noProgress: HydrationProgress = {
  found: 0,
  restoring: 0,
  restored: 0,
  restoredBytes: 0n,
  failed: 0,
  firstFailures: [],
  scanned: false
}

const FAILURES_KEPT = 5

export interface HydrationSettings {
  /** Files restored at once: restores asked for and not yet back. */
  readonly maxInFlight: number
  /** One attempt at one file: asking, then waiting for its data. */
  readonly restoreTimeout: Duration.Duration
  /** How often a file being restored is looked at (its looks are batched with other files'). */
  readonly polling: Schedule.Schedule<unknown>
  /** When a file's restore failed, how often it is asked for again. */
  readonly retry: Schedule.Schedule<unknown, RestoreFailed>
}

/** How often a restoring file's state is read; many files' reads share one command. */
export const restorePolling = Schedule.spaced("1 second")

/** A failed restore is asked for twice more, 5 s then 10 s later; a lost archive copy is not. */
export const restoreRetry: Schedule.Schedule<unknown, RestoreFailed> = Schedule.exponential("5 seconds").pipe(
  Schedule.upTo({ times: 2 })
)

export const defaultHydrationSettings: HydrationSettings = {
  maxInFlight: 512,
  restoreTimeout: Duration.minutes(30),
  polling: restorePolling,
  retry: restoreRetry
}

/** One attempt to restore a file failed; `permanent` when asking again cannot help. */
export class RestoreFailed extends Schema.TaggedError<RestoreFailed>()("RestoreFailed", {
  path: Schema.String,
  error: Schema.String,
  permanent: Schema.Boolean
}) {}

/** Some files could not be restored, or the released files could not be listed. */
export class HydrationFailed extends Schema.TaggedError<HydrationFailed>()("HydrationFailed", {
  message: Schema.String
}) {}

const restoreInProgress = (status: FileHsmStatus) =>
  status.action.kind === "RESTORE" && status.action.progress !== "done"

const within = (directory: HydrationDirectory, path: string, root: string) => {
  const relative = path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path
  return directory.shown === "" ? relative : `${directory.shown}/${relative}`
}

/**
 * One attempt: ask for the file's data (unless a restore of it is already under way, e.g. asked
 * for by a publish the kubelet cut) and wait until it is back or the restore has ended without it.
 */
const restoreOnce = (hsm: BatchedHsm, file: ReleasedFile, shown: string, settings: HydrationSettings) =>
  Effect.gen(function*() {
    const before = yield* hsm.statusOf(file.path)
    if (!before.state.released) return
    if (before.state.lost) {
      return yield* new RestoreFailed({ path: shown, error: "lost_from_hsm: the archive copy is lost", permanent: true })
    }
    if (!restoreInProgress(before)) {
      yield* hsm.restore(file.path)
      yield* count(hsmRestores, { outcome: "started" })
    }
    const after = yield* hsm.statusOf(file.path).pipe(
      Effect.repeat({ schedule: settings.polling, until: (status) => !status.state.released || !restoreInProgress(status) })
    )
    if (after.state.released) {
      return yield* new RestoreFailed({
        path: shown,
        error: after.failure ?? "the restore ended and the file is still released (the copytool failed it; see `lfs hsm_action`)",
        permanent: after.state.lost
      })
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: settings.restoreTimeout,
      orElse: () =>
        Effect.fail(
          new RestoreFailed({
            path: shown,
            error: `its data was not back within ${Duration.format(settings.restoreTimeout)}`,
            permanent: false
          })
        )
    }),
    Effect.catchTags({
      FileHsmRefused: (refused) => Effect.fail(new RestoreFailed({ path: shown, error: refused.error, permanent: false })),
      HsmUnavailable: (unavailable) => Effect.fail(new RestoreFailed({ path: shown, error: unavailable.message, permanent: false }))
    })
  )

/**
 * Brings back every released file under `directories`, at most `maxInFlight` at a time, each in
 * a fiber of its own whose requests are batched with the others'. The walk runs ahead of the
 * restores only as far as the bound lets it. A file that cannot be restored is retried on
 * `settings.retry`, then counted as failed while the others go on; the hydration fails at the end
 * when any did, naming the first few.
 */
export const hydrateDirectories = (
  directories: ReadonlyArray<HydrationDirectory>,
  settings: HydrationSettings,
  progress: Ref.Ref<HydrationProgress>
) =>
  Effect.gen(function*() {
    const hsm = yield* Hsm
    const batched = yield* makeBatchedHsm
    const update = (change: (now: HydrationProgress) => HydrationProgress) => Ref.update(progress, change)

    const restoreFile = (file: ReleasedFile, shown: string) =>
      Effect.gen(function*() {
        yield* update((now) => ({ ...now, restoring: now.restoring + 1 }))
        const started = yield* Clock.currentTimeMillis
        const outcome = yield* restoreOnce(batched, file, shown, settings).pipe(
          Effect.retry({ schedule: settings.retry, while: (failed) => !failed.permanent }),
          Effect.result
        )
        const millis = (yield* Clock.currentTimeMillis) - started
        if (outcome._tag === "Success") {
          yield* count(hsmRestores, { outcome: "completed" })
          yield* observeMillis(hsmRestoreDuration, { outcome: "completed" }, millis)
          yield* Metric.update(hsmRestoredBytes, Number(file.size))
          yield* update((now) => ({ ...now, restored: now.restored + 1, restoredBytes: now.restoredBytes + file.size }))
        } else {
          const { path, error } = outcome.failure
          yield* count(hsmRestores, { outcome: "failed" })
          yield* observeMillis(hsmRestoreDuration, { outcome: "failed" }, millis)
          yield* update((now) => ({
            ...now,
            failed: now.failed + 1,
            firstFailures: now.firstFailures.length < FAILURES_KEPT ? [...now.firstFailures, { path, error }] : now.firstFailures
          }))
        }
      }).pipe(Effect.ensuring(update((now) => ({ ...now, restoring: now.restoring - 1 }))))

    yield* Stream.fromIterable(directories).pipe(
      Stream.flatMap((directory) =>
        hsm.findReleased(directory.path).pipe(
          Stream.tap((batch) => countHsmOperation("find_released", batch.length)),
          Stream.flatMap((batch) => Stream.fromIterable(batch)),
          Stream.map((file) => ({ file, shown: within(directory, file.path, directory.path) }))
        )
      ),
      Stream.concat(Stream.fromEffect(update((now) => ({ ...now, scanned: true }))).pipe(Stream.drain)),
      Stream.tap(() => update((now) => ({ ...now, found: now.found + 1 }))),
      Stream.mapEffect(({ file, shown }) => restoreFile(file, shown), { concurrency: settings.maxInFlight, unordered: true }),
      Stream.runDrain,
      Effect.mapError((unavailable) => new HydrationFailed({ message: `cannot list the released files: ${unavailable.message}` }))
    )
    const done = yield* Ref.get(progress)
    if (done.failed > 0) {
      // File names are the volume's users' to choose: each is cut, so the message stays small.
      const named = done.firstFailures.map((failure) => `${bounded(failure.path)}: ${bounded(failure.error)}`).join("; ")
      return yield* new HydrationFailed({
        message: `${done.failed} of ${done.found} released file(s) could not be restored (${named}${done.failed > done.firstFailures.length ? "; ..." : ""})`
      })
    }
    return done
  })
