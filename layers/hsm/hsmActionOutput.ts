import * as Result from "effect/Result"
import type { HsmAction, HsmActionKind } from "./Hsm.js"
import { type LfsFileAnswer, type PerFileOutputShape, readPerFileOutput } from "./lfsPerFileOutput.js"

/**
 * `lfs hsm_action FILE...` (`lfs_hsm_action` in lustre/utils/lfs.c, the same in 2.15 and 2.16):
 *
 *   printf("%s: %s", path, hsm_user_action2name(hua));
 *   NOOP (HUA_NONE): "\n" and nothing else;
 *   else printf(" %s ", hsm_progress_state2name(hps)) and then
 *     "(%llu bytes moved)\n"      for a running ARCHIVE or RESTORE (the extent's length),
 *     "(from %llu to EOF)\n"      when offset + length is LUSTRE_EOF (2^64 - 1),
 *     "(from %llu to %llu)\n"     otherwise (offset, offset + length).
 *
 * Names from hsm_user_action2name and hsm_progress_state2name (lustre_user.h).
 */

export const HSM_ACTION_KINDS: ReadonlyArray<HsmActionKind> = ["NOOP", "ARCHIVE", "RESTORE", "RELEASE", "REMOVE", "CANCEL", "UNKNOWN"]

export const HSM_PROGRESS_STATES = ["waiting", "running", "done", "unknown"] as const

export type HsmProgress = (typeof HSM_PROGRESS_STATES)[number]

/** The extent lfs prints for an action that is not a running archive or restore. */
export interface HsmExtent {
  readonly offset: bigint
  /** The end offset, or "EOF" when the action runs to the end of the file. */
  readonly end: bigint | "EOF"
}

/** lfs shows bytes moved, not the extent, exactly for these. */
const showsBytesMoved = (kind: HsmActionKind, progress: HsmProgress | undefined) =>
  progress === "running" && (kind === "ARCHIVE" || kind === "RESTORE")

export const noAction: HsmAction = { kind: "NOOP", progress: undefined, bytesMoved: undefined }

/**
 * What lfs prints after `PATH: `. `extent` is used where lfs prints an extent (its default,
 * `from 0 to EOF`, is what a whole-file request shows).
 */
export const formatHsmAction = (action: HsmAction, extent: HsmExtent = { offset: 0n, end: "EOF" }): string => {
  if (action.kind === "NOOP") return "NOOP"
  const progress = action.progress ?? "unknown"
  const tail = showsBytesMoved(action.kind, progress)
    ? `(${action.bytesMoved ?? 0n} bytes moved)`
    : `(from ${extent.offset} to ${extent.end})`
  return `${action.kind} ${progress} ${tail}`
}

/** The line lfs prints for a file, newline included. */
export const formatHsmActionLine = (path: string, action: HsmAction, extent?: HsmExtent): string =>
  `${path}: ${formatHsmAction(action, extent)}\n`

const actionLine = new RegExp(
  `^(${HSM_ACTION_KINDS.join("|")})(?: (${HSM_PROGRESS_STATES.join("|")}) \\((?:(\\d+) bytes moved|from (\\d+) to (EOF|\\d+))\\))?$`
)

const isKind = (word: string | undefined): word is HsmActionKind => HSM_ACTION_KINDS.some((kind) => kind === word)
const isProgress = (word: string | undefined): word is HsmProgress => HSM_PROGRESS_STATES.some((state) => state === word)

/** What follows `PATH: ` on an `lfs hsm_action` line. */
export const parseHsmAction = (rest: string): Result.Result<HsmAction, string> => {
  const match = actionLine.exec(rest)
  const kind = match?.[1]
  if (match === null || !isKind(kind)) {
    return Result.fail(`expected one of ${HSM_ACTION_KINDS.join(", ")}, then its progress and extent unless NOOP`)
  }
  const progress = match[2]
  if (kind === "NOOP") return progress === undefined ? Result.succeed(noAction) : Result.fail("NOOP is printed alone")
  if (!isProgress(progress)) return Result.fail(`${kind} without its progress and extent`)
  const bytesMoved = match[3]
  if (showsBytesMoved(kind, progress) !== (bytesMoved !== undefined)) {
    return Result.fail(
      bytesMoved === undefined
        ? `lfs prints bytes moved, not an extent, for a running ${kind}`
        : `lfs prints bytes moved only for a running ARCHIVE or RESTORE, not for ${kind} ${progress}`
    )
  }
  return Result.succeed({ kind, progress, bytesMoved: bytesMoved === undefined ? undefined : BigInt(bytesMoved) })
}

const hsmActionShape: PerFileOutputShape<HsmAction> = {
  command: "lfs hsm_action",
  startsLine: (text, at) =>
    HSM_ACTION_KINDS.some((kind) => {
      const after = text[at + kind.length]
      return text.startsWith(kind, at) && (after === undefined || after === " " || after === "\n")
    }),
  parseLine: parseHsmAction,
  errorMarkers: (path) => [
    // 2.16 on: "%s %s: get hsm action for '%s' failed: %s\n" (progname, "hsm_action", path, strerror)
    `get hsm action for '${path}' failed: `,
    // 2.15: "can't get hsm action for %s: %s\n"
    `can't get hsm action for ${path}: `
  ]
}

/**
 * Each requested path's action from `lfs hsm_action PATH...`'s stdout (and stderr, which names
 * the files lfs could not read), in the order of `paths`. Total: garbage gives failures.
 */
export const parseHsmActionOutput = (
  stdout: string,
  paths: ReadonlyArray<string>,
  stderr = ""
): ReadonlyArray<LfsFileAnswer<HsmAction>> => readPerFileOutput(hsmActionShape, stdout, paths, stderr)
