import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { quote } from "./BoundedText.js"

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`)
/** 1-223: not 0.0.0.0/8, and not multicast (224.0.0.0/4) or reserved (240.0.0.0/4, with broadcast). */
const HOST_FIRST_OCTET = "(?:22[0-3]|2[01][0-9]|1[0-9][0-9]|[1-9][0-9]|[1-9])"
const HOST_IPV4 = new RegExp(`^${HOST_FIRST_OCTET}(?:\\.${OCTET}){3}$`)

const WHERE_TO_FIND = "use the MGS address shown in the Azure portal (Client connection), e.g. 10.0.0.4"

/** Why a dotted quad names no host an MGS could be on; undefined when it can. */
const nonHostRange = (text: string): string | undefined => {
  const first = Number(text.slice(0, text.indexOf(".")))
  if (first === 0) return `is in 0.0.0.0/8 ("this network"), which names no host`
  if (text === "255.255.255.255") return "is the broadcast address, which names no host"
  if (first >= 224 && first <= 239) return "is a multicast address (224.0.0.0/4), which names no host"
  if (first >= 240) return "is in 240.0.0.0/4, reserved and never a host"
  return undefined
}

/** The message sent to the user when `mgs-ip-address` is not the IPv4 address of a host. */
export const mgsAddressMessage = (value: string): string =>
  IPV4.test(value)
    ? `mgs-ip-address ${quote(value)} ${nonHostRange(value) ?? "is not a host address"}; ${WHERE_TO_FIND}`
    : `mgs-ip-address ${quote(value)} is not an IPv4 address; ${WHERE_TO_FIND}`

/**
 * True when `text` is a strict dotted-quad IPv4 address (four octets 0-255, no leading zeros) a
 * host can have: loopback and private ranges are fine; 0.0.0.0/8, multicast, reserved and
 * broadcast are not.
 */
export const isMgsAddress = (text: string): boolean => HOST_IPV4.test(text)

/**
 * The address of an Azure Managed Lustre filesystem's management server (MGS): a strict dotted
 * IPv4 address of a host (four decimal octets 0-255 without leading zeros, so `010.0.0.4` is
 * refused, because `mount` would read it as octal; the first octet 1-223).
 */
export const MgsAddress = Schema.String.check(
  Schema.makeFilter<string>((text) => isMgsAddress(text) || mgsAddressMessage(text), {
    expected: "the IPv4 address of a host, such as 10.0.0.4",
    arbitraryConstraint: { patterns: [{ source: HOST_IPV4.source, flags: "" }] }
  })
).pipe(Schema.brand("MgsAddress"))
export type MgsAddress = typeof MgsAddress.Type

/** Parses `mgs-ip-address`; the failure is the full user-facing message. */
export const parseMgsAddress = (text: string): Result.Result<MgsAddress, string> =>
  isMgsAddress(text) ? Result.succeed(text as MgsAddress) : Result.fail(mgsAddressMessage(text))
