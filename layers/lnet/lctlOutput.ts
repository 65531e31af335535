import { parseNid } from "./nid.js"

/**
 * What lctl(8) prints, for nodes whose Lustre utilities predate lnetctl:
 *
 *   lctl list_nids     one NID a line:             10.0.0.4@tcp
 *   lctl ping <nid>    one `pid-nid` a line:       12345-0@lo
 *                                                  12345-10.0.0.4@tcp
 *
 * Both exit non-zero on failure with a line on stderr (`IOC_LIBCFS_GET_NI error 100: Network is
 * down`, `failed to ping 10.0.0.4@tcp: Input/output error`).
 */

/** The NIDs of `lctl list_nids`; lines that are not NIDs are left out. */
export const parseListNids = (text: string): ReadonlyArray<string> =>
  text.split("\n").map((line) => line.trim()).filter((line) => parseNid(line) !== undefined)

/** The NIDs a peer listed in answer to `lctl ping`; lines that are not `pid-nid` are left out. */
export const parseLctlPing = (text: string): ReadonlyArray<string> =>
  text.split("\n").flatMap((line) => {
    const match = /^(\d+)-(\S+)$/.exec(line.trim())
    const nid = match?.[2]
    return nid !== undefined && parseNid(nid) !== undefined ? [nid] : []
  })
