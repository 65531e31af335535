import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { bounded, cutToUtf8Bytes, QUOTED_CHARACTERS, quote } from "../../src/domain/BoundedText.js"

/** Any text, from empty to many times the bound: a short piece repeated. */
const Text = Schema.Struct({
  piece: Schema.String,
  times: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2000 }))
})
const textOf = ({ piece, times }: typeof Text.Type) => piece.repeat(times)
const Astral = Schema.Literals(["😀", "𝄞", "你", "é", "a"])
const MaxBytes = Schema.Int.check(Schema.isBetween({ minimum: 64, maximum: 4096 }))

describe("quote", () => {
  it.prop("quotes a value within the bound exactly as JSON.stringify does", [Schema.String], ([text]) => {
    if (text.length <= QUOTED_CHARACTERS) expect(quote(text)).toBe(JSON.stringify(text))
  })

  it.prop("cuts a longer value, saying how long it was", [Text], ([t]) => {
    const text = textOf(t)
    const quoted = quote(text)
    // JSON escapes at most 6 characters per character, e.g. \u0000.
    expect(quoted.length).toBeLessThanOrEqual(6 * QUOTED_CHARACTERS + 40)
    if (text.length > QUOTED_CHARACTERS) {
      expect(quoted).toMatch(new RegExp(`…" \\(${text.length} characters\\)$`))
      const head = JSON.parse(quoted.slice(0, quoted.lastIndexOf(" ("))) as string
      expect(text.startsWith(head.slice(0, -1))).toBe(true)
    }
  })

  it.prop("never splits a character made of two UTF-16 units", [Astral, Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))], ([character, offset]) => {
    const text = "x".repeat(offset) + character.repeat(QUOTED_CHARACTERS + 1)
    const head = JSON.parse(quote(text).slice(0, quote(text).lastIndexOf(" ("))) as string
    expect(head.isWellFormed()).toBe(true)
    expect(head.length).toBeGreaterThanOrEqual(QUOTED_CHARACTERS)
  })

  it("example: a 70,000-character volume id", () => {
    const id = `pv-${"a".repeat(69_997)}`
    expect(quote(id)).toBe(`"pv-${"a".repeat(QUOTED_CHARACTERS - 3)}…" (70000 characters)`)
    expect(bounded(id)).toBe(`pv-${"a".repeat(QUOTED_CHARACTERS - 3)}… (70000 characters)`)
    expect(bounded("pv-1")).toBe("pv-1")
  })
})

describe("cutToUtf8Bytes", () => {
  const note = (total: number) => `… (cut: ${total} bytes)`

  it.prop("fits the bound, stays well-formed, and keeps what fits unchanged", [Text, Astral, MaxBytes], ([t, character, maxBytes]) => {
    const text = `${textOf(t)}${character.repeat(t.times)}`
    const cut = cutToUtf8Bytes(text, maxBytes, note)
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(maxBytes)
    expect(cut.isWellFormed()).toBe(true)
    const wellFormed = text.toWellFormed()
    if (Buffer.byteLength(wellFormed) <= maxBytes) expect(cut).toBe(wellFormed)
    else {
      expect(cut.endsWith(note(Buffer.byteLength(wellFormed)))).toBe(true)
      expect(wellFormed.startsWith(cut.slice(0, -note(Buffer.byteLength(wellFormed)).length))).toBe(true)
    }
  })

  it("turns a lone surrogate into U+FFFD (grpc-js's encodeURI throws on one)", () => {
    expect(cutToUtf8Bytes("a\uD800b", 100, note)).toBe("a\uFFFDb")
  })
})
