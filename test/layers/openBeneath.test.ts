import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { openDirectoryBeneath } from "../../layers/lustre/openBeneath.js"

/** A root with: a/b (directories), file, in -> a/b, up -> .., out -> /etc, loop -> loop. */
const makeRoot = () => {
  const root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "beneath-")))
  Fs.mkdirSync(Path.join(root, "a/b"), { recursive: true })
  Fs.writeFileSync(Path.join(root, "file"), "")
  Fs.symlinkSync("a/b", Path.join(root, "in"))
  Fs.symlinkSync("..", Path.join(root, "up"))
  Fs.symlinkSync("/etc", Path.join(root, "out"))
  Fs.symlinkSync("loop", Path.join(root, "loop"))
  return root
}

const identity = (path: string) => {
  const stats = Fs.statSync(path)
  return `${stats.dev}:${stats.ino}`
}

const open = (root: string, relative: string, options: Parameters<typeof openDirectoryBeneath>[2] = { symlinks: "within" }) =>
  Effect.scoped(openDirectoryBeneath(root, relative.split("/"), options))

describe("openDirectoryBeneath (real directories)", () => {
  it.effect("opens the directory named, following relative symlinks that stay beneath the root", () =>
    Effect.gen(function*() {
      const root = makeRoot()
      assert.strictEqual((yield* open(root, "a/b")).identity, identity(Path.join(root, "a/b")))
      assert.strictEqual((yield* open(root, "in")).identity, identity(Path.join(root, "a/b")))
      assert.strictEqual((yield* open(root, "a/../a/./b")).identity, identity(Path.join(root, "a/b")))
      const opened = yield* Effect.scoped(
        Effect.map(openDirectoryBeneath(root, ["a"], { symlinks: "within" }), (directory) => {
          // While open, the fd link names exactly that directory.
          assert.strictEqual(Fs.realpathSync(directory.procPath), Path.join(root, "a"))
          return directory
        })
      )
      assert.match(opened.procPath, new RegExp(`^/proc/${process.pid}/fd/\\d+$`))
    }))

  it.effect("never leaves the root: .., a symlink to .., an absolute symlink are PathEscapes", () =>
    Effect.gen(function*() {
      const root = makeRoot()
      for (const relative of ["..", "a/../..", "up", "up/x", "out", "in/../../up"]) {
        assert.strictEqual((yield* Effect.flip(open(root, relative)))._tag, "PathEscapes", relative)
      }
      assert.strictEqual((yield* Effect.flip(open(root, "in", { symlinks: "refuse" })))._tag, "PathEscapes")
    }))

  it.effect("a file on the way is ENOTDIR, a symlink loop ELOOP, a missing directory ENOENT unless asked to create", () =>
    Effect.gen(function*() {
      const root = makeRoot()
      const failure = (relative: string) => Effect.map(Effect.flip(open(root, relative)), (failed) => failed._tag === "PathFailed" ? failed.code : failed._tag)
      assert.strictEqual(yield* failure("file"), "ENOTDIR")
      assert.strictEqual(yield* failure("file/x"), "ENOTDIR")
      assert.strictEqual(yield* failure("loop"), "ELOOP")
      assert.strictEqual(yield* failure("new/x"), "ENOENT")
      assert.isFalse(Fs.existsSync(Path.join(root, "new")))
    }))

  it.effect("creates missing components with the mode asked for, whatever the umask", () =>
    Effect.gen(function*() {
      const root = makeRoot()
      const made = yield* open(root, "in/new/deeper", { symlinks: "within", createMode: 0o750 })
      assert.strictEqual(made.identity, identity(Path.join(root, "a/b/new/deeper")))
      assert.strictEqual(Fs.statSync(Path.join(root, "a/b/new")).mode & 0o777, 0o750)
      assert.strictEqual(Fs.statSync(Path.join(root, "a/b/new/deeper")).mode & 0o777, 0o750)
    }))
})
