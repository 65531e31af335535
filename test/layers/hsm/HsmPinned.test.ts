import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { Hsm, isFailure } from "../../../layers/hsm/Hsm.js"
import { HsmLive } from "../../../layers/hsm/HsmLive.js"
import { HsmPinned } from "../../../layers/hsm/HsmPinned.js"
import { pinParents } from "../../../layers/hsm/parentPins.js"
import { scratchFolder } from "../../support/mounts.js"

const root = scratchFolder("hsm-pinned-test-")
afterAll(() => NodeFs.rmSync(root, { recursive: true, force: true }))

/**
 * A stand-in for lfs that treats its paths as lfs.c does: a request lstats each file (a
 * symlink is "not a regular file") and reaches it through whatever directories its path names;
 * `hsm_state` opens it. It records each path given and the file it reached (realpath), and
 * before anything else runs `<dir>/before.json`'s renames and symlinks: a user swapping a
 * directory for a symlink just as lfs starts.
 */
const fakeLfs = (dir: string) => `#!${process.execPath}
const fs = require("node:fs")
const dir = ${JSON.stringify(dir)}
const [sub, ...args] = process.argv.slice(2)
const before = dir + "/before.json"
if (fs.existsSync(before)) {
  for (const step of JSON.parse(fs.readFileSync(before, "utf8"))) {
    if (step.rename) fs.renameSync(step.rename[0], step.rename[1])
    if (step.symlink) fs.symlinkSync(step.symlink[0], step.symlink[1])
  }
  fs.rmSync(before)
}
const reached = (path) => { try { return fs.realpathSync(path) } catch { return null } }
fs.appendFileSync(dir + "/calls.jsonl", JSON.stringify({ sub, args, reached: args.map(reached) }) + "\\n")
if (sub === "find") {
  const records = JSON.parse(fs.readFileSync(dir + "/found.json", "utf8"))
  fs.writeSync(1, records.map((name) => args[0] + "/" + name + "\\0").join(""))
} else if (sub === "hsm_state") {
  for (const path of args) {
    try { fs.closeSync(fs.openSync(path, "r")) } catch (error) {
      process.exitCode = 2
      fs.writeSync(2, "lfs hsm_state: get HSM state for '" + path + "' failed: No such file or directory\\n")
      continue
    }
    fs.writeSync(1, path + ": (0x0000000d) released exists archived, archive_id:1\\n")
  }
} else if (sub === "hsm_action") {
  for (const path of args) fs.writeSync(1, path + ": NOOP\\n")
} else {
  for (const path of args) {
    let stats
    try { stats = fs.lstatSync(path) } catch (error) {
      process.exitCode = 1
      fs.writeSync(2, "Cannot stat " + path + ": No such file or directory\\n")
      process.exit()
    }
    if (!stats.isFile()) { process.exitCode = 1; fs.writeSync(2, 'error: "' + path + '" is not a regular file\\n'); process.exit() }
  }
}
`

interface Volume {
  /** The volume's directory, as the caller opened it: `/proc/<pid>/fd/<n>`. */
  readonly opened: string
  readonly directory: string
  readonly outside: string
  readonly layer: Layer.Layer<Hsm>
  readonly calls: () => ReadonlyArray<{ sub: string; args: ReadonlyArray<string>; reached: ReadonlyArray<string | null> }>
  /** What the stand-in does as it starts, once. */
  readonly beforeLfs: (steps: ReadonlyArray<{ rename?: [string, string]; symlink?: [string, string] }>) => void
  readonly found: (names: ReadonlyArray<string>) => void
  readonly close: () => void
}

let volumes = 0
/** A volume with `files` (relative names) and a directory beside it with the same files. */
const volume = (files: ReadonlyArray<string>): Volume => {
  const dir = Path.join(root, `volume-${++volumes}`)
  const directory = Path.join(dir, "volume")
  const outside = Path.join(dir, "outside")
  for (const base of [directory, outside]) {
    for (const file of files) {
      NodeFs.mkdirSync(Path.dirname(Path.join(base, file)), { recursive: true })
      NodeFs.writeFileSync(Path.join(base, file), base === directory ? "ours" : "not ours")
    }
  }
  NodeFs.writeFileSync(Path.join(dir, "lfs"), fakeLfs(dir), { mode: 0o755 })
  const fd = NodeFs.openSync(directory, NodeFs.constants.O_RDONLY | NodeFs.constants.O_DIRECTORY)
  const calls = Path.join(dir, "calls.jsonl")
  return {
    opened: `/proc/${process.pid}/fd/${fd}`,
    directory,
    outside,
    layer: HsmPinned.layer.pipe(Layer.provide(HsmLive.layerNode({ lfs: Path.join(dir, "lfs") }))),
    calls: () =>
      NodeFs.existsSync(calls) ? NodeFs.readFileSync(calls, "utf8").trim().split("\n").map((line) => JSON.parse(line)) : [],
    beforeLfs: (steps) => NodeFs.writeFileSync(Path.join(dir, "before.json"), JSON.stringify(steps)),
    found: (names) => NodeFs.writeFileSync(Path.join(dir, "found.json"), JSON.stringify(names)),
    close: () => NodeFs.closeSync(fd)
  }
}

/** lfs's own path for a file: its directory held open, then its name, nothing between. */
const pinnedShape = new RegExp(`^/proc/${process.pid}/fd/\\d+/[^/]+$`)

describe("HsmPinned", () => {
  it.live("lfs reaches the file the caller checked, even when a directory on its path is swapped for a symlink as lfs starts", () => {
    const v = volume(["data/deeper/file"])
    v.beforeLfs([
      { rename: [Path.join(v.directory, "data"), Path.join(v.directory, "data.moved")] },
      { symlink: [v.outside + "/data", Path.join(v.directory, "data")] }
    ])
    return Effect.gen(function*() {
      const failures = yield* Hsm.use((hsm) => hsm.restore([`${v.opened}/data/deeper/file`]))
      assert.deepStrictEqual(failures, [])
      const [call] = v.calls()
      assert.strictEqual(call?.sub, "hsm_restore")
      assert.deepStrictEqual(call?.reached, [Path.join(v.directory, "data.moved/deeper/file")])
      assert.match(call?.args[0] ?? "", pinnedShape)
    }).pipe(Effect.provide(v.layer), Effect.ensuring(Effect.sync(v.close)))
  })

  it.live("a path through a symlink, up with \"..\" or through a missing directory fails alone, saying why; lfs is asked for the others", () => {
    const v = volume(["a", "sub/b"])
    NodeFs.symlinkSync(v.outside, Path.join(v.directory, "link"))
    const asked = ["link/a", "sub/../../outside/a", "gone/c", "sub/b", "a", "sub/"].map((name) => `${v.opened}/${name}`)
    return Effect.gen(function*() {
      const failures = yield* Hsm.use((hsm) => hsm.archive(asked))
      assert.deepStrictEqual([...failures].sort((x, y) => x.path.localeCompare(y.path)), [
        { path: `${v.opened}/gone/c`, error: "gone does not exist" },
        { path: `${v.opened}/link/a`, error: "link is a symlink: lfs is given no path through a symlink" },
        { path: `${v.opened}/sub/`, error: "the path names no file" },
        { path: `${v.opened}/sub/../../outside/a`, error: "the path climbs with \"..\": lfs is given paths below their directory only" }
      ])
      const calls = v.calls()
      assert.strictEqual(calls.length, 1)
      assert.isTrue(calls[0]!.args.every((arg) => pinnedShape.test(arg)))
      assert.deepStrictEqual([...calls[0]!.reached].sort(), [Path.join(v.directory, "a"), Path.join(v.directory, "sub/b")])
    }).pipe(Effect.provide(v.layer), Effect.ensuring(Effect.sync(v.close)))
  })

  it.live("answers under the caller's paths, lfs's words included, in the order asked, duplicates too", () => {
    const v = volume(["x/one", "x/two"])
    const one = `${v.opened}/x/one`
    const two = `${v.opened}/x/two`
    const missing = `${v.opened}/x/missing`
    return Effect.gen(function*() {
      const answers = yield* Hsm.use((hsm) => hsm.status([two, missing, one, two]))
      assert.deepStrictEqual(answers.map((answer) => answer.path), [two, missing, one, two])
      assert.deepStrictEqual(answers.map((answer) => isFailure(answer) ? answer.error : answer.state.released), [
        true,
        `lfs hsm_state: get HSM state for '${missing}' failed: No such file or directory`,
        true,
        true
      ])
      const states = v.calls().filter((call) => call.sub === "hsm_state")
      assert.deepStrictEqual(states.map((call) => call.args.length), [3], "each file once, in one command")
      const failures = yield* Hsm.use((hsm) => hsm.restore([one, missing]))
      assert.deepStrictEqual(failures, [{ path: missing, error: `Cannot stat ${missing}: No such file or directory` }])
    }).pipe(Effect.provide(v.layer), Effect.ensuring(Effect.sync(v.close)))
  })

  it.live("found files keep their sizes; one whose path now leads through a symlink is dropped", () => {
    const v = volume(["big", "d/small"])
    NodeFs.truncateSync(Path.join(v.directory, "big"), 3 * 1024 * 1024)
    NodeFs.mkdirSync(Path.join(v.outside, "d2"))
    NodeFs.writeFileSync(Path.join(v.outside, "d2/huge"), "x".repeat(100))
    NodeFs.symlinkSync(Path.join(v.outside, "d2"), Path.join(v.directory, "swapped"))
    v.found(["big", "d/small", "swapped/huge"])
    return Effect.gen(function*() {
      const batches = yield* Hsm.use((hsm) => Stream.runCollect(hsm.findReleased(v.opened)))
      assert.deepStrictEqual(batches.flat(), [
        { path: `${v.opened}/big`, size: 3n * 1024n * 1024n },
        { path: `${v.opened}/d/small`, size: 4n }
      ])
    }).pipe(Effect.provide(v.layer), Effect.ensuring(Effect.sync(v.close)))
  })
})

/** A name a user may give a file or directory: any characters but "/" and NUL, never "." or "..". */
const Name = Schema.String.check(Schema.isPattern(/^[^/\0]{1,12}$/)).check(Schema.makeFilter((name: string) => name !== "." && name !== ".."))
const Tree = Schema.Struct({ directories: Schema.Array(Name).check(Schema.isMaxLength(4)), name: Name, slashes: Schema.Boolean })

describe("pinParents", () => {
  let trees = 0
  it.effect.prop("any path of plain directories is pinned to a path of lfs's shape that reaches the same file", [Tree], ([tree]) =>
    Effect.gen(function*() {
      const base = Path.join(root, `tree-${++trees}`)
      const file = Path.join(base, ...tree.directories, tree.name)
      NodeFs.mkdirSync(Path.dirname(file), { recursive: true })
      NodeFs.writeFileSync(file, "")
      const fd = NodeFs.openSync(base, NodeFs.constants.O_RDONLY | NodeFs.constants.O_DIRECTORY)
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.closeSync(fd)))
      const separator = tree.slashes ? "//./" : "/"
      const paths = [`/proc/self/fd/${fd}${separator}${[...tree.directories, tree.name].join(separator)}`, file]
      const pins = yield* pinParents(paths)
      assert.strictEqual(pins.refused.size, 0, [...pins.refused.values()].join("; "))
      for (const path of paths) {
        const lfsPath = pins.lfsPathOf.get(path) ?? ""
        assert.match(lfsPath, pinnedShape)
        assert.strictEqual(NodeFs.realpathSync(lfsPath), NodeFs.realpathSync(file))
      }
    }).pipe(Effect.scoped), { arbitrary: { runs: 50 } })
})
