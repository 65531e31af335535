import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { ReleasedFile } from "../Hsm.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import { childOf, type SimulatedFile } from "./locateFile.js"
import { entryOf, type ModelContext } from "./modelContext.js"

/** Released files answered per batch. */
const BATCH = 256

/** One directory's subdirectories and released files: a stub has no data blocks, so only those files are looked up. */
const releasedIn = (context: ModelContext, directory: SimulatedFile) =>
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
            if (stats === undefined || !(stats.isDirectory() || (stats.isFile() && stats.blocks === 0n))) return Effect.succeed(undefined)
            const child = childOf(directory, name, stats)
            if (stats.isDirectory()) return Effect.succeed({ child, released: false })
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

/** The released regular files below `top`, a directory at a time (depth first), in batches of at most BATCH. */
export const findReleased = (context: ModelContext, top: SimulatedFile): Stream.Stream<ReadonlyArray<ReleasedFile>, HsmFileFailed> =>
  Stream.paginate([top] as ReadonlyArray<SimulatedFile>, (pending) =>
    Effect.gen(function*() {
      const [current, ...rest] = pending
      if (current === undefined) return [[], Option.none()] as const
      const { subdirectories, released } = yield* releasedIn(context, current)
      const next = [...subdirectories, ...rest]
      const batches: Array<ReadonlyArray<ReleasedFile>> = []
      for (let i = 0; i < released.length; i += BATCH) batches.push(released.slice(i, i + BATCH))
      return [batches, next.length === 0 ? Option.none() : Option.some(next)] as const
    }))
