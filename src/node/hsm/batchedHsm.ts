import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Request from "effect/Request"
import * as RequestResolver from "effect/RequestResolver"
import * as Schema from "effect/Schema"
import { countHsmOperation } from "../../observability/metrics.js"
import { type FileHsmFailure, type FileHsmStatus, Hsm, type HsmUnavailable } from "../../../layers/hsm/Hsm.js"

/** The HSM tool refused one file: it cannot be read or asked for (lfs's words in `error`). */
export class FileHsmRefused extends Schema.TaggedError<FileHsmRefused>()("FileHsmRefused", {
  path: Schema.String,
  error: Schema.String
}) {}

type FileError = FileHsmRefused | HsmUnavailable

interface StatusOf extends Request.Request<FileHsmStatus, FileError> {
  readonly _tag: "StatusOf"
  readonly path: string
}
const StatusOf = Request.tagged<StatusOf>("StatusOf")

interface RestoreOf extends Request.Request<void, FileError> {
  readonly _tag: "RestoreOf"
  readonly path: string
}
const RestoreOf = Request.tagged<RestoreOf>("RestoreOf")

/** How long a per-file request waits for others to share its command. */
const BATCH_WINDOW = "20 millis"

/**
 * One call of the HSM layer for a batch (it cuts it into commands of its own size), answered by
 * path: a refusal for the files it names, its unavailability for all.
 */
const exitsByPath = <A>(
  paths: ReadonlyArray<string>,
  call: (paths: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, A | FileHsmFailure>, HsmUnavailable>
): Effect.Effect<(path: string) => Exit.Exit<A, FileError>> =>
  call([...new Set(paths)]).pipe(
    Effect.match({
      onFailure: (unavailable) => () => Exit.fail(unavailable),
      onSuccess: (answers) => (path) => {
        const answer = answers.get(path)
        if (answer === undefined && !answers.has(path)) {
          return Exit.fail(new FileHsmRefused({ path, error: "the HSM tool gave no answer for this file" }))
        }
        return isFileFailure(answer) ? Exit.fail(new FileHsmRefused(answer)) : Exit.succeed(answer as A)
      }
    })
  )

const isFileFailure = (answer: unknown): answer is FileHsmFailure =>
  typeof answer === "object" && answer !== null && "error" in answer

/**
 * Per-file HSM requests that many fibers make at once, each written for one file, and sent as
 * batches: a hydration restores each file in a fiber of its own, and the files' status polls and
 * restore requests become one `lfs` command per few hundred files.
 */
export const makeBatchedHsm = Effect.gen(function*() {
  const hsm = yield* Hsm
  const statusResolver = RequestResolver.make<StatusOf>((entries) =>
    exitsByPath(
      entries.map((entry) => entry.request.path),
      (paths) =>
        countHsmOperation("status", paths.length).pipe(
          Effect.andThen(hsm.status(paths)),
          Effect.map((answers) => new Map(answers.map((answer) => [answer.path, answer] as const)))
        )
    ).pipe(Effect.map((exitOf) => entries.forEach((entry) => entry.completeUnsafe(exitOf(entry.request.path)))))
  ).pipe(RequestResolver.setDelay(BATCH_WINDOW))
  const restoreResolver = RequestResolver.make<RestoreOf>((entries) =>
    exitsByPath(
      entries.map((entry) => entry.request.path),
      (paths) =>
        Effect.map(Effect.andThen(countHsmOperation("restore", paths.length), hsm.restore(paths)), (refused) => {
          const answers = new Map<string, undefined | FileHsmFailure>(paths.map((path) => [path, undefined]))
          for (const failure of refused) answers.set(failure.path, failure)
          return answers
        })
    ).pipe(Effect.map((exitOf) => entries.forEach((entry) => entry.completeUnsafe(exitOf(entry.request.path)))))
  ).pipe(RequestResolver.setDelay(BATCH_WINDOW))
  return {
    statusOf: (path: string): Effect.Effect<FileHsmStatus, FileError> => Effect.request(StatusOf({ path }), statusResolver),
    restore: (path: string): Effect.Effect<void, FileError> => Effect.request(RestoreOf({ path }), restoreResolver)
  }
})

export type BatchedHsm = Effect.Success<typeof makeBatchedHsm>
