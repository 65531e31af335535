import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { type FileHsmFailure, type FileHsmStatus, Hsm, type ReleasedFile } from "./Hsm.js"
import { type ParentPins, pinParents } from "./parentPins.js"

/** Paths pinned at once: each holds its directory open until its command has run. */
const PINNED_AT_ONCE = 256

/** lfs's words about a path it was given, about the path the caller gave. */
const renamed = (error: string, lfsPath: string, path: string) => error.split(lfsPath).join(path)

/** What the layer below is given for a chunk of paths: their pins, and the lfs paths of the accepted ones. */
interface Pinned {
  readonly paths: ReadonlyArray<string>
  readonly pins: ParentPins
  readonly lfsPaths: ReadonlyArray<string>
}

/** The distinct `paths` in chunks, each pinned while `run` has it. */
const inPinnedChunks = <A, E>(
  paths: ReadonlyArray<string>,
  run: (pinned: Pinned) => Effect.Effect<ReadonlyArray<A>, E>
): Effect.Effect<ReadonlyArray<A>, E> => {
  const distinct = [...new Set(paths)]
  const chunks = Array.from({ length: Math.ceil(distinct.length / PINNED_AT_ONCE) }, (_, index) =>
    distinct.slice(index * PINNED_AT_ONCE, (index + 1) * PINNED_AT_ONCE))
  return Effect.forEach(chunks, (chunk) =>
    Effect.scoped(Effect.flatMap(pinParents(chunk), (pins) =>
      run({ paths: chunk, pins, lfsPaths: [...new Set(pins.lfsPathOf.values())] }))), { concurrency: 1 }).pipe(
      Effect.map((answers) => answers.flat())
    )
}

/**
 * `Hsm` that gives the layer below it (lfs) only paths whose directories were opened here without
 * following a symlink (see parentPins.ts), and answers with the caller's paths. A path through a
 * symlink fails alone, with the reason; the others go on. `findReleased` drops a file the layer
 * below found whose path now leads through a symlink: the layer below read its HSM state and size
 * by its plain path, reads only, and nothing acts on it.
 */
export const pinningParents = (hsm: Hsm["Service"]): Hsm["Service"] => {
  const status = (paths: ReadonlyArray<string>) =>
    inPinnedChunks(paths, ({ paths: chunk, pins, lfsPaths }) =>
      Effect.map(hsm.status(lfsPaths), (answers) => {
        const byLfsPath = new Map(answers.map((answer) => [answer.path, answer] as const))
        return chunk.map((path): FileHsmStatus | FileHsmFailure => {
          const lfsPath = pins.lfsPathOf.get(path)
          const answer = lfsPath === undefined ? undefined : byLfsPath.get(lfsPath)
          if (lfsPath === undefined || answer === undefined) return { path, error: pins.refused.get(path) ?? "lfs printed nothing for it" }
          if ("error" in answer) return { path, error: renamed(answer.error, lfsPath, path) }
          return answer.failure === undefined ? { ...answer, path } : { ...answer, path, failure: renamed(answer.failure, lfsPath, path) }
        })
      })).pipe(Effect.map((answers) => {
        const byPath = new Map(answers.map((answer) => [answer.path, answer] as const))
        return paths.map((path) => byPath.get(path) ?? { path, error: "lfs printed nothing for it" })
      }))

  const request = (requestOf: Hsm["Service"]["restore"]) => (paths: ReadonlyArray<string>) =>
    inPinnedChunks(paths, ({ pins, lfsPaths }) =>
      Effect.map(requestOf(lfsPaths), (failures): ReadonlyArray<FileHsmFailure> => {
        const failed = new Map(failures.map((failure) => [failure.path, failure.error] as const))
        return [
          ...[...pins.refused].map(([path, error]) => ({ path, error })),
          ...[...pins.lfsPathOf].flatMap(([path, lfsPath]) => {
            const error = failed.get(lfsPath)
            return error === undefined ? [] : [{ path, error: renamed(error, lfsPath, path) }]
          })
        ]
      }))

  /** What the layer below found, less the files whose path now leads through a symlink. */
  const stillBeneath = (found: ReadonlyArray<ReleasedFile>) =>
    inPinnedChunks(found.map((file) => file.path), ({ pins }) =>
      Effect.succeed(found.filter((file) => pins.lfsPathOf.has(file.path))))

  return Hsm.of({
    status,
    findReleased: (directory) =>
      hsm.findReleased(directory).pipe(
        Stream.mapEffect(stillBeneath),
        Stream.filter((batch) => batch.length > 0)
      ),
    restore: request(hsm.restore),
    archive: request(hsm.archive),
    release: request(hsm.release)
  })
}

/** The Hsm below, with every path it is given pinned first. */
export const HsmPinned = {
  layer: Layer.effect(Hsm, Effect.map(Effect.service(Hsm), pinningParents))
} as const
