/**
 * A small renderer for the subset of Go text/template and Helm's functions that
 * deploy/chart/azurelustre-csi uses, so that tests can render the chart without a Helm binary.
 *
 * It follows Go and Helm where the chart relies on them (whitespace trimming, truthiness,
 * `default`'s notion of empty, `indent`/`nindent`, `toYaml` trimming its final newline, map
 * iteration in key order) and refuses everything else loudly: an unknown function, printing a
 * missing value (Helm would print nothing), a number Go would print differently (Helm reads numbers as float64, and prints 1000000
 * as 1e+06), comparing numbers with `eq` (float64 against int fails in Go). A template that
 * renders here therefore renders the same under `helm template`, as long as it stays in the
 * subset; the tests of this file pin the Go behaviour each rule copies.
 */
import * as Yaml from "yaml"

export type Value = string | number | boolean | null | ReadonlyArray<Value> | { readonly [key: string]: Value }

export class TemplateError extends Error {}

// ---------------------------------------------------------------------------------------------
// Lexing: text and actions, with `{{-` / `-}}` trimming applied to the neighbouring text.

type Token =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Action"; readonly body: string; readonly at: string }

const isSpace = (c: string) => c === " " || c === "\t" || c === "\r" || c === "\n"

const lex = (source: string, file: string): Array<Token> => {
  const tokens: Array<Token> = []
  let at = 0
  let trimNext = false
  while (at < source.length) {
    const open = source.indexOf("{{", at)
    let text = open < 0 ? source.slice(at) : source.slice(at, open)
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "")
    if (open < 0) {
      if (text !== "") tokens.push({ _tag: "Text", text })
      break
    }
    const trimLeft = source.startsWith("{{-", open) && isSpace(source[open + 3] ?? "")
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, "")
    if (text !== "") tokens.push({ _tag: "Text", text })
    const line = source.slice(0, open).split("\n").length
    const where = `${file}:${line}`
    const bodyStart = open + (trimLeft ? 3 : 2)
    let close: number
    if (source.startsWith("/*", bodyStart) || source.startsWith(" /*", bodyStart)) {
      const end = source.indexOf("*/", bodyStart)
      if (end < 0) throw new TemplateError(`${where}: unclosed comment`)
      close = source.indexOf("}}", end)
    } else {
      close = findClose(source, bodyStart, where)
    }
    if (close < 0) throw new TemplateError(`${where}: unclosed action`)
    const trimRight = close > bodyStart && source[close - 1] === "-" && isSpace(source[close - 2] ?? "")
    const body = source.slice(bodyStart, trimRight ? close - 1 : close).trim()
    if (!body.startsWith("/*")) tokens.push({ _tag: "Action", body, at: where })
    trimNext = trimRight
    at = close + 2
  }
  return tokens
}

/** The `}}` closing an action, skipping string literals. */
const findClose = (source: string, from: number, where: string): number => {
  let i = from
  while (i < source.length) {
    const c = source[i]
    if (c === "\"") {
      i++
      while (i < source.length && source[i] !== "\"") i += source[i] === "\\" ? 2 : 1
      if (i >= source.length) throw new TemplateError(`${where}: unterminated string`)
    } else if (c === "`") {
      const end = source.indexOf("`", i + 1)
      if (end < 0) throw new TemplateError(`${where}: unterminated raw string`)
      i = end
    } else if (c === "}" && source[i + 1] === "}") {
      return i
    }
    i++
  }
  return -1
}

// ---------------------------------------------------------------------------------------------
// Expressions: pipelines of commands; a command is a function call or one operand.

type Operand =
  | { readonly _tag: "Literal"; readonly value: Value }
  | { readonly _tag: "Field"; readonly base: "dot" | { readonly variable: string } | Pipeline; readonly path: ReadonlyArray<string> }
  | { readonly _tag: "Function"; readonly name: string }

interface Command {
  readonly operands: ReadonlyArray<Operand>
}

interface Pipeline {
  readonly _tag: "Pipeline"
  /** `$x := ...` declares, `$x = ...` assigns. */
  readonly declare: ReadonlyArray<string>
  readonly commands: ReadonlyArray<Command>
}

const tokenizeExpression = (text: string, where: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (isSpace(c)) {
      i++
      continue
    }
    if (c === "\"") {
      let j = i + 1
      while (j < text.length && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1
      out.push(text.slice(i, j + 1))
      i = j + 1
      continue
    }
    if (c === "`") {
      const j = text.indexOf("`", i + 1)
      out.push(text.slice(i, j + 1))
      i = j + 1
      continue
    }
    if (c === "(" || c === ")" || c === "|" || c === ",") {
      out.push(c)
      i++
      continue
    }
    if (text.startsWith(":=", i)) {
      out.push(":=")
      i += 2
      continue
    }
    let j = i
    while (j < text.length && !isSpace(text[j]!) && !"()|,".includes(text[j]!) && !text.startsWith(":=", j)) j++
    if (j === i) throw new TemplateError(`${where}: cannot read ${JSON.stringify(text.slice(i))}`)
    // `(...).Field`: a field chain right after a parenthesis belongs to it.
    out.push(text.slice(i, j))
    i = j
  }
  return out
}

class ExpressionParser {
  private at = 0
  constructor(private readonly tokens: ReadonlyArray<string>, private readonly where: string) {}

  parsePipeline(allowDeclare: boolean): Pipeline {
    const declare: Array<string> = []
    if (allowDeclare) {
      const save = this.at
      const names: Array<string> = []
      while (this.peek()?.startsWith("$") === true) {
        names.push(this.next())
        if (this.peek() === ",") {
          this.next()
          continue
        }
        break
      }
      if (names.length > 0 && this.peek() === ":=") {
        this.next()
        declare.push(...names)
      } else {
        this.at = save
      }
    }
    const commands: Array<Command> = [this.parseCommand()]
    while (this.peek() === "|") {
      this.next()
      commands.push(this.parseCommand())
    }
    return { _tag: "Pipeline", declare, commands }
  }

  atEnd(): boolean {
    return this.at >= this.tokens.length
  }

  private peek(): string | undefined {
    return this.tokens[this.at]
  }

  private next(): string {
    const token = this.tokens[this.at++]
    if (token === undefined) throw new TemplateError(`${this.where}: expression ends too soon`)
    return token
  }

  private parseCommand(): Command {
    const operands: Array<Operand> = []
    while (!this.atEnd() && this.peek() !== "|" && this.peek() !== ")") operands.push(this.parseOperand())
    if (operands.length === 0) throw new TemplateError(`${this.where}: empty command`)
    return { operands }
  }

  private parseOperand(): Operand {
    const token = this.next()
    if (token === "(") {
      const inner = this.parsePipeline(false)
      if (this.next() !== ")") throw new TemplateError(`${this.where}: missing )`)
      const follow = this.peek()
      if (follow?.startsWith(".") && follow.length > 1) {
        this.next()
        return { _tag: "Field", base: inner, path: follow.slice(1).split(".") }
      }
      return { _tag: "Field", base: inner, path: [] }
    }
    if (token.startsWith("\"")) return { _tag: "Literal", value: stringLiteral(token, this.where) }
    if (token.startsWith("`")) return { _tag: "Literal", value: token.slice(1, -1) }
    if (token === "true" || token === "false") return { _tag: "Literal", value: token === "true" }
    if (token === "nil") return { _tag: "Literal", value: null }
    if (/^-?\d+$/.test(token)) return { _tag: "Literal", value: Number(token) }
    if (token === ".") return { _tag: "Field", base: "dot", path: [] }
    if (token.startsWith(".")) return { _tag: "Field", base: "dot", path: token.slice(1).split(".") }
    if (token.startsWith("$")) {
      const [variable, ...path] = token.split(".")
      return { _tag: "Field", base: { variable: variable! }, path }
    }
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) return { _tag: "Function", name: token }
    throw new TemplateError(`${this.where}: unsupported operand ${JSON.stringify(token)}`)
  }
}

/** A double-quoted Go string literal (JSON's escapes cover the chart's). */
const stringLiteral = (token: string, where: string): string => {
  const value: unknown = JSON.parse(token)
  if (typeof value !== "string") throw new TemplateError(`${where}: not a string literal: ${token}`)
  return value
}

const parseExpression = (text: string, where: string, allowDeclare: boolean): Pipeline => {
  const parser = new ExpressionParser(tokenizeExpression(text, where), where)
  const pipeline = parser.parsePipeline(allowDeclare)
  if (!parser.atEnd()) throw new TemplateError(`${where}: unexpected text in ${JSON.stringify(text)}`)
  return pipeline
}

// ---------------------------------------------------------------------------------------------
// Template tree.

type Node =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Output"; readonly pipeline: Pipeline; readonly at: string }
  | {
    readonly _tag: "If" | "With"
    readonly branches: ReadonlyArray<{ readonly condition: Pipeline; readonly body: ReadonlyArray<Node> }>
    readonly otherwise: ReadonlyArray<Node>
    readonly at: string
  }
  | {
    readonly _tag: "Range"
    readonly pipeline: Pipeline
    readonly body: ReadonlyArray<Node>
    readonly otherwise: ReadonlyArray<Node>
    readonly at: string
  }
  | { readonly _tag: "Template"; readonly name: string; readonly pipeline: Pipeline | undefined; readonly at: string }

type Block = { readonly kind: "root" | "if" | "with" | "range" | "define"; readonly at: string }

const keyword = (body: string): [string, string] => {
  const match = /^(if|else|end|range|with|define|template|block)\b\s*(.*)$/s.exec(body)
  return match === null ? ["", body] : [match[1]!, match[2]!]
}

class TreeParser {
  private at = 0
  constructor(private readonly tokens: ReadonlyArray<Token>, private readonly defines: Map<string, ReadonlyArray<Node>>) {}

  parseRoot(): ReadonlyArray<Node> {
    const [body, stop] = this.parseList({ kind: "root", at: "top" })
    if (stop !== undefined) throw new TemplateError(`${stop.at}: unexpected {{${stop.body}}}`)
    return body
  }

  /** Nodes up to a closing `else`/`end` (returned) or the end of input. */
  private parseList(block: Block): [Array<Node>, Extract<Token, { _tag: "Action" }> | undefined] {
    const nodes: Array<Node> = []
    while (this.at < this.tokens.length) {
      const token = this.tokens[this.at++]!
      if (token._tag === "Text") {
        nodes.push({ _tag: "Text", text: token.text })
        continue
      }
      const [word, rest] = keyword(token.body)
      switch (word) {
        case "end":
        case "else":
          if (block.kind === "root") throw new TemplateError(`${token.at}: {{${token.body}}} outside a block`)
          return [nodes, token]
        case "if":
        case "with":
          nodes.push(this.parseConditional(word, rest, token.at))
          break
        case "range": {
          const pipeline = parseExpression(rest, token.at, true)
          const [body, stop] = this.parseList({ kind: "range", at: token.at })
          let otherwise: Array<Node> = []
          if (stop !== undefined && keyword(stop.body)[0] === "else") {
            const [elseBody, end] = this.parseList({ kind: "range", at: stop.at })
            this.expectEnd(end, token.at)
            otherwise = elseBody
          } else {
            this.expectEnd(stop, token.at)
          }
          nodes.push({ _tag: "Range", pipeline, body, otherwise, at: token.at })
          break
        }
        case "define": {
          if (block.kind !== "root") throw new TemplateError(`${token.at}: define inside a block`)
          const name = stringLiteral(rest.trim(), token.at)
          const [body, stop] = this.parseList({ kind: "define", at: token.at })
          this.expectEnd(stop, token.at)
          this.defines.set(name, body)
          break
        }
        case "template": {
          const match = /^("(?:[^"\\]|\\.)*")\s*(.*)$/s.exec(rest)
          if (match === null) throw new TemplateError(`${token.at}: template needs a quoted name`)
          const pipelineText = match[2]!.trim()
          nodes.push({
            _tag: "Template",
            name: stringLiteral(match[1]!, token.at),
            pipeline: pipelineText === "" ? undefined : parseExpression(pipelineText, token.at, false),
            at: token.at
          })
          break
        }
        case "block":
          throw new TemplateError(`${token.at}: block is not supported`)
        default:
          nodes.push({ _tag: "Output", pipeline: parseExpression(token.body, token.at, true), at: token.at })
      }
    }
    if (block.kind !== "root") throw new TemplateError(`${block.at}: missing {{end}}`)
    return [nodes, undefined]
  }

  private expectEnd(token: Extract<Token, { _tag: "Action" }> | undefined, opened: string): void {
    if (token === undefined || keyword(token.body)[0] !== "end" || keyword(token.body)[1] !== "") {
      throw new TemplateError(`${opened}: block not closed by {{end}}`)
    }
  }

  private parseConditional(kind: "if" | "with", conditionText: string, at: string): Node {
    const branches: Array<{ condition: Pipeline; body: ReadonlyArray<Node> }> = []
    let condition = parseExpression(conditionText, at, kind === "with")
    for (;;) {
      const [body, stop] = this.parseList({ kind, at })
      branches.push({ condition, body })
      if (stop === undefined) throw new TemplateError(`${at}: missing {{end}}`)
      const [word, rest] = keyword(stop.body)
      if (word === "end") return { _tag: kind === "if" ? "If" : "With", branches, otherwise: [], at }
      // else
      const [elseWord, elseRest] = keyword(rest)
      if (elseWord === kind) {
        condition = parseExpression(elseRest, stop.at, kind === "with")
        continue
      }
      if (rest.trim() !== "") throw new TemplateError(`${stop.at}: unsupported {{${stop.body}}}`)
      const [otherwise, end] = this.parseList({ kind, at: stop.at })
      this.expectEnd(end, at)
      return { _tag: kind === "if" ? "If" : "With", branches, otherwise, at }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

const isMap = (value: Value): value is { readonly [key: string]: Value } =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** Go's truth (text/template `if`, `with`, `and`, `or`, `not`). */
export const truthy = (value: Value): boolean => {
  if (value === null) return false
  if (typeof value === "boolean") return value
  if (typeof value === "number") return value !== 0
  if (typeof value === "string") return value !== ""
  if (Array.isArray(value)) return value.length > 0
  return Object.keys(value).length > 0
}

/** fmt.Sprint of a value read from values.yaml (numbers are float64 there). */
export const printValue = (value: Value, at: string): string => {
  if (typeof value === "string") return value
  if (typeof value === "boolean") return String(value)
  if (typeof value === "number") {
    // %v of a float64 switches to exponent form from 1e6 (and below 1e-4): refuse both.
    if (!Number.isInteger(value) || Math.abs(value) >= 1e6) {
      throw new TemplateError(`${at}: ${value} would print differently in Go; quote it in values.yaml`)
    }
    return String(value)
  }
  throw new TemplateError(`${at}: cannot print ${value === null ? "a missing value (nil)" : "a list or map"}; use toYaml`)
}

/** Sprig's `empty`, which `default` uses. */
const empty = (value: Value): boolean => !truthy(value)

/** go-yaml as Helm's toYaml uses it: keys sorted, block style, no final newline. */
export const toYaml = (value: Value): string =>
  Yaml.stringify(value, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, "")

/** Sprig's indent: every line, empty ones too. */
export const indent = (spaces: number, text: string): string => {
  const pad = " ".repeat(spaces)
  return pad + text.replaceAll("\n", `\n${pad}`)
}

/** Go's %q for the strings the chart quotes. */
const goQuote = (text: string, at: string): string => {
  if (/[\u0000-\u001f\u007f-\uffff]/.test(text)) throw new TemplateError(`${at}: quote only plain ASCII text`)
  return JSON.stringify(text)
}

type Fn = (args: ReadonlyArray<Value>, at: string, context: Context) => Value

const arity = (name: string, args: ReadonlyArray<Value>, count: number, at: string) => {
  if (args.length !== count) throw new TemplateError(`${at}: ${name} takes ${count} arguments, got ${args.length}`)
}

const intArg = (name: string, value: Value, at: string): number => {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new TemplateError(`${at}: ${name} needs an integer`)
  return value
}

const stringArg = (name: string, value: Value, at: string): string => {
  if (typeof value !== "string") throw new TemplateError(`${at}: ${name} needs a string, got ${JSON.stringify(value)}`)
  return value
}

const comparable = (name: string, value: Value, at: string): string | boolean => {
  if (typeof value === "string" || typeof value === "boolean") return value
  throw new TemplateError(`${at}: ${name} compares strings and booleans only (Go refuses float64 against int)`)
}

const functions: Readonly<Record<string, Fn>> = {
  include: (args, at, context) => {
    arity("include", args, 2, at)
    return context.renderNamed(stringArg("include", args[0]!, at), args[1]!, at)
  },
  toYaml: (args, at) => {
    arity("toYaml", args, 1, at)
    return toYaml(args[0]!)
  },
  indent: (args, at) => {
    arity("indent", args, 2, at)
    return indent(intArg("indent", args[0]!, at), stringArg("indent", args[1]!, at))
  },
  nindent: (args, at) => {
    arity("nindent", args, 2, at)
    return "\n" + indent(intArg("nindent", args[0]!, at), stringArg("nindent", args[1]!, at))
  },
  quote: (args, at) => {
    arity("quote", args, 1, at)
    return goQuote(printValue(args[0]!, at), at)
  },
  default: (args, at) => {
    arity("default", args, 2, at)
    return empty(args[1]!) ? args[0]! : args[1]!
  },
  eq: (args, at) => {
    arity("eq", args, 2, at)
    return comparable("eq", args[0]!, at) === comparable("eq", args[1]!, at)
  },
  ne: (args, at) => {
    arity("ne", args, 2, at)
    return comparable("ne", args[0]!, at) !== comparable("ne", args[1]!, at)
  },
  not: (args, at) => {
    arity("not", args, 1, at)
    return !truthy(args[0]!)
  },
  and: (args, at) => {
    if (args.length < 2) throw new TemplateError(`${at}: and takes at least 2 arguments`)
    return args.find((arg) => !truthy(arg)) ?? args[args.length - 1]!
  },
  or: (args, at) => {
    if (args.length < 2) throw new TemplateError(`${at}: or takes at least 2 arguments`)
    return args.find(truthy) ?? args[args.length - 1]!
  }
}

interface Context {
  readonly renderNamed: (name: string, data: Value, at: string) => string
}

interface Scope {
  readonly dot: Value
  readonly variables: Map<string, Value>
  readonly parent: Scope | undefined
}

const lookupVariable = (scope: Scope, name: string, at: string): Value => {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    if (s.variables.has(name)) return s.variables.get(name)!
  }
  throw new TemplateError(`${at}: undefined variable ${name}`)
}

/**
 * `.a.b.c`. As in Go, a key missing from a map is nil (Helm deletes keys set to null, so `with`
 * and `if` see nil); going further from nil, or into anything but a map, is an error. (That
 * every `.Values` path the chart reads is in values.yaml is a test of its own.)
 */
const field = (value: Value, path: ReadonlyArray<string>, at: string, shown: string): Value => {
  let current = value
  let walked = shown
  for (const name of path) {
    walked += `.${name}`
    if (current === null) throw new TemplateError(`${at}: nil pointer evaluating ${walked}`)
    if (!isMap(current)) throw new TemplateError(`${at}: ${walked}: not a map`)
    current = Object.hasOwn(current, name) ? current[name]! : null
  }
  return current
}

export class Chart {
  private readonly defines = new Map<string, ReadonlyArray<Node>>()
  private readonly files = new Map<string, ReadonlyArray<Node>>()

  /** Parses every file first, as Helm does, so that `define`s are visible from all of them. */
  constructor(files: ReadonlyArray<{ readonly name: string; readonly source: string }>) {
    for (const file of files) {
      this.files.set(file.name, new TreeParser(lex(file.source, file.name), this.defines).parseRoot())
    }
  }

  /** Renders one file with `data` (Helm: { Values, Release, Chart, ... }). */
  render(name: string, data: Value): string {
    const nodes = this.files.get(name)
    if (nodes === undefined) throw new TemplateError(`no template ${name}`)
    return this.renderNodes(nodes, { dot: data, variables: new Map([["$", data]]), parent: undefined })
  }

  private readonly context: Context = {
    renderNamed: (name, data, at) => {
      const nodes = this.defines.get(name)
      if (nodes === undefined) throw new TemplateError(`${at}: no template defined as ${JSON.stringify(name)}`)
      return this.renderNodes(nodes, { dot: data, variables: new Map([["$", data]]), parent: undefined })
    }
  }

  private renderNodes(nodes: ReadonlyArray<Node>, scope: Scope): string {
    let out = ""
    for (const node of nodes) out += this.renderNode(node, scope)
    return out
  }

  private renderNode(node: Node, scope: Scope): string {
    switch (node._tag) {
      case "Text":
        return node.text
      case "Output": {
        const value = this.evalPipeline(node.pipeline, scope, node.at)
        return node.pipeline.declare.length > 0 ? "" : printValue(value, node.at)
      }
      case "Template":
        return this.context.renderNamed(
          node.name,
          node.pipeline === undefined ? null : this.evalPipeline(node.pipeline, scope, node.at),
          node.at
        )
      case "If":
      case "With": {
        for (const branch of node.branches) {
          const inner: Scope = { dot: scope.dot, variables: new Map(), parent: scope }
          const value = this.evalPipeline(branch.condition, inner, node.at)
          if (truthy(value)) {
            return this.renderNodes(branch.body, node._tag === "With" ? { ...inner, dot: value } : inner)
          }
        }
        return this.renderNodes(node.otherwise, { dot: scope.dot, variables: new Map(), parent: scope })
      }
      case "Range": {
        const collection = this.evalPipeline({ ...node.pipeline, declare: [] }, scope, node.at)
        const entries: Array<[Value, Value]> = Array.isArray(collection)
          ? collection.map((item, index) => [index, item])
          : isMap(collection)
          ? Object.keys(collection).sort().map((key) => [key, collection[key]!])
          : collection === null
          ? []
          : (() => {
            throw new TemplateError(`${node.at}: range over ${JSON.stringify(collection)}`)
          })()
        if (entries.length === 0) return this.renderNodes(node.otherwise, { dot: scope.dot, variables: new Map(), parent: scope })
        const names = node.pipeline.declare
        let out = ""
        for (const [key, item] of entries) {
          const variables = new Map<string, Value>()
          if (names.length === 1) variables.set(names[0]!, item)
          if (names.length === 2) {
            variables.set(names[0]!, key)
            variables.set(names[1]!, item)
          }
          out += this.renderNodes(node.body, { dot: item, variables, parent: scope })
        }
        return out
      }
    }
  }

  private evalPipeline(pipeline: Pipeline, scope: Scope, at: string): Value {
    let result: Value | undefined 
    for (const command of pipeline.commands) result = this.evalCommand(command, scope, at, result)
    if (result === undefined) throw new TemplateError(`${at}: empty pipeline`)
    for (const name of pipeline.declare) scope.variables.set(name, result)
    return result
  }

  private evalCommand(command: Command, scope: Scope, at: string, piped: Value | undefined): Value {
    const [head, ...rest] = command.operands
    if (head!._tag === "Function") {
      const fn = functions[head!.name]
      if (fn === undefined) throw new TemplateError(`${at}: function ${head!.name} is not in the supported subset`)
      const args = rest.map((operand) => this.evalOperand(operand, scope, at))
      if (piped !== undefined) args.push(piped)
      return fn(args, at, this.context)
    }
    if (rest.length > 0 || piped !== undefined) throw new TemplateError(`${at}: cannot call a value`)
    return this.evalOperand(head!, scope, at)
  }

  private evalOperand(operand: Operand, scope: Scope, at: string): Value {
    switch (operand._tag) {
      case "Literal":
        return operand.value
      case "Function": {
        const fn = functions[operand.name]
        if (fn === undefined) throw new TemplateError(`${at}: function ${operand.name} is not in the supported subset`)
        return fn([], at, this.context)
      }
      case "Field": {
        if (operand.base === "dot") return field(scope.dot, operand.path, at, "")
        if ("variable" in operand.base) {
          return field(lookupVariable(scope, operand.base.variable, at), operand.path, at, operand.base.variable)
        }
        return field(this.evalPipeline(operand.base, { dot: scope.dot, variables: new Map(), parent: scope }, at), operand.path, at, "(...)")
      }
    }
  }
}
