/**
 * The Go-template renderer the chart tests rely on: each case is what Go's text/template with
 * Helm's functions gives for the same input, so the chart tests compare against Helm's output.
 */
import { describe, expect, it } from "vitest"
import { Chart, TemplateError, type Value } from "./goTemplate.js"

const render = (source: string, data: Value = {}, helpers = ""): string =>
  new Chart([{ name: "t.yaml", source }, { name: "_helpers.tpl", source: helpers }]).render("t.yaml", data)

describe("Go template subset", () => {
  it("prints text and values, and trims whitespace next to {{- and -}}", () => {
    expect(render("a {{ .x }} b", { x: "v" })).toBe("a v b")
    expect(render("a  \n {{- .x -}} \n  b", { x: 1 })).toBe("a1b")
    expect(render("a {{- /* a comment */}} b")).toBe("a b")
    expect(render("a {{/* gone */}} b")).toBe("a  b")
    expect(render("x: {{ .n }}\ny: {{ .b }}", { n: 29762, b: false })).toBe("x: 29762\ny: false")
  })

  it("treats false, 0, \"\", empty lists and maps and nil as false in if", () => {
    const t = "{{ if .v }}yes{{ else }}no{{ end }}"
    for (const v of [false, 0, "", [], {}, null]) expect(render(t, { v })).toBe("no")
    expect(render("{{ if .absent }}yes{{ else }}no{{ end }}", {})).toBe("no")
    for (const v of [true, 1, "x", [0], { a: null }]) expect(render(t, { v })).toBe("yes")
    expect(render("{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}", { a: false, b: true })).toBe("B")
    expect(render("{{ if not .a }}not{{ end }}", { a: "" })).toBe("not")
    expect(render("{{ if and .a .b }}both{{ end }}{{ if or .a .b }}one{{ end }}", { a: true, b: false })).toBe("one")
  })

  it("ranges over lists in order and maps in key order, with variables and else", () => {
    expect(render("{{ range .l }}[{{ . }}]{{ end }}", { l: ["a", "b"] })).toBe("[a][b]")
    expect(render("{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}", { m: { b: 2, a: 1 } })).toBe("a=1;b=2;")
    expect(render("{{ range .l }}x{{ else }}empty{{ end }}", { l: [] })).toBe("empty")
    expect(render("{{ range $i, $e := .l }}{{ $i }}{{ $e }}{{ end }}", { l: ["a", "b"] })).toBe("0a1b")
  })

  it("moves dot with with, and keeps $ as the root", () => {
    expect(render("{{ with .a }}{{ .b }}/{{ $.top }}{{ end }}", { a: { b: "in" }, top: "root" })).toBe("in/root")
    expect(render("{{ with .a }}set{{ else }}unset{{ end }}", { a: {} })).toBe("unset")
  })

  it("has Helm's default, quote, indent, nindent and toYaml", () => {
    expect(render("{{ .t | default \"x\" }}", { t: "" })).toBe("x")
    expect(render("{{ .t | default \"x\" }}", { t: "y" })).toBe("y")
    // Helm's classic trap, kept: default treats false as empty.
    expect(render("{{ .b | default true }}", { b: false })).toBe("true")
    expect(render("{{ .s | quote }}", { s: "a\"b" })).toBe("\"a\\\"b\"")
    expect(render("{{ .s | indent 2 }}", { s: "a\n\nb" })).toBe("  a\n  \n  b")
    expect(render("k:{{ .s | nindent 2 }}", { s: "a\nb" })).toBe("k:\n  a\n  b")
    expect(render("{{ toYaml .m }}", { m: { z: 1, a: { c: ["x"], b: true } } })).toBe("a:\n  b: true\n  c:\n    - x\nz: 1")
    expect(render("{{ toYaml .m }}", { m: {} })).toBe("{}")
  })

  it("includes templates defined in any file", () => {
    const helpers = "{{- define \"img\" -}}\n{{ .repo }}:{{ .tag | default \"latest\" }}\n{{- end -}}"
    expect(render("image: {{ include \"img\" .i }}", { i: { repo: "r", tag: "" } }, helpers)).toBe("image: r:latest")
    expect(render("{{ (include \"img\" .i) | quote }}", { i: { repo: "r", tag: "1" } }, helpers)).toBe("\"r:1\"")
  })

  it("refuses what it does not render as Go would", () => {
    const fails = (source: string, data: Value, message: RegExp) =>
      expect(() => render(source, data)).toThrow(message)
    fails("{{ .missing }}", {}, /cannot print a missing value/)
    fails("{{ .a.b }}", {}, /nil pointer evaluating \.a\.b/)
    fails("{{ .a.b }}", { a: "text" }, /not a map/)
    fails("{{ upper .a }}", { a: "x" }, /upper is not in the supported subset/)
    fails("{{ .n }}", { n: 1000000 }, /would print differently in Go/)
    fails("{{ .n }}", { n: 0.5 }, /would print differently in Go/)
    fails("{{ if eq .n 1 }}x{{ end }}", { n: 1 }, /compares strings and booleans only/)
    fails("{{ .l }}", { l: [1] }, /cannot print a list or map/)
    fails("{{ if .a }}x", { a: true }, /missing \{\{end\}\}/)
    fails("x {{ end }}", {}, /outside a block/)
    expect(() => render("{{ include \"nope\" . }}")).toThrow(TemplateError)
  })
})
