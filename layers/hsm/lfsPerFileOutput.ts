import * as Result from "effect/Result"

/**
 * What `lfs hsm_state` and `lfs hsm_action` said about one of the files they were given.
 *
 * Both print one line a file, `PATH: ...`, in the order of their arguments, and name a file
 * they could not read on stderr. They differ by release:
 * - 2.15 (`lfs.c` at v2_15_8-RC1) stops at the first file it cannot read:
 *   `can't get hsm state for PATH: STRERROR`, exit status non-zero, and the files after it
 *   are not printed at all;
 * - 2.16 on (LU-5170, "Continue on error when multiple files requested") go on with the next
 *   file: `lfs hsm_state: get HSM state for 'PATH' failed: STRERROR`, exit status non-zero
 *   once any file failed.
 * So a file can be `Unanswered`, which is not a failure of that file: the caller asks again.
 */
export type LfsFileAnswer<A> =
  | { readonly _tag: "Answered"; readonly path: string; readonly value: A }
  /** lfs named the file on stderr, or printed a line for it that does not read as lfs's. */
  | { readonly _tag: "Failed"; readonly path: string; readonly error: string }
  /** lfs said nothing of the file (2.15 stops at the first failure). */
  | { readonly _tag: "Unanswered"; readonly path: string }

/** How one `lfs hsm_*` subcommand prints a file's line and names a file it failed on. */
export interface PerFileOutputShape<A> {
  /** "lfs hsm_state", for messages. */
  readonly command: string
  /** Whether the text at `at` (just after `PATH: `) starts the subcommand's line. */
  readonly startsLine: (text: string, at: number) => boolean
  /** Reads what follows `PATH: ` up to the end of the line. */
  readonly parseLine: (rest: string) => Result.Result<A, string>
  /** Texts on stderr that name `path` as a file the subcommand could not read. */
  readonly errorMarkers: (path: string) => ReadonlyArray<string>
}

/** Lines echoed into an error are cut here: a path alone may be 4096 bytes. */
const maxEchoed = 1024

export const clipEchoed = (text: string): string => text.length <= maxEchoed ? text : `${text.slice(0, maxEchoed)}...`

/** The stderr line that holds `marker`, whole (the path in it may hold newlines of its own). */
const lineAround = (text: string, index: number, marker: string): string => {
  const start = text.lastIndexOf("\n", index - 1) + 1
  const end = text.indexOf("\n", index + marker.length)
  return text.slice(start, end < 0 ? undefined : end)
}

const errorNaming = <A>(shape: PerFileOutputShape<A>, stderr: string, path: string): string | undefined => {
  for (const marker of shape.errorMarkers(path)) {
    const index = stderr.indexOf(marker)
    if (index >= 0) return clipEchoed(lineAround(stderr, index, marker))
  }
  return undefined
}

/** What follows `PATH: ` up to the end of its line, when the text at `at` is the subcommand's line of `path`. */
const lineAt = <A>(shape: PerFileOutputShape<A>, stdout: string, at: number, path: string) => {
  const restStart = at + path.length + 2
  if (!stdout.startsWith(path, at) || !stdout.startsWith(": ", at + path.length) || !shape.startsLine(stdout, restStart)) {
    return undefined
  }
  const newline = stdout.indexOf("\n", restStart)
  return { rest: stdout.slice(restStart, newline < 0 ? undefined : newline), next: newline < 0 ? stdout.length : newline + 1 }
}

/**
 * Each requested path's answer, in the order of `paths`. Never throws, whatever lfs printed.
 *
 * Lines come in argument order, one a file, and a file lfs could not read has none. So the line
 * at hand belongs to the next requested path whose `PATH: ` and lead it starts with: the first
 * one whose rest reads, else the first one at all (its line does not read). The paths passed
 * over failed. Matching whole known paths, not splitting at ": ", keeps paths that hold ": " or
 * a newline whole. A line that belongs to no requested path is skipped.
 */
export const readPerFileOutput = <A>(
  shape: PerFileOutputShape<A>,
  stdout: string,
  paths: ReadonlyArray<string>,
  stderr: string
): ReadonlyArray<LfsFileAnswer<A>> => {
  const answers: Array<LfsFileAnswer<A> | undefined> = paths.map(() => undefined)
  let next = 0
  let cursor = 0
  while (next < paths.length && cursor < stdout.length) {
    let unreadable: { readonly index: number; readonly rest: string; readonly why: string; readonly end: number } | undefined
    let owner: { readonly index: number; readonly value: A; readonly end: number } | undefined
    for (let index = next; index < paths.length && owner === undefined; index++) {
      const line = lineAt(shape, stdout, cursor, paths[index] ?? "")
      if (line === undefined) continue
      const parsed = shape.parseLine(line.rest)
      if (Result.isSuccess(parsed)) owner = { index, value: parsed.success, end: line.next }
      else unreadable ??= { index, rest: line.rest, why: parsed.failure, end: line.next }
    }
    if (owner !== undefined) {
      answers[owner.index] = { _tag: "Answered", path: paths[owner.index] ?? "", value: owner.value }
      next = owner.index + 1
      cursor = owner.end
    } else if (unreadable !== undefined) {
      answers[unreadable.index] = {
        _tag: "Failed",
        path: paths[unreadable.index] ?? "",
        error: `${shape.command} printed ${JSON.stringify(clipEchoed(unreadable.rest))} for it, which does not read as its output: ${unreadable.why}`
      }
      next = unreadable.index + 1
      cursor = unreadable.end
    } else {
      const newline = stdout.indexOf("\n", cursor)
      cursor = newline < 0 ? stdout.length : newline + 1
    }
  }
  return paths.map((path, index): LfsFileAnswer<A> => {
    const answer = answers[index]
    if (answer !== undefined) return answer
    const error = errorNaming(shape, stderr, path)
    return error === undefined ? { _tag: "Unanswered", path } : { _tag: "Failed", path, error }
  })
}
