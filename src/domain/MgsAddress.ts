import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`)

/** The message sent to the user when `mgs-ip-address` is not a dotted IPv4 address. */
export const mgsAddressMessage = (value: string): string =>
  `mgs-ip-address ${JSON.stringify(value)} is not an IPv4 address; use the MGS address shown in the ` +
  `Azure portal (Client connection), e.g. 10.0.0.4`

/** True when `text` is a strict dotted-quad IPv4 address: four octets 0-255, no leading zeros. */
export const isMgsAddress = (text: string): boolean => IPV4.test(text)

/**
 * The address of an Azure Managed Lustre filesystem's management server (MGS): a strict dotted
 * IPv4 address (four decimal octets 0-255 without leading zeros, so `010.0.0.4` is refused,
 * because `mount` would read it as octal).
 */
export const MgsAddress = Schema.String.check(
  Schema.makeFilter<string>((text) => isMgsAddress(text) || mgsAddressMessage(text), {
    expected: "an IPv4 address such as 10.0.0.4",
    arbitraryConstraint: { patterns: [{ source: IPV4.source, flags: "" }] }
  })
).pipe(Schema.brand("MgsAddress"))
export type MgsAddress = typeof MgsAddress.Type

/** Parses `mgs-ip-address`; the failure is the full user-facing message. */
export const parseMgsAddress = (text: string): Result.Result<MgsAddress, string> =>
  isMgsAddress(text) ? Result.succeed(text as MgsAddress) : Result.fail(mgsAddressMessage(text))
