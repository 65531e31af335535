import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, type Layer, Schedule, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { Hsm, isFailure } from "../../../layers/hsm/Hsm.js"
import { HsmLive, type HsmLiveOptions } from "../../../layers/hsm/HsmLive.js"
import { hsmState } from "../../../layers/hsm/hsmStateOutput.js"
import { scratchFolder } from "../../support/mounts.js"

const root = scratchFolder("hsm-live-test-")
afterAll(() => NodeFs.rmSync(root, { recursive: true, force: true }))

/** What the stand-in lfs knows: each file's HSM state and action, and how it misbehaves. */
interface World {
  /** "2.15" stops at the first file it cannot read; "2.16" goes on. */
  readonly release: "2.15" | "2.16"
  readonly files: Record<string, { readonly flags: number; readonly archiveId?: number; readonly action?: string }>
  /** Subcommands that hang until killed (the pid goes to `<dir>/hung.pid`). */
  readonly hang?: ReadonlyArray<string>
  /** `lfs find`: its records, written `perWrite` at a time; after `gateAfter` of them it waits for `<dir>/go`. */
  readonly find?: {
    readonly records: ReadonlyArray<string>
    readonly perWrite?: number
    readonly gateAfter?: number
    readonly exitCode?: number
    readonly stderr?: string
  }
}

/**
 * A stand-in for lfs: a Node script that logs its argv (one JSON line a run) and answers as
 * lfs.c prints, from `<dir>/world.json`. Written independently of the parsers under test.
 */
const fakeLfs = (dir: string) => `#!${process.execPath}
const fs = require("node:fs")
const dir = ${JSON.stringify(dir)}
const world = JSON.parse(fs.readFileSync(dir + "/world.json", "utf8"))
const [sub, ...args] = process.argv.slice(2)
fs.appendFileSync(dir + "/calls.jsonl", JSON.stringify({ pid: process.pid, argv: process.argv.slice(2) }) + "\\n")
const words = [[4, "released"], [1, "exists"], [2, "dirty"], [8, "archived"], [16, "never_release"], [32, "never_archive"], [64, "lost_from_hsm"]]
const out = (text) => fs.writeSync(1, text)
const err = (text) => fs.writeSync(2, text + "\\n")
function main() {
  if ((world.hang || []).includes(sub)) {
    fs.writeFileSync(dir + "/hung.pid", String(process.pid))
    setInterval(() => {}, 1000000)
    return
  }
  if (sub === "hsm_state" || sub === "hsm_action") {
    const noun = sub === "hsm_state" ? "state" : "action"
    for (const path of args) {
      const file = world.files[path]
      if (file === undefined) {
        process.exitCode = 254
        if (world.release === "2.15") return err("can't get hsm " + noun + " for " + path + ": No such file or directory")
        err("lfs " + sub + ": get " + (noun === "state" ? "HSM" : "hsm") + " " + noun + " for '" + path + "' failed: No such file or directory")
        continue
      }
      if (sub === "hsm_action") out(path + ": " + (file.action || "NOOP") + "\\n")
      else out(path + ": (0x" + file.flags.toString(16).padStart(8, "0") + ")" + words.filter(([bit]) => file.flags & bit).map(([, word]) => " " + word).join("") + (file.archiveId ? ", archive_id:" + file.archiveId : "") + "\\n")
    }
    return
  }
  if (sub === "hsm_restore" || sub === "hsm_archive" || sub === "hsm_release") {
    for (const path of args) {
      if (world.files[path] === undefined) { process.exitCode = 1; return err("Cannot stat " + path + ": No such file or directory") }
    }
    if (sub === "hsm_restore" && args.some((path) => world.files[path].flags & 64)) {
      process.exitCode = 1
      return err("Cannot send HSM request (use of " + args[0] + "): Operation not permitted")
    }
    fs.appendFileSync(dir + "/requests.jsonl", JSON.stringify({ sub, args }) + "\\n")
    return
  }
  if (sub === "find") {
    const find = world.find
    const records = find.records.map((record) => Buffer.from(record + "\\0"))
    let next = 0
    const write = () => {
      if (find.gateAfter !== undefined && next >= find.gateAfter && !fs.existsSync(dir + "/go")) return setTimeout(write, 10)
      const end = Math.min(records.length, next + (find.perWrite || records.length))
      if (end > next) {
        fs.writeSync(1, Buffer.concat(records.slice(next, end)))
        fs.writeFileSync(dir + "/written", String(end))
        next = end
      }
      if (next < records.length) return setTimeout(write, 0)
      if (find.stderr) err(find.stderr)
      process.exitCode = find.exitCode || 0
    }
    return write()
  }
  process.exitCode = 1
  err("lfs: unknown command " + sub)
}
main()
`

interface Node {
  readonly dir: string
  readonly layer: Layer.Layer<Hsm>
  /** Each lfs run's argv, in the order they started. */
  readonly calls: () => ReadonlyArray<ReadonlyArray<string>>
  /** The requests lfs took: subcommand and paths. */
  readonly requests: () => ReadonlyArray<{ readonly sub: string; readonly args: ReadonlyArray<string> }>
  readonly pidOf: (name: string) => number | undefined
}

const jsonLines = <A>(file: string): ReadonlyArray<A> =>
  NodeFs.existsSync(file) ? NodeFs.readFileSync(file, "utf8").trim().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as A) : []

let nodes = 0
const node = (world: World, options: HsmLiveOptions = {}): Node => {
  const dir = Path.join(root, `node-${++nodes}`)
  NodeFs.mkdirSync(dir)
  NodeFs.writeFileSync(Path.join(dir, "world.json"), JSON.stringify(world))
  NodeFs.writeFileSync(Path.join(dir, "lfs"), fakeLfs(dir), { mode: 0o755 })
  return {
    dir,
    layer: HsmLive.layerNode({ lfs: Path.join(dir, "lfs"), ...options }),
    calls: () => jsonLines<{ argv: ReadonlyArray<string> }>(Path.join(dir, "calls.jsonl")).map((call) => call.argv),
    requests: () => jsonLines(Path.join(dir, "requests.jsonl")),
    pidOf: (name) => {
      const file = Path.join(dir, name)
      const text = NodeFs.existsSync(file) ? NodeFs.readFileSync(file, "utf8").trim() : ""
      return text === "" ? undefined : Number(text)
    }
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls `check` every 10 ms until it holds (5 s at most). */
const eventually = (check: () => boolean) =>
  Effect.sync(check).pipe(
    Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (done) => done }),
    Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.succeed(false) })
  )

const released = (archiveId = 1) => ({ flags: 0x0d, archiveId })
const resident = { flags: 0x09, archiveId: 1 }

describe("HsmLive", () => {
  it.live("reads state and action per file, in batches of at most N paths, each path its own argument", () => {
    const paths = Array.from({ length: 10 }, (_, index) => `/lustre/data/file ${index}: 日本 é`)
    const files = Object.fromEntries(paths.map((path, index) => [path, index % 2 === 0 ? released() : { ...resident, action: "ARCHIVE waiting (from 0 to EOF)" }]))
    const { layer, calls } = node({ release: "2.16", files }, { maxPathsPerCommand: 4 })
    return Effect.gen(function*() {
      const answers = yield* Hsm.use((hsm) => hsm.status(paths))
      assert.deepStrictEqual(answers, paths.map((path, index) => ({
        path,
        state: index % 2 === 0 ? hsmState(0x0d, 1) : hsmState(0x09, 1),
        action: index % 2 === 0
          ? { kind: "NOOP" as const, progress: undefined, bytesMoved: undefined }
          : { kind: "ARCHIVE" as const, progress: "waiting" as const, bytesMoved: undefined }
      })))
      const sorted = [...calls()].sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? "") || (a[1] ?? "").localeCompare(b[1] ?? ""))
      assert.deepStrictEqual(sorted, [
        ["hsm_action", ...paths.slice(0, 4)],
        ["hsm_action", ...paths.slice(4, 8)],
        ["hsm_action", ...paths.slice(8)],
        ["hsm_state", ...paths.slice(0, 4)],
        ["hsm_state", ...paths.slice(4, 8)],
        ["hsm_state", ...paths.slice(8)]
      ])
    }).pipe(Effect.provide(layer))
  })

  it.live("cuts batches at the argument-byte budget too, and never hands lfs a relative path", () => {
    const paths = Array.from({ length: 6 }, (_, index) => `/lustre/${String(index).repeat(20)}`)
    const { layer, calls } = node({ release: "2.16", files: Object.fromEntries(paths.map((path) => [path, resident])) }, { maxArgumentBytes: 70 })
    return Effect.gen(function*() {
      const answers = yield* Hsm.use((hsm) => hsm.status(["-rf", ...paths, "data/x"]))
      assert.match(isFailure(answers[0]!) ? answers[0].error : "", /not an absolute path/)
      assert.match(isFailure(answers[7]!) ? answers[7].error : "", /not an absolute path/)
      assert.isTrue(answers.slice(1, 7).every((answer) => !isFailure(answer)))
      // Each path costs 29 bytes with its NUL: two fit in 70.
      assert.deepStrictEqual(calls().filter((argv) => argv[0] === "hsm_state").map((argv) => argv.length - 1), [2, 2, 2])
      assert.isTrue(calls().every((argv) => argv.slice(1).every((path) => path.startsWith("/lustre/"))))
    }).pipe(Effect.provide(layer))
  })

  it.live("2.16: a file lfs cannot read fails alone, with lfs's words; the others are read in the same run", () => {
    const { layer, calls } = node({ release: "2.16", files: { "/l/a": released(), "/l/c": resident } })
    return Effect.gen(function*() {
      const answers = yield* Hsm.use((hsm) => hsm.status(["/l/a", "/l/gone", "/l/c"]))
      assert.deepStrictEqual(answers.map((answer) => isFailure(answer) ? answer.error : answer.state.flags), [
        0x0d,
        "lfs hsm_state: get HSM state for '/l/gone' failed: No such file or directory",
        0x09
      ])
      assert.strictEqual(calls().length, 2)
    }).pipe(Effect.provide(layer))
  })

  it.live("2.15: lfs stops at the file it cannot read, so the files after it are asked for again", () => {
    const { layer, calls } = node({ release: "2.15", files: { "/l/a": released(), "/l/c": resident, "/l/d": resident } })
    return Effect.gen(function*() {
      const answers = yield* Hsm.use((hsm) => hsm.status(["/l/a", "/l/gone", "/l/c", "/l/d"]))
      assert.deepStrictEqual(answers.map((answer) => isFailure(answer) ? answer.error : answer.state.flags), [
        0x0d,
        "can't get hsm state for /l/gone: No such file or directory",
        0x09,
        0x09
      ])
      const states = calls().filter((argv) => argv[0] === "hsm_state")
      assert.deepStrictEqual(states, [["hsm_state", "/l/a", "/l/gone", "/l/c", "/l/d"], ["hsm_state", "/l/c", "/l/d"]])
    }).pipe(Effect.provide(layer))
  })

  it.live("a restore is one request per batch; when it fails, each file is asked alone: the bad ones fail with lfs's words, the others are requested", () => {
    const { layer, calls, requests } = node({
      release: "2.16",
      files: { "/l/a": released(), "/l/b c": released(), "/l/lost": { flags: 0x4d, archiveId: 1 } }
    })
    return Effect.gen(function*() {
      const failures = yield* Hsm.use((hsm) => hsm.restore(["/l/a", "/l/gone", "/l/b c", "/l/lost"]))
      assert.deepStrictEqual([...failures].sort((x, y) => x.path.localeCompare(y.path)), [
        { path: "/l/gone", error: "Cannot stat /l/gone: No such file or directory" },
        { path: "/l/lost", error: "Cannot send HSM request (use of /l/lost): Operation not permitted" }
      ])
      assert.deepStrictEqual(calls()[0], ["hsm_restore", "/l/a", "/l/gone", "/l/b c", "/l/lost"])
      assert.deepStrictEqual(calls().slice(1).map((argv) => argv.join(" ")).sort(), [
        "hsm_restore /l/a",
        "hsm_restore /l/b c",
        "hsm_restore /l/gone",
        "hsm_restore /l/lost"
      ])
      assert.deepStrictEqual(requests().map((request) => request.args.join(",")).sort(), ["/l/a", "/l/b c"])
    }).pipe(Effect.provide(layer))
  })

  it.live("archive and release batches that lfs takes whole are one command each", () => {
    const { layer, calls, requests } = node({ release: "2.16", files: { "/l/a": resident, "/l/b": resident } })
    return Effect.gen(function*() {
      assert.deepStrictEqual(yield* Hsm.use((hsm) => hsm.archive(["/l/a", "/l/b", "/l/a"])), [])
      assert.deepStrictEqual(yield* Hsm.use((hsm) => hsm.release(["/l/a", "/l/b"])), [])
      assert.deepStrictEqual(calls(), [["hsm_archive", "/l/a", "/l/b"], ["hsm_release", "/l/a", "/l/b"]])
      assert.deepStrictEqual(requests(), [{ sub: "hsm_archive", args: ["/l/a", "/l/b"] }, { sub: "hsm_release", args: ["/l/a", "/l/b"] }])
    }).pipe(Effect.provide(layer))
  })

  it.live("a hung lfs is killed at the timeout, and the operation is HsmUnavailable naming the command", () => {
    const { layer, pidOf } = node({ release: "2.16", files: { "/l/a": resident }, hang: ["hsm_state"] }, {
      commandTimeout: "300 millis",
      killTimings: { forceKillAfter: "200 millis", interruptGrace: "2 seconds" }
    })
    return Effect.gen(function*() {
      const failure = yield* Effect.flip(Hsm.use((hsm) => hsm.status(["/l/a", "/l/b"])))
      assert.strictEqual(failure._tag, "HsmUnavailable")
      assert.match(failure.operation, /lfs hsm_state \/l\/a and 1 more$/)
      assert.match(failure.message, /no answer within 300ms and was killed/)
      const pid = pidOf("hung.pid")
      assert.isDefined(pid)
      assert.isTrue(yield* eventually(() => !isAlive(pid!)), "the hung lfs is dead")
    }).pipe(Effect.provide(layer))
  })

  it.live("lfs missing is HsmUnavailable, not a failure of each file", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(Hsm.use((hsm) => hsm.restore(["/l/a"])))
      assert.strictEqual(failure._tag, "HsmUnavailable")
      assert.match(failure.message, /NotFound/)
    }).pipe(Effect.provide(HsmLive.layerNode({ lfs: Path.join(root, "no-such-lfs") }))))

  it.live("finds released files: streams lfs find's candidates, confirms them with hsm_state in batches, sizes them", () => {
    const tree = Path.join(root, "tree")
    NodeFs.mkdirSync(tree)
    const file = (name: string, size: number) => {
      const path = Path.join(tree, name)
      NodeFs.writeFileSync(path, "")
      NodeFs.truncateSync(path, size)
      return path
    }
    const big = file("big: one.bin", 5 * 1024 * 1024)
    const tiny = file("tiny", 10)
    const other = file("日本語", 1234)
    const ghost = Path.join(tree, "ghost")
    const { layer, calls } = node({
      release: "2.16",
      files: { [big]: released(), [tiny]: resident, [other]: released(2) },
      find: { records: [big, tiny, ghost, other], perWrite: 1 }
    }, { maxPathsPerCommand: 2, findBatchWindow: "50 millis" })
    return Effect.gen(function*() {
      const batches = yield* Hsm.use((hsm) => Stream.runCollect(hsm.findReleased(tree)))
      assert.deepStrictEqual(batches.flat(), [{ path: big, size: 5n * 1024n * 1024n }, { path: other, size: 1234n }])
      assert.deepStrictEqual(calls()[0], ["find", tree, "--type", "f", "--size", "+0", "--blocks", "-2k", "--lazy", "--print0"])
      const confirmed = calls().filter((argv) => argv[0] === "hsm_state")
      assert.isTrue(confirmed.every((argv) => argv.length <= 3), "at most 2 candidates a command")
      assert.deepStrictEqual(confirmed.flatMap((argv) => argv.slice(1)).sort(), [big, tiny, ghost, other].sort())
    }).pipe(Effect.provide(layer))
  })

  it.live("find output is streamed: a batch comes out while lfs find is still running, and ending the stream kills it", () => {
    const tree = Path.join(root, "streamed")
    NodeFs.mkdirSync(tree)
    const records = Array.from({ length: 6 }, (_, index) => Path.join(tree, `f${index}`))
    for (const path of records) NodeFs.writeFileSync(path, "x")
    const { layer, dir, calls } = node({
      release: "2.16",
      files: Object.fromEntries(records.map((path) => [path, released()])),
      find: { records, perWrite: 1, gateAfter: 3 }
    }, { maxPathsPerCommand: 3, findBatchWindow: "50 millis" })
    const written = () => NodeFs.existsSync(Path.join(dir, "written")) ? Number(NodeFs.readFileSync(Path.join(dir, "written"), "utf8")) : 0
    return Effect.gen(function*() {
      const hsm = yield* Hsm
      // The stream's first batch can only be the three records lfs wrote before it stopped at the gate.
      const first = yield* Stream.runHead(hsm.findReleased(tree)).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(written(), 3, "lfs find has written 3 of 6 and waits")
      assert.deepStrictEqual(first._tag === "Some" ? first.value.map((released) => released.path) : [], records.slice(0, 3))
      const findPid = yield* Effect.sync(() => (NodeFs.readFileSync(Path.join(dir, "calls.jsonl"), "utf8").split("\n")[0] ?? ""))
      const pid = (JSON.parse(findPid) as { pid: number }).pid
      assert.isTrue(yield* eventually(() => !isAlive(pid)), "ending the stream killed lfs find")
      assert.strictEqual(calls().filter((argv) => argv[0] === "find").length, 1)

      // Read to the end: the rest comes after the gate opens.
      const all = yield* Effect.forkChild(Stream.runCollect(hsm.findReleased(tree)))
      yield* eventually(() => calls().filter((argv) => argv[0] === "hsm_state").length >= 2)
      NodeFs.writeFileSync(Path.join(dir, "go"), "")
      const batches = yield* Fiber.join(all)
      assert.deepStrictEqual(batches.flat().map((released) => released.path), records)
    }).pipe(Effect.provide(layer))
  })

  it.live("lfs find silent for longer than the idle timeout is taken for hung: killed, and the stream fails", () => {
    const { layer, dir } = node({ release: "2.16", files: {}, find: { records: ["/lustre/a", "/lustre/b"], perWrite: 1, gateAfter: 1 } }, {
      findIdleTimeout: "300 millis",
      killTimings: { forceKillAfter: "200 millis", interruptGrace: "2 seconds" }
    })
    return Effect.gen(function*() {
      const failure = yield* Effect.flip(Hsm.use((hsm) => Stream.runCollect(hsm.findReleased("/lustre"))))
      assert.strictEqual(failure._tag, "HsmUnavailable")
      assert.strictEqual(failure.message, "lfs find printed nothing for 300ms and was killed")
      const pid = (JSON.parse(NodeFs.readFileSync(Path.join(dir, "calls.jsonl"), "utf8").split("\n")[0] ?? "") as { pid: number }).pid
      assert.isTrue(yield* eventually(() => !isAlive(pid)), "the silent lfs find is dead")
    }).pipe(Effect.provide(layer))
  })

  it.live("lfs find failing ends the stream with HsmUnavailable and its words", () => {
    const { layer } = node({ release: "2.16", files: {}, find: { records: [], exitCode: 2, stderr: "lfs find: failed for '/lustre/x': No such file or directory" } })
    return Effect.gen(function*() {
      const failure = yield* Effect.flip(Hsm.use((hsm) => Stream.runCollect(hsm.findReleased("/lustre/x"))))
      assert.strictEqual(failure._tag, "HsmUnavailable")
      assert.match(failure.message, /exit status 2: lfs find: failed for '\/lustre\/x': No such file or directory/)
      const relative = yield* Effect.flip(Hsm.use((hsm) => Stream.runCollect(hsm.findReleased("lustre/x"))))
      assert.match(relative.message, /not an absolute path/)
    }).pipe(Effect.provide(layer))
  })
})
