import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { LustreClient, LustreClientFailed } from "../../../layers/lustreClient/LustreClient.js"
import { LustreClientLive } from "../../../layers/lustreClient/LustreClientLive.js"
import { microsoftAmlfsRepository } from "../../../layers/lustreClient/packageRepository.js"
import { rootOnly } from "../../support/rootOnly.js"

const { describe: asRoot } = rootOnly("runs chroot")

const emptyRoot = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "empty-root-"))

describe("LustreClientLive: files of the node's root", () => {
  it.effect("the repository: its list file and key written once; again, nothing changes and nothing is downloaded", () => {
    const root = emptyRoot()
    const downloads: Array<string> = []
    const live = LustreClientLive.layerNode({
      hostRoot: root,
      download: (url) => Effect.sync(() => {
        downloads.push(url)
        return "-----BEGIN PGP PUBLIC KEY BLOCK-----\n(test)\n"
      })
    })
    return Effect.gen(function*() {
      const client = yield* LustreClient
      const repository = microsoftAmlfsRepository("jammy", "amd64")
      assert.isTrue(yield* client.addRepository(repository))
      assert.isFalse(yield* client.addRepository(repository))
      assert.deepStrictEqual(downloads, ["https://packages.microsoft.com/keys/microsoft.asc"])
      assert.strictEqual(Fs.readFileSync(Path.join(root, "etc/apt/sources.list.d/amlfs.list"), "utf8"),
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/microsoft-amlfs.asc] https://packages.microsoft.com/repos/amlfs-jammy/ jammy main\n")
      assert.include(Fs.readFileSync(Path.join(root, "etc/apt/keyrings/microsoft-amlfs.asc"), "utf8"), "BEGIN PGP PUBLIC KEY BLOCK")
      // Another release's line replaces it; the key stays.
      assert.isTrue(yield* client.addRepository(microsoftAmlfsRepository("noble", "amd64")))
      assert.strictEqual(downloads.length, 1)
    }).pipe(Effect.provide(live))
  })

  it.effect("a node without dpkg's database has no client; a node without os-release cannot say what it is", () =>
    Effect.gen(function*() {
      const client = yield* LustreClient
      assert.deepStrictEqual(yield* client.installedClientPackages, [])
      const failed = yield* Effect.flip(client.host)
      assert.instanceOf(failed, LustreClientFailed)
      assert.match(failed.message, /^cannot read .*\/usr\/lib\/os-release: ENOENT/)
    }).pipe(Effect.provide(LustreClientLive.layerNode({ hostRoot: emptyRoot() }))))
})

asRoot("LustreClientLive: commands in the node's root", () => {
  it.effect("a command the node does not have fails naming it, marked not installed", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip((yield* LustreClient).updatePackageLists)
      assert.strictEqual(failed.operation, "apt-get update")
      assert.isTrue(failed.notInstalled)
      assert.match(failed.message, /^apt-get update: exit status 127: chroot: failed to run command .apt-get.: No such file or directory/)
    }).pipe(Effect.provide(LustreClientLive.layerNode({ hostRoot: emptyRoot() }))))
})
