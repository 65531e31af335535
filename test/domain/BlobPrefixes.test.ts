import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { MAX_BLOB_PREFIX_LENGTH, parseBlobPrefixList } from "../../src/domain/BlobPrefixes.js"

/** A path component of a blob's name: inner spaces, dots and non-ASCII, never "." or "..", no space at either end. */
const Component = Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9_~.é()=+-](?:[a-zA-Z0-9_~. é()=+-]{0,8}[a-zA-Z0-9_~.é()=+-])?$/)).check(
  Schema.makeFilter((name: string) => name !== "." && name !== "..")
)
/** A prefix as the user may write it: with or without the leading "/", a trailing "/", spaces around. */
const Written = Schema.Struct({
  components: Schema.Array(Component).check(Schema.isMaxLength(4)),
  lead: Schema.Boolean,
  trail: Schema.Boolean,
  padding: Schema.Literals(["", " ", "  "])
})
const written = (w: typeof Written.Type): string => {
  const body = w.components.join("/")
  if (body === "") return `${w.padding}/${w.padding}`
  return `${w.padding}${w.lead ? "/" : ""}${body}${w.trail ? "/" : ""}${w.padding}`
}
/** The prefix AMLFS is given: one leading "/", the trailing "/" kept (it narrows the match). */
const canonical = (w: typeof Written.Type): string =>
  w.components.length === 0 ? "/" : `/${w.components.join("/")}${w.trail ? "/" : ""}`

const Limit = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 6 }))

/** Anything a user could type, with what matters to prefixes over-represented. */
const Hostile = Schema.Union([
  Schema.String,
  Schema.String.check(Schema.isPattern(/^(?:\/|,| |\.\.|\.|\0|\n|\u007f|a|é|\ud800|-){0,20}$/))
])

describe("blob name prefix lists", () => {
  it.prop("reads what was written: a leading / added, each prefix once in first-seen order, the limit counting distinct ones", [
    Schema.Array(Written).check(Schema.isMinLength(1), Schema.isMaxLength(10)),
    Limit
  ], ([prefixes, limit]) => {
    const expected = [...new Set(prefixes.map(canonical))]
    const parsed = parseBlobPrefixList(prefixes.map(written).join(","), limit)
    if (expected.length <= limit) expect(parsed).toEqual({ prefixes: expected, problems: [] })
    else {
      expect(parsed.problems).toEqual([`it has ${expected.length} different prefixes; Azure Managed Lustre takes at most ${limit}`])
    }
  })

  it.prop("a canonical list reads back to itself", [Schema.Array(Written).check(Schema.isMinLength(1), Schema.isMaxLength(10))], ([prefixes]) => {
    const { prefixes: read } = parseBlobPrefixList(prefixes.map(written).join(","), 100)
    expect(parseBlobPrefixList(read.join(","), 100)).toEqual({ prefixes: read, problems: [] })
  })

  it.prop("never throws; what it accepts is a list of clean prefixes, what it refuses is named", [Hostile, Limit], ([text, limit]) => {
    const { prefixes, problems } = parseBlobPrefixList(text, limit)
    if (problems.length > 0) {
      for (const problem of problems) expect(problem).toMatch(/^(the prefix "|it has an empty entry|it has \d+ different prefixes)/)
      return
    }
    expect(prefixes.length).toBeGreaterThan(0)
    expect(prefixes.length).toBeLessThanOrEqual(limit)
    expect(new Set(prefixes).size).toBe(prefixes.length)
    for (const prefix of prefixes) {
      expect(prefix.startsWith("/")).toBe(true)
      expect(prefix.isWellFormed()).toBe(true)
      expect(prefix).not.toMatch(/[\u0000-\u001f\u007f,]/)
      expect(prefix).not.toMatch(/^\s|\s$/)
      const components = prefix.slice(1).split("/")
      expect(components.slice(0, -1)).not.toContain("")
      expect(components).not.toContain(".")
      expect(components).not.toContain("..")
    }
  })

  it.prop("a bad prefix anywhere in the list is refused, naming it", [
    Schema.Array(Written).check(Schema.isMinLength(1), Schema.isMaxLength(5)),
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })),
    Schema.Literals(["..", ".", "a\u0000b", "a\nb", "\u007f", "", "\ud800"])
  ], ([prefixes, at, bad]) => {
    const entries = prefixes.map(canonical)
    const index = at % entries.length
    const poisoned = entries.map((entry, i) => (i === index ? `/x/${bad}/z` : entry))
    const { problems } = parseBlobPrefixList(poisoned.join(","), 100)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain(`the prefix ${JSON.stringify(poisoned[index])}`)
  })

  it("examples", () => {
    expect(parseBlobPrefixList("datasets, /models/ ,/,datasets,/datasets", 100)).toEqual({
      prefixes: ["/datasets", "/models/", "/"],
      problems: []
    })
    expect(parseBlobPrefixList("/a b/c", 1)).toEqual({ prefixes: ["/a b/c"], problems: [] })
    expect(parseBlobPrefixList("/a,/a, a", 1)).toEqual({ prefixes: ["/a"], problems: [] })
    expect(parseBlobPrefixList("x".repeat(MAX_BLOB_PREFIX_LENGTH), 1).problems).toEqual([])
  })

  it("refusals", () => {
    const problems = (text: string, limit = 100) => parseBlobPrefixList(text, limit).problems
    expect(problems("/a,,/b")).toEqual([`it has an empty entry (separate the prefixes with single commas; "/" alone stands for everything)`])
    expect(problems(" ")).toEqual([`it has an empty entry (separate the prefixes with single commas; "/" alone stands for everything)`])
    expect(problems("/a/../b,c/./d")).toEqual([
      `the prefix "/a/../b" has a "." or ".." path component, which no file in the filesystem can have`,
      `the prefix "/c/./d" has a "." or ".." path component, which no file in the filesystem can have`
    ])
    expect(problems("//a")).toEqual([`the prefix "//a" has an empty path component ("//")`])
    expect(problems("/a//b/")).toEqual([`the prefix "/a//b/" has an empty path component ("//")`])
    expect(problems("/a\u0000")).toEqual([`the prefix "/a\\u0000" has a control character (such as NUL or a line break)`])
    expect(problems("/a\ud800")).toEqual([`the prefix "/a\\ud800" is not well-formed Unicode (it has a lone surrogate)`])
    const long = "x".repeat(MAX_BLOB_PREFIX_LENGTH + 1)
    expect(problems(long)).toEqual([
      `the prefix ${JSON.stringify(`/${long}`.slice(0, 200) + "…")} (1026 characters) is 1025 characters long; a blob's name is at most 1024`
    ])
    expect(problems("/a,/b,/c", 2)).toEqual(["it has 3 different prefixes; Azure Managed Lustre takes at most 2"])
    expect(problems("/a,/b,,/..", 1)).toHaveLength(2)
  })
})
