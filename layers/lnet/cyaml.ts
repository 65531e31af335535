import * as Result from "effect/Result"

/**
 * The YAML that lnetctl(8) prints. lnetctl does not use a YAML library to write: its own cYAML
 * printer (lnet/utils/lnetconfig/cyaml.c) writes a small, regular subset, which this module reads
 * without a YAML dependency:
 *
 *   net:                               a key whose value is a block (4 spaces deeper)
 *       - net type: tcp                a sequence item; its first entry shares the "- " line,
 *         local NI(s):                 the others are 2 spaces right of the dash
 *           - nid: 10.0.0.4@tcp
 *             status: up
 *             interfaces:
 *                 0: eth0
 *             lnd tunables:            a key with nothing under it: an empty map (cYAML prints
 *                                      an empty list the same way)
 *             CPT: "[0]"               quotes belong to the value lnetctl built, and are dropped
 *
 * Keys may hold spaces and parentheses; a value is everything after the first ": ", so it may hold
 * ": " itself ("descr: failed to ping 10.0.0.4@tcp: Input/output error"). A value with a newline
 * goes on over lines indented past its key, which is how an error text ending in "\n" leaves a
 * line of spaces behind. There are no comments, flow collections or anchors.
 */
export type CyamlValue = string | CyamlMap | CyamlSeq

export interface CyamlMap {
  readonly _tag: "Map"
  readonly entries: ReadonlyArray<readonly [key: string, value: CyamlValue]>
}

/** cYAML's sequences hold maps only. */
export interface CyamlSeq {
  readonly _tag: "Seq"
  readonly items: ReadonlyArray<CyamlMap>
}

export const cyamlMap = (entries: ReadonlyArray<readonly [string, CyamlValue]>): CyamlMap => ({ _tag: "Map", entries })
export const cyamlSeq = (items: ReadonlyArray<CyamlMap>): CyamlSeq => ({ _tag: "Seq", items })

/** The first value under `key`, if any. */
export const lookup = (map: CyamlMap, key: string): CyamlValue | undefined => map.entries.find(([k]) => k === key)?.[1]

export const isMap = (value: CyamlValue | undefined): value is CyamlMap => typeof value === "object" && value._tag === "Map"
export const isSeq = (value: CyamlValue | undefined): value is CyamlSeq => typeof value === "object" && value._tag === "Seq"

interface Line {
  readonly number: number
  readonly indent: number
  readonly text: string
}

const unquote = (value: string): string =>
  value.length >= 2 && value.startsWith("\"") && value.endsWith("\"") ? value.slice(1, -1) : value

const isItem = (text: string): boolean => text === "-" || text.startsWith("- ")

/** Reads lnetctl's YAML; the failure says which line does not fit and why. */
export const parseCyaml = (text: string): Result.Result<CyamlMap, string> => {
  const lines: Array<Line> = []
  text.split("\n").forEach((raw, index) => {
    const line = raw.trimEnd()
    const content = line.trimStart()
    if (content !== "") lines.push({ number: index + 1, indent: line.length - content.length, text: content })
  })
  let next = 0
  let failure: string | undefined
  const peek = (): Line | undefined => (failure === undefined ? lines[next] : undefined)
  const fail = (line: Line, why: string): CyamlMap => {
    failure ??= `line ${line.number}: ${why}`
    return cyamlMap([])
  }

  // A value goes on over the lines indented past its key (cYAML's multi-line strings).
  const continuation = (keyIndent: number, first: string): string => {
    const parts = [first]
    for (let line = peek(); line !== undefined && line.indent > keyIndent; line = peek()) {
      parts.push(line.text)
      next++
    }
    return parts.join("\n")
  }

  const parseBlock = (indent: number): CyamlValue => {
    const first = peek()
    return first !== undefined && isItem(first.text) ? parseSeq(indent) : parseMap(indent)
  }

  const parseSeq = (indent: number): CyamlSeq => {
    const items: Array<CyamlMap> = []
    for (let line = peek(); line !== undefined && line.indent === indent && isItem(line.text); line = peek()) {
      const rest = line.text.slice(1).trimStart()
      if (rest === "") {
        next++
        const deeper = peek()
        if (deeper === undefined || deeper.indent <= indent) {
          items.push(cyamlMap([]))
          continue
        }
        const block = parseBlock(deeper.indent)
        items.push(isMap(block) ? block : fail(deeper, "a sequence item holds a sequence"))
        continue
      }
      // The item's first entry sits on the dash line, in the column its other entries use.
      const itemIndent = indent + line.text.length - rest.length
      lines[next] = { number: line.number, indent: itemIndent, text: rest }
      items.push(parseMap(itemIndent))
    }
    return cyamlSeq(items)
  }

  const parseMap = (indent: number): CyamlMap => {
    const entries: Array<readonly [string, CyamlValue]> = []
    for (let line = peek(); line !== undefined && line.indent >= indent; line = peek()) {
      if (line.indent > indent) return fail(line, "indented deeper than its block")
      if (isItem(line.text)) return fail(line, "a sequence item where a key was expected")
      next++
      const separator = line.text.indexOf(": ")
      if (separator > 0) {
        entries.push([line.text.slice(0, separator), unquote(continuation(indent, line.text.slice(separator + 2)))])
        continue
      }
      if (!line.text.endsWith(":") || line.text.length === 1) {
        return fail(line, `${JSON.stringify(line.text)} is neither "key: value" nor "key:"`)
      }
      const deeper = peek()
      entries.push([line.text.slice(0, -1), deeper !== undefined && deeper.indent > indent ? parseBlock(deeper.indent) : cyamlMap([])])
    }
    return cyamlMap(entries)
  }

  const top = lines[0]
  if (top === undefined) return Result.succeed(cyamlMap([]))
  const document = parseMap(top.indent)
  const left = peek()
  if (failure === undefined && left !== undefined) fail(left, "indented less than the document")
  return failure === undefined ? Result.succeed(document) : Result.fail(failure)
}

const INDENT = 4
const ITEM_INDENT = 2

/**
 * Writes a document as cYAML_print_tree does: blocks 4 spaces deeper than their key, a sequence
 * item's entries 2 spaces right of its dash. The tests round-trip the parser through it.
 */
export const formatCyaml = (document: CyamlMap): string => {
  const out: Array<string> = []
  const entry = (key: string, value: CyamlValue, column: number, lead: string) => {
    if (typeof value === "string") {
      const [first, ...rest] = value.split("\n")
      out.push(`${lead}${key}: ${first ?? ""}`)
      for (const line of rest) out.push(`${" ".repeat(column + key.length + 2)}${line}`)
      return
    }
    out.push(`${lead}${key}:`)
    if (value._tag === "Map") for (const [k, v] of value.entries) entry(k, v, column + INDENT, " ".repeat(column + INDENT))
    else for (const item of value.items) sequenceItem(item, column + INDENT - (column % INDENT))
  }
  const sequenceItem = (item: CyamlMap, dashColumn: number) => {
    const column = dashColumn + ITEM_INDENT
    if (item.entries.length === 0) out.push(`${" ".repeat(dashColumn)}-`)
    item.entries.forEach(([key, value], index) => {
      entry(key, value, column, index === 0 ? `${" ".repeat(dashColumn)}- ` : " ".repeat(column))
    })
  }
  for (const [key, value] of document.entries) entry(key, value, 0, "")
  return out.map((line) => `${line}\n`).join("")
}
