import * as Result from "effect/Result"
import type { HsmState } from "./Hsm.js"
import { type LfsFileAnswer, type PerFileOutputShape, readPerFileOutput } from "./lfsPerFileOutput.js"

/**
 * `lfs hsm_state FILE...` (`lfs_hsm_state` in lustre/utils/lfs.c, the same in 2.15 and 2.16):
 *
 *   printf("%s: (0x%08x)", path, hus.hus_states);
 *   then " released", " exists", " dirty", " archived", " never_release", " never_archive",
 *   " lost_from_hsm" for each bit set, in that order;
 *   then ", archive_id:%d" when the archive id is not 0; then "\n".
 *
 * The number is authoritative; the words are checked against it. Bits that have no word
 * (2.16 added HS_PCCRW 0x80 and HS_PCCRO 0x100, which lfs does not name) stay in `flags`.
 */

/** `enum hsm_states` (lustre_user.h), in the order lfs prints their words. */
export const HSM_STATE_BITS = [
  { bit: 0x04, word: "released", key: "released" },
  { bit: 0x01, word: "exists", key: "exists" },
  { bit: 0x02, word: "dirty", key: "dirty" },
  { bit: 0x08, word: "archived", key: "archived" },
  { bit: 0x10, word: "never_release", key: "noRelease" },
  { bit: 0x20, word: "never_archive", key: "noArchive" },
  { bit: 0x40, word: "lost_from_hsm", key: "lost" }
] as const

export const HS_EXISTS = 0x01
export const HS_DIRTY = 0x02
export const HS_RELEASED = 0x04
export const HS_ARCHIVED = 0x08
export const HS_NORELEASE = 0x10
export const HS_NOARCHIVE = 0x20
export const HS_LOST = 0x40

/** The state a bit set and archive id stand for (`flags` as a 32-bit unsigned number). */
export const hsmState = (flags: number, archiveId = 0): HsmState => {
  const has = (bit: number) => (flags & bit) !== 0
  return {
    flags: flags >>> 0,
    exists: has(HS_EXISTS),
    dirty: has(HS_DIRTY),
    released: has(HS_RELEASED),
    archived: has(HS_ARCHIVED),
    noRelease: has(HS_NORELEASE),
    noArchive: has(HS_NOARCHIVE),
    lost: has(HS_LOST),
    archiveId: archiveId >>> 0
  }
}

/** The words lfs prints for `flags`, in its order. */
export const hsmStateWords = (flags: number): ReadonlyArray<string> =>
  HSM_STATE_BITS.filter(({ bit }) => (flags & bit) !== 0).map(({ word }) => word)

/** What lfs prints after `PATH: ` (printf's `%d` shows an archive id above 2^31 as negative). */
export const formatHsmState = (state: HsmState): string =>
  `(0x${(state.flags >>> 0).toString(16).padStart(8, "0")})` +
  hsmStateWords(state.flags).map((word) => ` ${word}`).join("") +
  (state.archiveId === 0 ? "" : `, archive_id:${state.archiveId | 0}`)

/** The line lfs prints for a file, newline included. */
export const formatHsmStateLine = (path: string, state: HsmState): string => `${path}: ${formatHsmState(state)}\n`

const knownWords: ReadonlySet<string> = new Set(HSM_STATE_BITS.map(({ word }) => word))

// `%08x` of a __u32: eight hex digits. The man page (lfs-hsm.1) shows "archive_id: 1" with a
// space that lfs's printf does not print; both are read.
const stateLine = /^\(0x([0-9a-fA-F]{8})\)((?: [a-z_]+)*)(?:, archive_id: ?(-?\d+))?$/

/** What follows `PATH: ` on an `lfs hsm_state` line. */
export const parseHsmState = (rest: string): Result.Result<HsmState, string> => {
  const match = stateLine.exec(rest)
  if (match === null) return Result.fail("expected \"(0x%08x)\", state words, then \", archive_id:N\" when not 0")
  const flags = Number.parseInt(match[1] ?? "", 16)
  const words = (match[2] ?? "").split(" ").filter((word) => word !== "")
  const unknown = words.filter((word) => !knownWords.has(word))
  if (unknown.length > 0) return Result.fail(`unknown state word${unknown.length === 1 ? "" : "s"} ${unknown.join(", ")}`)
  const expected = hsmStateWords(flags)
  if (words.join(" ") !== expected.join(" ")) {
    const hex = `0x${match[1]}`
    return Result.fail(
      `the words "${words.join(" ")}" do not match the flags ${hex}, which lfs prints as "${expected.join(" ")}"`
    )
  }
  const archiveId = match[3] === undefined ? 0 : Number(match[3])
  if (!Number.isSafeInteger(archiveId) || archiveId < -(2 ** 31) || archiveId >= 2 ** 32) {
    return Result.fail(`archive_id ${match[3]} is not a 32-bit number`)
  }
  return Result.succeed(hsmState(flags, archiveId))
}

const hsmStateShape: PerFileOutputShape<HsmState> = {
  command: "lfs hsm_state",
  startsLine: (text, at) => text.startsWith("(0x", at),
  parseLine: parseHsmState,
  errorMarkers: (path) => [
    // 2.16 on: "%s %s: get HSM state for '%s' failed: %s\n" (progname, "hsm_state", path, strerror)
    `get HSM state for '${path}' failed: `,
    // 2.15: "can't get hsm state for %s: %s\n"
    `can't get hsm state for ${path}: `
  ]
}

/**
 * Each requested path's state from `lfs hsm_state PATH...`'s stdout (and stderr, which names
 * the files lfs could not read), in the order of `paths`. Total: garbage gives failures.
 */
export const parseHsmStateOutput = (
  stdout: string,
  paths: ReadonlyArray<string>,
  stderr = ""
): ReadonlyArray<LfsFileAnswer<HsmState>> => readPerFileOutput(hsmStateShape, stdout, paths, stderr)
