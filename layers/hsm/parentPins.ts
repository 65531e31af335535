import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import { errnoOf } from "../lustre/openBeneath.js"
import { refusedPath } from "./argumentBatches.js"

/**
 * lfs follows symlinks in the directories of a path it is given (lstat, then the FID by path),
 * so a user who swaps a directory of a volume for a symlink between our look and lfs's would
 * have lfs act on a file outside the volume. Here each file's directory is opened one component
 * at a time from the directory the caller opened and checked, with O_NOFOLLOW (a symlink on the
 * way is refused), and lfs is given `/proc/<pid>/fd/<that directory>/<name>`: the kernel
 * resolves the fd link to the very directory held open. A request (restore, archive, release)
 * refuses a final name that is a symlink (lfs lstats it: "not a regular file", and reads its FID
 * with O_NOFOLLOW); `hsm_state` opens the name, so a swapped one shows another file's flags: a
 * read, on which nothing is done but such a request.
 */

const DIRECTORY = Fs.constants.O_RDONLY | Fs.constants.O_DIRECTORY | Fs.constants.O_NOFOLLOW

/** A directory the caller opened and checked: `/proc/self/fd/<n>` or `/proc/<our pid>/fd/<n>`, with a path below it. */
const openedDirectory = new RegExp(`^/proc/(?:self|${process.pid})/fd/(\\d+)(?=/)`)

export interface ParentPins {
  /** What lfs is given for each accepted path: `/proc/<pid>/fd/<its directory>/<name>`. */
  readonly lfsPathOf: ReadonlyMap<string, string>
  /** Why each other path is refused. */
  readonly refused: ReadonlyMap<string, string>
}

type Opened = { readonly handle: Fs.FileHandle } | { readonly refusal: string }

/** Why the directory at `at` could not be opened; O_NOFOLLOW|O_DIRECTORY fails a symlink with ENOTDIR or ELOOP. */
const refusalOf = (error: unknown, at: string, shown: string): Effect.Effect<string> => {
  const errno = errnoOf(error)
  if (errno === "ENOENT") return Effect.succeed(`${shown} does not exist`)
  if (errno !== "ENOTDIR" && errno !== "ELOOP") {
    return Effect.succeed(`cannot open ${shown}: ${error instanceof Error ? error.message : String(error)}`)
  }
  return Effect.tryPromise(() => Fs.lstat(at)).pipe(
    Effect.map((stats) => stats.isSymbolicLink()),
    Effect.orElseSucceed(() => false),
    Effect.map((isSymlink) => isSymlink ? `${shown} is a symlink: lfs is given no path through a symlink` : `${shown} is not a directory`)
  )
}

/**
 * Where a path starts from (an opened directory, or "" for "/"), its directories below that, its
 * name, and how to name its directories in a refusal (below the opened directory, else whole).
 */
const splitPath = (path: string) => {
  const base = openedDirectory.exec(path)
  const components = path.slice(base === null ? 1 : base[0].length + 1).split("/")
  const name = components.pop() ?? ""
  const directories = components.filter((component) => component !== "" && component !== ".")
  return {
    start: base === null ? "" : `/proc/${process.pid}/fd/${base[1]}`,
    directories,
    name,
    shown: (depth: number) => `${base === null ? "/" : ""}${directories.slice(0, depth).join("/")}`
  }
}

const close = (handle: Fs.FileHandle) => Effect.promise(() => handle.close().catch(() => undefined))

/** The directory `component` in the one `from` names, or why it cannot be opened. */
const openComponent = (from: string, component: string, shown: string) =>
  Effect.tryPromise({ try: () => Fs.open(`${from}/${component}`, DIRECTORY), catch: (error) => error }).pipe(
    Effect.map((handle): Opened => ({ handle })),
    Effect.catch((error) => Effect.map(refusalOf(error, `${from}/${component}`, shown), (refusal): Opened => ({ refusal })))
  )

/**
 * The directory `directories[depth...]` below `from`, each component opened from the fd of the
 * one before; each is closed once the next is open, and only the last stays open (with the
 * scope), so a batch holds one fd per directory of its files, however deep.
 */
const openDirectory = (
  from: string,
  directories: ReadonlyArray<string>,
  shown: (depth: number) => string,
  depth = 0
): Effect.Effect<Opened, never, Scope.Scope> =>
  depth === directories.length - 1
    ? Effect.acquireRelease(
      openComponent(from, directories[depth] ?? "", shown(depth + 1)),
      (opened) => "handle" in opened ? close(opened.handle) : Effect.void
    )
    : Effect.acquireUseRelease(
      openComponent(from, directories[depth] ?? "", shown(depth + 1)),
      (opened) => "handle" in opened ? openDirectory(`/proc/self/fd/${opened.handle.fd}`, directories, shown, depth + 1) : Effect.succeed(opened),
      (opened) => "handle" in opened ? close(opened.handle) : Effect.void
    )

/**
 * Opens the directory of each of `paths` (closed with the scope) and says what lfs is to be given
 * instead of each path; a path that leads through a symlink, climbs with "..", or names no file
 * is refused.
 */
export const pinParents = (paths: ReadonlyArray<string>): Effect.Effect<ParentPins, never, Scope.Scope> =>
  Effect.gen(function*() {
    /** Each directory opened, by where it starts and its components. */
    const directories = new Map<string, Opened>()
    const lfsPathOf = new Map<string, string>()
    const refused = new Map<string, string>()

    /** Where lfs reaches the directory of `path`: `start` itself, or that directory held open. */
    const directoryOf = (path: ReturnType<typeof splitPath>): Effect.Effect<{ readonly at: string } | { readonly refusal: string }, never, Scope.Scope> => {
      if (path.directories.length === 0) return Effect.succeed({ at: path.start })
      const key = `${path.start}\0${path.directories.join("/")}`
      const known = directories.get(key)
      const opened = known !== undefined
        ? Effect.succeed(known)
        : openDirectory(path.start, path.directories, path.shown).pipe(Effect.tap((result) => Effect.sync(() => directories.set(key, result))))
      return Effect.map(opened, (result) => "handle" in result ? { at: `/proc/${process.pid}/fd/${result.handle.fd}` } : result)
    }

    for (const path of new Set(paths)) {
      const split = splitPath(path)
      const why = refusedPath(path) ??
        (split.directories.includes("..")
          ? "the path climbs with \"..\": lfs is given paths below their directory only"
          : split.name === "" || split.name === "." || split.name === ".."
          ? "the path names no file"
          : undefined)
      if (why !== undefined) {
        refused.set(path, why)
        continue
      }
      const directory = yield* directoryOf(split)
      if ("refusal" in directory) refused.set(path, directory.refusal)
      else lfsPathOf.set(path, `${directory.at}/${split.name}`)
    }
    return { lfsPathOf, refused }
  })
