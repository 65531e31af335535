import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import { type OpenBeneathOptions, type OpenDirectory, PathEscapes, PathFailed } from "./LustreShell.js"

/**
 * Opening a directory beneath a root without a window for a symlink swap (the CVE-2021-25741
 * class): every component is opened relative to the directory fd before it, through
 * `/proc/self/fd/<n>/<name>`, with O_NOFOLLOW|O_DIRECTORY. The kernel resolves the fd link to
 * the very directory held open, and refuses a final symlink, so a rename or RENAME_EXCHANGE
 * between two steps can only make a step fail, never lead it elsewhere. Symlinks, where
 * allowed, are read and resolved here, component by component, from the directory holding them;
 * ".." goes back to the directory opened before, so nothing climbs above the root.
 */

const DIRECTORY = Fs.constants.O_RDONLY | Fs.constants.O_DIRECTORY | Fs.constants.O_NOFOLLOW
/** The kernel's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40

export const errnoOf = (error: unknown): string =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "EUNKNOWN"

const reasonOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

type Opened = { readonly handle: Fs.FileHandle } | { readonly errno: string; readonly reason: string }

const tryOpen = (path: string): Effect.Effect<Opened> =>
  Effect.promise(() =>
    Fs.open(path, DIRECTORY).then(
      (handle) => ({ handle }),
      (error: unknown) => ({ errno: errnoOf(error), reason: reasonOf(error) })
    )
  )

/** Opens `path` and closes it with the scope. */
const openScoped = (path: string, shown: string): Effect.Effect<Fs.FileHandle, PathFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.flatMap(tryOpen(path), (opened) =>
      "handle" in opened
        ? Effect.succeed(opened.handle)
        : Effect.fail(new PathFailed({ path: shown, code: opened.errno, message: `cannot open ${shown}: ${opened.reason}` }))),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

const attempt = <A>(path: string, doing: string, run: () => Promise<A>): Effect.Effect<A, PathFailed> =>
  Effect.tryPromise({
    try: run,
    catch: (error) => new PathFailed({ path, code: errnoOf(error), message: `cannot ${doing} ${path}: ${reasonOf(error)}` })
  })

export const openDirectoryBeneath = (
  root: string,
  components: ReadonlyArray<string>,
  options: OpenBeneathOptions
): Effect.Effect<OpenDirectory, PathFailed | PathEscapes, Scope.Scope> =>
  Effect.gen(function*() {
    const rootDirectory = { handle: yield* openScoped(root, root), shown: root }
    const chain: Array<{ readonly handle: Fs.FileHandle; readonly shown: string }> = [rootDirectory]
    const pending = [...components]
    let symlinksFollowed = 0
    while (pending.length > 0) {
      const name = pending.shift() ?? ""
      if (name === "" || name === ".") continue
      const parent = chain.at(-1) ?? rootDirectory
      const shown = `${parent.shown}/${name}`
      if (name === "..") {
        if (chain.length === 1) return yield* new PathEscapes({ path: shown, message: `${shown} leads above ${root}` })
        chain.pop()
        continue
      }
      const at = `/proc/self/fd/${parent.handle.fd}/${name}`
      let opened = yield* tryOpen(at)
      let created = false
      if ("errno" in opened && opened.errno === "ENOENT" && options.createMode !== undefined) {
        yield* attempt(shown, "create", () =>
          Fs.mkdir(at, { mode: options.createMode }).catch((error: unknown) => {
            // Made by someone else since: whatever it is, the open below looks at it afresh.
            if (errnoOf(error) !== "EEXIST") throw error
          }))
        created = true
        opened = yield* tryOpen(at)
      }
      if ("handle" in opened) {
        const handle = opened.handle
        yield* Effect.addFinalizer(() => Effect.promise(() => handle.close().catch(() => undefined)))
        // mkdir's mode is cut by the umask; the fd is the directory just made (or its replacement).
        const createMode = options.createMode
        if (created && createMode !== undefined) yield* attempt(shown, "chmod", () => handle.chmod(createMode))
        chain.push({ handle, shown })
        continue
      }
      if (opened.errno !== "ENOTDIR" && opened.errno !== "ELOOP") {
        return yield* new PathFailed({ path: shown, code: opened.errno, message: `cannot open ${shown}: ${opened.reason}` })
      }
      const stats = yield* attempt(shown, "inspect", () => Fs.lstat(at))
      if (!stats.isSymbolicLink()) {
        return yield* new PathFailed({ path: shown, code: "ENOTDIR", message: `${shown} is not a directory` })
      }
      if (options.symlinks === "refuse") {
        return yield* new PathEscapes({ path: shown, message: `${shown} is a symlink; no symlink is followed here` })
      }
      const target = yield* attempt(shown, "read the symlink", () => Fs.readlink(at))
      if (target.startsWith("/")) {
        return yield* new PathEscapes({
          path: shown,
          message: `${shown} is a symlink to the absolute path ${JSON.stringify(target.slice(0, 200))}, which names no place in the filesystem`
        })
      }
      if (++symlinksFollowed > MAX_SYMLINKS) {
        return yield* new PathFailed({ path: shown, code: "ELOOP", message: `more than ${MAX_SYMLINKS} symlinks on the way to ${shown}` })
      }
      pending.unshift(...target.split("/"))
    }
    const last = chain.at(-1) ?? rootDirectory
    const stats = yield* attempt(last.shown, "inspect", () => last.handle.stat())
    return {
      procPath: `/proc/${process.pid}/fd/${last.handle.fd}`,
      path: last.shown,
      identity: `${stats.dev}:${stats.ino}`
    } satisfies OpenDirectory
  })
