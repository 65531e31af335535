/**
 * /sys/class/net/<name>/operstate and /sys/class/net/<name>/flags (Documentation/ABI/testing/
 * sysfs-class-net, Documentation/networking/operstates.rst).
 *
 * operstate is RFC 2863's: up, down, lowerlayerdown, dormant, testing, notpresent, or unknown.
 * "unknown" is what a driver that does not track carrier reports (the loopback device, many
 * virtual ones), and says nothing either way: such an interface counts as up unless its flags
 * say it is administratively down (IFF_UP, bit 0, clear). Refusing "unknown" would keep a node
 * whose NIC driver reports no carrier not ready for good; whether traffic really flows is the
 * self-ping's to tell.
 */

export const OPERSTATES = ["up", "down", "lowerlayerdown", "dormant", "testing", "notpresent", "unknown"] as const
export type Operstate = (typeof OPERSTATES)[number]

/** The operstate file's content, or undefined when it is not one of RFC 2863's states. */
export const parseOperstate = (text: string): Operstate | undefined => {
  const state = text.trim()
  return OPERSTATES.find((known) => known === state)
}

const IFF_UP = 0x1

/** IFF_UP from the flags file (`0x1003`), or undefined when the file does not hold a hex number. */
export const parseAdministrativelyUp = (text: string): boolean | undefined => {
  const flags = text.trim()
  return /^0x[0-9a-fA-F]+$/.test(flags) ? (Number.parseInt(flags.slice(2), 16) & IFF_UP) !== 0 : undefined
}

/** Whether LNet can send over an interface in this state. */
export const interfaceCarries = (state: { readonly operstate: string; readonly administrativelyUp: boolean | undefined }): boolean =>
  state.operstate === "up" || (state.operstate === "unknown" && state.administrativelyUp !== false)
