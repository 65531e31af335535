import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { TestConsole } from "effect/testing"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { hsmPaths } from "../../../layers/hsm/simulation/HsmPaths.js"
import { runHsmCommand } from "../../../src/cli/hsmCommand.js"
import { parseHsmCommand } from "../../../src/cli/hsmCommandLine.js"
import { scratchFolder } from "../../support/mounts.js"
import { rootOnly } from "../../support/rootOnly.js"

const asRoot = rootOnly("the blobs and stubs carry owners: chown needs root")
const folders: Array<string> = []
afterAll(() => folders.forEach((folder) => Fs.rmSync(folder, { recursive: true, force: true })))

const parsed = (argv: ReadonlyArray<string>) => Result.getOrThrow(parseHsmCommand(argv))
const refusal = (argv: ReadonlyArray<string>) => Result.match(parseHsmCommand(argv), { onFailure: (why) => why, onSuccess: () => "parsed" })

describe("the sim-hsm command line", () => {
  it("reads each operation's flags, repeated ones too", () => {
    assert.deepStrictEqual(parsed(["link", "--filesystem", "10.0.0.4/lustrefs", "--container=account1/data", "--state-dir", "/s"]), {
      _tag: "Link",
      stateDir: "/s",
      filesystem: { mgsAddress: "10.0.0.4", fsName: "lustrefs" },
      container: { storageAccount: "account1", container: "data" }
    })
    assert.deepStrictEqual(parsed(["import", "--filesystem", "10.0.0.4@tcp:/lustrefs", "--state-dir", "/s"]), {
      _tag: "Import",
      stateDir: "/s",
      filesystem: { mgsAddress: "10.0.0.4", fsName: "lustrefs" },
      prefixes: ["/"]
    })
    assert.deepInclude(parsed(["import", "--filesystem", "10.0.0.4/lustrefs", "--prefix", "a/", "--prefix", "b/"]), { prefixes: ["a/", "b/"] })
    assert.deepInclude(parsed(["state", "--path", "/x", "--path", "/y"]), { _tag: "State", paths: ["/x", "/y"] })
    assert.strictEqual(parsed(["release", "--help"])._tag, "Help")
    assert.strictEqual(parsed([])._tag, "Help")
  })

  it("refuses what it cannot run, saying what it expected", () => {
    assert.strictEqual(refusal(["mount"]), 'unknown sim-hsm operation "mount"; the operations are link, import, archive, release, restore, state')
    assert.strictEqual(refusal(["archive"]), "`sim-hsm archive` needs --path (one or more)")
    assert.strictEqual(refusal(["archive", "--prefix", "x"]), "unknown flag --prefix for `sim-hsm archive`; see azurelustre-csi sim-hsm --help")
    assert.strictEqual(refusal(["link", "--filesystem", "10.0.0.4"]), 'invalid --filesystem "10.0.0.4": expected <mgs>/<fsname>, e.g. 10.0.0.4/lustrefs')
    assert.strictEqual(refusal(["link", "--filesystem", "10.0.0.4/lustrefs"]), "`sim-hsm link` needs --container")
    assert.match(refusal(["link", "--filesystem", "10.0.0.4/lustrefs", "--container", "Account/data"]), /^invalid --container "Account\/data"/)
    assert.strictEqual(refusal(["state", "/x"]), 'unexpected argument "/x" for `sim-hsm state`')
    assert.strictEqual(refusal(["state", "--path"]), "flag --path needs a value")
  })
})

asRoot.describe("the sim-hsm operations, on a state directory", () => {
  it.effect("the README's walk-through: link, import, state, restore, archive of a change, release", () => {
    const stateDir = scratchFolder("hsm-command-test-")
    folders.push(stateDir)
    const paths = hsmPaths(stateDir)
    const run = (argv: ReadonlyArray<string>) => {
      const command = parsed([...argv, "--state-dir", stateDir])
      return command._tag === "Help" ? Effect.die(`${argv.join(" ")} asked for help`) : runHsmCommand(command)
    }
    const file = Path.join(paths.filesystem({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }), "data/hello.txt")
    const blob = Path.join(stateDir, "blob/account1/data/data/hello.txt")
    return Effect.gen(function*() {
      yield* run(["link", "--filesystem", "10.0.0.4/lustrefs", "--container", "account1/data"])
      Fs.mkdirSync(Path.dirname(blob), { recursive: true })
      Fs.writeFileSync(blob, "hello from blob")
      yield* run(["import", "--filesystem", "10.0.0.4/lustrefs", "--prefix", "data/"])
      yield* run(["state", "--path", file])
      yield* run(["restore", "--path", file])
      Fs.appendFileSync(file, ", changed")
      yield* run(["state", "--path", file])
      yield* run(["archive", "--path", Path.dirname(file)])
      yield* run(["release", "--path", file])
      yield* run(["state", "--path", file])
      const failed = yield* Effect.flip(run(["release", "--path", Path.join(stateDir, "elsewhere")]))
      assert.deepStrictEqual(yield* TestConsole.logLines, [
        `linked 10.0.0.4@tcp:/lustrefs to account1/data: put blobs in ${Path.join(stateDir, "blob/account1/data")}`,
        "imported 1 file(s) and 1 directories into 10.0.0.4@tcp:/lustrefs; 0 file(s) and 0 directories were there already",
        `${file}: (0x0000000d) released exists archived, archive_id:1`,
        `${file}: (0x0000000b) exists dirty archived, archive_id:1`,
        `${Path.dirname(file)}: 1 file(s) exported (24 bytes), 0 unchanged, 0 released or never_archive, 0 failed`,
        `${file}: (0x0000000d) released exists archived, archive_id:1`
      ])
      assert.strictEqual(Fs.readFileSync(blob, "utf8"), "hello from blob, changed")
      assert.strictEqual(failed.message, "1 of 1 path(s) failed")
      assert.match(String((yield* TestConsole.errorLines)[0]), /elsewhere: cannot stat: no such file or directory/)
    })
  })
})
