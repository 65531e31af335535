import * as Result from "effect/Result"
import { type CyamlMap, type CyamlValue, isMap, isSeq, lookup, parseCyaml } from "./cyaml.js"
import type { LocalNi } from "./LnetProbe.js"

/**
 * What lnetctl(8) prints, read from its YAML (see cyaml.ts). Samples of real output are in
 * test/fixtures/lnet/.
 *
 *   lnetctl net show [-v]   net: - net type, local NI(s): - nid, status, interfaces: {0: eth0}
 *                           (-v adds statistics and tunables, which are ignored here)
 *   lnetctl ping <nid>      ping: - primary nid, Multi-Rail, peer ni: - nid
 *
 * On failure lnetctl exits non-zero and prints, on stderr, a block naming the command and entity
 * with `errno` and `descr`:
 *
 *   show:                              manage:
 *       - net:                             - ping:
 *             errno: -100                        errno: -1
 *             descr: "cannot get ..."            descr: failed to ping 10.0.0.4@tcp: ...
 */

export interface LnetctlError {
  readonly errno: number | undefined
  readonly description: string
}

const errorIn = (value: CyamlValue): LnetctlError | undefined => {
  if (typeof value === "string") return undefined
  if (value._tag === "Seq") {
    for (const item of value.items) {
      const found = errorIn(item)
      if (found !== undefined) return found
    }
    return undefined
  }
  const descr = lookup(value, "descr")
  if (typeof descr === "string") {
    const errno = lookup(value, "errno")
    const number = typeof errno === "string" && /^-?\d+$/.test(errno) ? Number(errno) : undefined
    return { errno: number, description: descr.trim() }
  }
  for (const [, child] of value.entries) {
    const found = errorIn(child)
    if (found !== undefined) return found
  }
  return undefined
}

/** The first errno/descr block in lnetctl's output, if it printed one. */
export const parseLnetctlError = (text: string): LnetctlError | undefined => {
  const document = parseCyaml(text)
  return Result.isSuccess(document) ? errorIn(document.success) : undefined
}

const interfacesOf = (value: CyamlValue | undefined): ReadonlyArray<string> => {
  if (!isMap(value)) return []
  return value.entries
    .flatMap(([index, name]) => /^\d+$/.test(index) && typeof name === "string" && name !== "" ? [[Number(index), name] as const] : [])
    .sort(([a], [b]) => a - b)
    .map(([, name]) => name)
}

/** cYAML prints an empty list as it prints an empty map: `key:` and nothing under it. */
const isEmpty = (value: CyamlValue): boolean => isMap(value) && value.entries.length === 0

const niOf = (item: CyamlMap): LocalNi | string => {
  const nid = lookup(item, "nid")
  if (typeof nid !== "string" || nid === "") return "a local NI without a nid"
  const status = lookup(item, "status")
  return { nid, status: typeof status === "string" ? status : undefined, interfaces: interfacesOf(lookup(item, "interfaces")) }
}

/**
 * `lnetctl net show` (with or without -v): every local NI, loopback included, in lnetctl's order.
 * The failure says what did not fit, or is lnetctl's own error text when it printed one.
 */
export const parseNetShow = (text: string): Result.Result<ReadonlyArray<LocalNi>, string> => {
  const document = parseCyaml(text)
  if (Result.isFailure(document)) return Result.fail(`lnetctl net show printed what is not its YAML (${document.failure})`)
  const nets = lookup(document.success, "net")
  if (nets === undefined) {
    const error = errorIn(document.success)
    if (error !== undefined) return Result.fail(error.description)
    // LNet that has no network yet prints nothing at all.
    return document.success.entries.length === 0
      ? Result.succeed([])
      : Result.fail(`lnetctl net show printed no "net" list (keys: ${document.success.entries.map(([key]) => key).join(", ")})`)
  }
  if (isEmpty(nets)) return Result.succeed([])
  if (!isSeq(nets)) return Result.fail("lnetctl net show printed a \"net\" that is not a list")
  const nis: Array<LocalNi> = []
  for (const net of nets.items) {
    const local = lookup(net, "local NI(s)")
    if (local === undefined || isEmpty(local)) continue
    if (!isSeq(local)) return Result.fail("lnetctl net show printed a \"local NI(s)\" that is not a list")
    for (const item of local.items) {
      const ni = niOf(item)
      if (typeof ni === "string") return Result.fail(`lnetctl net show printed ${ni}`)
      nis.push(ni)
    }
  }
  return Result.succeed(nis)
}

export interface PingReply {
  readonly primaryNid: string
  readonly peerNids: ReadonlyArray<string>
}

/** `lnetctl ping <nid>` that succeeded: who answered, and the NIDs it listed. */
export const parsePing = (text: string): Result.Result<PingReply, string> => {
  const document = parseCyaml(text)
  if (Result.isFailure(document)) return Result.fail(`lnetctl ping printed what is not its YAML (${document.failure})`)
  const error = errorIn(document.success)
  if (error !== undefined) return Result.fail(error.description)
  const replies = lookup(document.success, "ping")
  const reply = isSeq(replies) ? replies.items[0] : undefined
  const primary = reply === undefined ? undefined : lookup(reply, "primary nid")
  if (reply === undefined || typeof primary !== "string") return Result.fail("lnetctl ping printed no reply")
  const peers = lookup(reply, "peer ni")
  const peerNids = isSeq(peers)
    ? peers.items.flatMap((peer) => {
      const nid = lookup(peer, "nid")
      return typeof nid === "string" ? [nid] : []
    })
    : []
  return Result.succeed({ primaryNid: primary, peerNids })
}
