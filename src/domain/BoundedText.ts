/**
 * Request values echoed in error messages and log fields are cut to this many characters: a
 * 70,000-character volume id must not become a 70,000-character gRPC status (grpc-js never
 * delivers one that large, and the connection hangs).
 */
export const QUOTED_CHARACTERS = 200

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff

/** The first `limit` UTF-16 code units of `text`, one fewer rather than half a surrogate pair. */
const headOf = (text: string, limit: number): string =>
  text.slice(0, isHighSurrogate(text.charCodeAt(limit - 1)) ? limit - 1 : limit)

/**
 * A request value quoted for a message, as JSON.stringify quotes it; a longer one is cut, with
 * its total length: `"pv-aaaa…" (70000 characters)`.
 */
export const quote = (text: string): string =>
  text.length <= QUOTED_CHARACTERS
    ? JSON.stringify(text)
    : `${JSON.stringify(`${headOf(text, QUOTED_CHARACTERS)}…`)} (${text.length} characters)`

/** A request value for a log field, unquoted; a longer one is cut, with its total length. */
export const bounded = (text: string): string =>
  text.length <= QUOTED_CHARACTERS ? text : `${headOf(text, QUOTED_CHARACTERS)}… (${text.length} characters)`

const isContinuationByte = (byte: number): boolean => (byte & 0xc0) === 0x80

/**
 * `text` in at most `maxBytes` bytes of UTF-8, cut on a character boundary with `note` appended
 * when it does not fit. Lone surrogates become U+FFFD, so the result is always well-formed.
 */
export const cutToUtf8Bytes = (text: string, maxBytes: number, note: (totalBytes: number) => string): string => {
  const bytes = Buffer.from(text.toWellFormed(), "utf8")
  if (bytes.length <= maxBytes) return text.toWellFormed()
  const suffix = note(bytes.length)
  let end = Math.max(0, maxBytes - Buffer.byteLength(suffix))
  while (end > 0 && isContinuationByte(bytes[end] ?? 0)) end--
  return bytes.subarray(0, end).toString("utf8") + suffix
}
