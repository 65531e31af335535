import * as Arbitrary from "effect/Arbitrary"
import { between, pick, weighted } from "./choices.js"

/**
 * What a corrupted request does to the bytes of a well-formed one: a byte flipped, the message
 * cut short, protobuf-shaped trouble appended (a wrong wire type, invalid UTF-8, a length past
 * the end, an unclosed group), random bytes appended, or random bytes instead of the message.
 * Positions are per mille of the message's length, so one corruption fits any message.
 */
export type Corruption =
  | { readonly kind: "flip"; readonly atPerMille: number; readonly mask: number }
  | { readonly kind: "truncate"; readonly atPerMille: number }
  | { readonly kind: "append"; readonly bytes: ReadonlyArray<number> }
  | { readonly kind: "replace"; readonly bytes: ReadonlyArray<number> }

/** Hand-made tails: each is a protobuf field a strict decoder must cope with. */
const troubleTails: ReadonlyArray<ReadonlyArray<number>> = [
  [0x08, 0x01], // field 1 as a varint: the wrong wire type for a string field
  [0x0a, 0x02, 0xc3, 0x28], // field 1, a string of invalid UTF-8
  [0x22, 0x03, 0xed, 0xa0, 0x80], // field 4 (target_path, volume_path), an encoded surrogate
  [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // field 1, a length far past the end
  [0x0b], // a group that never ends
  [0x0c], // a group end without a start
  [0xa2, 0x06, 0x00], // an unknown field 100, empty
  [0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01], // the highest field number, a varint
  [0x0f], // wire type 7, which does not exist
  [0x12, 0x04, 0x0a, 0x00, 0x12, 0x00] // field 2 as a map entry with an empty key and value
]

const bytes = (maxLength: number) => Arbitrary.array(between(0, 255), { maxLength })

export const corruption: Arbitrary.Arbitrary<Corruption> = weighted<Corruption>([
  [3, Arbitrary.map(Arbitrary.all([between(0, 999), between(1, 255)]), ([atPerMille, mask]) => ({ kind: "flip", atPerMille, mask }))],
  [2, Arbitrary.map(between(0, 999), (atPerMille) => ({ kind: "truncate", atPerMille }))],
  [3, Arbitrary.map(pick(troubleTails), (tail) => ({ kind: "append", bytes: tail }))],
  [1, Arbitrary.map(bytes(24), (junk) => ({ kind: "append", bytes: junk }))],
  [1, Arbitrary.map(bytes(48), (junk) => ({ kind: "replace", bytes: junk }))]
])

const at = (length: number, perMille: number) => Math.floor((length * perMille) / 1000)

/** The corrupted copy of `message`. */
export const corrupt = (message: Uint8Array, how: Corruption): Uint8Array => {
  switch (how.kind) {
    case "flip": {
      if (message.length === 0) return Uint8Array.of(how.mask)
      const copy = Uint8Array.from(message)
      const index = at(message.length, how.atPerMille)
      copy[index] = copy[index]! ^ how.mask
      return copy
    }
    case "truncate":
      return message.subarray(0, at(message.length, how.atPerMille))
    case "append":
      return Uint8Array.from([...message, ...how.bytes])
    case "replace":
      return Uint8Array.from(how.bytes)
  }
}
