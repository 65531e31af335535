/**
 * LNet network identifiers (NIDs): `<address>@<net>`, where the net is a network type and an
 * optional number (`tcp`, `tcp0`, `o2ib1`), and the address depends on the type: an IPv4 or IPv6
 * address for tcp and o2ib (`10.0.0.4@tcp`, `2001:db8::1@tcp`), a number for loopback (`0@lo`)
 * and for non-IP fabrics (`27@gni`).
 */
export interface Nid {
  readonly address: string
  readonly net: string
  /** The net without its number: `tcp` for `tcp0`. */
  readonly netType: string
}

const NET = /^([a-z][a-z0-9]*?)(\d*)$/

/** The parts of a NID, or undefined when `text` is not one. */
export const parseNid = (text: string): Nid | undefined => {
  const at = text.lastIndexOf("@")
  if (at <= 0) return undefined
  const address = text.slice(0, at)
  const net = text.slice(at + 1)
  const match = NET.exec(net)
  if (match === null || /\s/.test(address)) return undefined
  return { address, net, netType: match[1] ?? net }
}

/** `0@lo`: the loopback NI every LNet has, which says nothing about the network. */
export const isLoopbackNid = (text: string): boolean => parseNid(text)?.netType === "lo"

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`)
const IPV6 = /^[0-9a-fA-F:]+$/

/** The IP address a NID carries (tcp, o2ib and the like), or undefined for a non-IP address. */
export const ipAddressOf = (text: string): string | undefined => {
  const address = parseNid(text)?.address
  if (address === undefined) return undefined
  return IPV4.test(address) || (address.includes(":") && IPV6.test(address)) ? address : undefined
}
