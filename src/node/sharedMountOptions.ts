import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"

/**
 * The Lustre client options a shared mount was made with, kept in a file beside its mount point,
 * so a restarted driver still knows them: every publish of a filesystem on a node shares one
 * client mount, and so its options.
 */
const notePath = (mountPoint: string) => `${mountPoint}.options.json`

export const recordSharedMountOptions = (mountPoint: string, options: ReadonlyArray<string>) =>
  Effect.tryPromise(() => Fs.writeFile(notePath(mountPoint), JSON.stringify([...options].sort()))).pipe(
    Effect.catch((failed) =>
      Effect.logWarning("cannot record the shared mount's options; a later publish cannot compare them").pipe(
        Effect.annotateLogs({ mountPoint, reason: String(failed.cause) })
      )
    )
  )

export const sharedMountOptions = (mountPoint: string): Effect.Effect<ReadonlyArray<string> | undefined> =>
  Effect.promise(() =>
    Fs.readFile(notePath(mountPoint), "utf8").then(
      (text) => {
        const parsed: unknown = JSON.parse(text)
        return Array.isArray(parsed) ? parsed.filter((o): o is string => typeof o === "string") : undefined
      },
      () => undefined
    )
  )

export const forgetSharedMountOptions = (mountPoint: string) =>
  Effect.promise(() => Fs.rm(notePath(mountPoint), { force: true }).catch(() => undefined))

export const sameOptions = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => {
  const sortedB = [...b].sort()
  return a.length === b.length && [...a].sort().every((option, i) => option === sortedB[i])
}
