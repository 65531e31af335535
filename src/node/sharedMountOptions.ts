import * as Effect from "effect/Effect"
import * as Fs from "node:fs/promises"

/**
 * The Lustre client options a shared mount was made with, kept in a file beside its mount point,
 * so a restarted driver still knows them: every publish of a filesystem on a node shares one
 * client mount, and so its options.
 */
const notePath = (mountPoint: string) => `${mountPoint}.options.json`

export const recordSharedMountOptions = (mountPoint: string, options: ReadonlyArray<string>) =>
  Effect.promise(() => Fs.writeFile(notePath(mountPoint), JSON.stringify([...options].sort())))

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
  Effect.promise(() => Fs.rm(notePath(mountPoint), { force: true }))

export const sameOptions = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && [...a].sort().every((option, i) => option === [...b].sort()[i])
