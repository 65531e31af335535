/**
 * Finding released files without asking for the HSM state of every file.
 *
 * `lfs find` has no HSM-state filter, in 2.15 nor on master: its option table (`long_opts` in
 * `lfs_find`, lustre/utils/lfs.c, checked at v2_15_8-RC1 and HEAD) has none. But the MDT answers
 * a released file with st_blocks = 1 when its size is not 0 (mdt_handler.c, "return 1 block for
 * released file, unless tools like tar will consider it fully sparse", LU-3864), and with its
 * size and blocks marked valid (OBD_MD_FLSIZE | OBD_MD_FLBLOCKS), so no OST is asked. Hence:
 *
 *   lfs find DIR --type f --size +0 --blocks -2k --lazy --print0
 *
 * - `--type f`: regular files (`case 't'`, S_IFREG).
 * - `--size +0`: llapi_parse_size("0") with sign -1; find_value_cmp(size, 0, -1) keeps size > 0.
 * - `--blocks -2k`: units 1024, limit 2048, sign +1 (`case 'b'` sets fp_check_blocks);
 *   find_value_cmp(st_blocks * 512, 2048, +1, margin 1024) keeps st_blocks * 512 + 1024 <= 2048,
 *   that is st_blocks <= 2: released files, and files holding at most 1 KiB of data.
 * - `--lazy`: a size and blocks the MDT holds (lazy size-on-MDT) are taken as they are
 *   (OBD_MD_FLLAZYSIZE, OBD_MD_FLLAZYBLOCKS in cb_find_init), so a resident file costs no OST
 *   RPC when the MDT knows its size. A stale lazy size can only add candidates, never hide a
 *   released file: the MDT's size and blocks of a released file are exact.
 * - `--print0`: each path then a NUL byte (`fp_zero_end`), so any path reads back whole.
 *
 * Candidates are then confirmed with `lfs hsm_state` (a tiny file with data is dropped there).
 *
 * Not `--printf "%s %p\0"` for the sizes, though 2.15 has --printf: printf_format_escape
 * knows only `\n`, `\t` and `\\` (no NUL, and a path may hold a newline); the formatted record
 * is cut at FORMATTED_BUF_LEN (1024 bytes) while a path may be 4096; and --printf sets
 * `gather_all`, which stats every file that passed the type check (an OST glimpse per
 * resident file), defeating --lazy. The sizes of the few confirmed files are read with lstat.
 */

/** The arguments of `lfs find` for released-file candidates below `directory`. */
export const findCandidatesArgs = (directory: string): ReadonlyArray<string> => [
  "find",
  directory,
  "--type",
  "f",
  "--size",
  "+0",
  "--blocks",
  "-2k",
  "--lazy",
  "--print0"
]

/** Bytes carried over between chunks of a NUL-separated stream: a path and what is left of a record. */
export interface NulSplit {
  readonly records: ReadonlyArray<string>
  readonly rest: Uint8Array
}

const decoder = new TextDecoder("utf-8")

/**
 * Splits `rest ++ chunk` at NUL bytes: the complete records (decoded as UTF-8, a bad sequence
 * as U+FFFD) and the bytes of the unfinished last one. Splitting bytes before decoding keeps a
 * multi-byte character cut between two chunks whole.
 */
export const splitNulRecords = (rest: Uint8Array, chunk: Uint8Array): NulSplit => {
  const bytes = rest.length === 0 ? chunk : concatBytes(rest, chunk)
  const records: Array<string> = []
  let start = 0
  let nul = bytes.indexOf(0, start)
  while (nul >= 0) {
    if (nul > start) records.push(decoder.decode(bytes.subarray(start, nul)))
    start = nul + 1
    nul = bytes.indexOf(0, start)
  }
  return { records, rest: bytes.slice(start) }
}

const concatBytes = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a, 0)
  joined.set(b, a.length)
  return joined
}

/**
 * The records of a whole NUL-separated output. An unterminated last record is left out: lfs
 * ends every record with NUL, so one without is output cut short, and its path may be cut too.
 */
export const parseNulSeparated = (output: Uint8Array | string): ReadonlyArray<string> =>
  splitNulRecords(new Uint8Array(0), typeof output === "string" ? new TextEncoder().encode(output) : output).records
