import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { HsmModel } from "../../../layers/hsm/simulation/HsmModel.js"
import { hsmPaths } from "../../../layers/hsm/simulation/HsmPaths.js"
import { formatHsmState, type HsmEntry, hsmStateOf, isDirty, keyOf, writeEntry } from "../../../layers/hsm/simulation/HsmStateTable.js"
import { SimulationFaults } from "../../../layers/simulation/SimulationFaults.js"
import { scratchFolder } from "../../support/mounts.js"
import { rootOnly } from "../../support/rootOnly.js"

// Stubs and blobs carry other users' uid and gid: chown needs root.
const asRoot = rootOnly("the model chowns stubs and blobs to their owners")
const filesystem = { mgsAddress: "10.0.0.4", fsName: "lustrefs" }
const container = { storageAccount: "account1", container: "data" }
const folders: Array<string> = []
afterAll(() => folders.forEach((folder) => Fs.rmSync(folder, { recursive: true, force: true })))

/** A fresh state directory with a filesystem linked to an empty container. */
const world = () => {
  const stateDir = scratchFolder("hsm-model-test-")
  folders.push(stateDir)
  const paths = hsmPaths(stateDir)
  const fsDir = paths.filesystem(filesystem)
  const blobDir = paths.container(container)
  Fs.mkdirSync(fsDir, { recursive: true })
  Fs.mkdirSync(blobDir, { recursive: true })
  Fs.mkdirSync(paths.faults, { recursive: true })
  return {
    stateDir,
    paths,
    inFs: (name: string) => Path.join(fsDir, name),
    inBlob: (name: string) => Path.join(blobDir, name),
    /** Switched on before the model starts: the faults' listing is first read then. */
    fault: (name: string, text = "") => Fs.writeFileSync(Path.join(paths.faults, name), text)
  }
}
type World = ReturnType<typeof world>

/** A file's mtime in microseconds: what the simulation keeps of it (Node's utimes cannot set nanoseconds). */
const mtimeUs = (path: string) => Fs.statSync(path, { bigint: true }).mtimeNs / 1000n

const blobMtime = new Date("2025-06-01T12:34:56.789Z")
const putBlob = (w: World, name: string, content: string | Buffer, owner = { uid: 1234, gid: 5678, mode: 0o640 }) => {
  const path = w.inBlob(name)
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  Fs.writeFileSync(path, content)
  Fs.chownSync(path, owner.uid, owner.gid)
  Fs.chmodSync(path, owner.mode)
  Fs.utimesSync(path, blobMtime, blobMtime)
}

/** Runs `effect` with a model of `w` (restores take 5 s of the test clock), linked to the container. */
const withModel = (w: World) => <A, E>(effect: Effect.Effect<A, E, HsmModel>) =>
  Effect.gen(function*() {
    const model = yield* HsmModel
    yield* model.link(filesystem, container)
    return yield* effect
  }).pipe(
    Effect.provide(
      HsmModel.layer(w.stateDir, { restoreDelay: "5 seconds" }).pipe(Layer.provide(SimulationFaults.layer(w.paths.faults)))
    )
  )

const stateLine = (path: string) => Effect.map(HsmModel.use((model) => model.stateOf(path)), ({ state }) => formatHsmState(state))

const importData = Effect.flatMap(HsmModel, (model) => model.importPrefixes(filesystem, ["/data/"]))

/** A file archived by the model with `content`. */
const archivedFile = (w: World, name: string, content: string) =>
  Effect.gen(function*() {
    Fs.mkdirSync(Path.dirname(w.inFs(name)), { recursive: true })
    Fs.writeFileSync(w.inFs(name), content)
    const counts = yield* HsmModel.use((model) => model.archive(w.inFs(name)))
    assert.strictEqual(counts.exported, 1)
  })

/**
 * Moves the test clock once the restores of `paths` are under way: their fibers, registered
 * before they are forked, sleep on the test clock as soon as they run, and they run while the
 * looks at their state wait on real file I/O.
 */
const adjustOnceRestoring = (paths: ReadonlyArray<string>, duration: Parameters<typeof TestClock.adjust>[0]) =>
  Effect.gen(function*() {
    const model = yield* HsmModel
    const restoring = Effect.map(
      Effect.forEach(paths, (path) => model.stateOf(path)),
      (states) => states.every((status) => status.action.kind === "RESTORE")
    )
    yield* Effect.repeat(Effect.andThen(Effect.yieldNow, restoring), { until: (all) => all })
    yield* Effect.repeat(Effect.yieldNow, { times: 10 })
    yield* TestClock.adjust(duration)
  })

asRoot.describe("the simulated blob link (HsmModel)", () => {
  it.effect("an import makes released stubs of the blobs under the prefix: name, size, mode, owner, mtime, no data", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha data")
    putBlob(w, "data/sub/b.bin", Buffer.alloc(3 * 1024 * 1024, 7), { uid: 42, gid: 43, mode: 0o600 })
    putBlob(w, "other/c.txt", "not imported")
    Fs.mkdirSync(w.inFs("data"), { recursive: true })
    Fs.writeFileSync(w.inFs("data/a.txt"), "already here")
    return Effect.gen(function*() {
      const counts = yield* importData
      assert.deepStrictEqual(counts, {
        blobsWalked: 4,
        files: 1,
        directories: 1,
        preexistingFiles: 1,
        preexistingDirectories: 1,
        errors: 0,
        firstErrors: []
      })
      const stub = Fs.statSync(w.inFs("data/sub/b.bin"))
      assert.strictEqual(stub.size, 3 * 1024 * 1024)
      assert.strictEqual(stub.blocks, 0)
      assert.strictEqual(stub.mode & 0o7777, 0o600)
      assert.deepStrictEqual([stub.uid, stub.gid], [42, 43])
      assert.strictEqual(stub.mtime.getTime(), blobMtime.getTime())
      assert.strictEqual(yield* stateLine(w.inFs("data/sub/b.bin")), "(0x0000000d) released exists archived, archive_id:1")
      // Left alone: the file that was there, and the blobs outside the prefix.
      assert.strictEqual(Fs.readFileSync(w.inFs("data/a.txt"), "utf8"), "already here")
      assert.strictEqual(yield* stateLine(w.inFs("data/a.txt")), "(0x00000000)")
      assert.isFalse(Fs.existsSync(w.inFs("other")))
      // The same import again finds everything there.
      assert.deepInclude(yield* importData, { files: 0, preexistingFiles: 2, directories: 0 })
    }).pipe(withModel(w))
  })

  it.effect("an import counts what it cannot make as errors and goes on; empty directories of the container come too", () => {
    const w = world()
    putBlob(w, "data/blocked/inside.txt", "cannot land")
    putBlob(w, "data/fine.txt", "lands")
    Fs.mkdirSync(w.inBlob("data/empty"), { recursive: true })
    Fs.mkdirSync(w.inFs("data"), { recursive: true })
    Fs.writeFileSync(w.inFs("data/blocked"), "a file where the container has a directory")
    return Effect.gen(function*() {
      const counts = yield* importData
      assert.deepInclude(counts, { files: 1, directories: 1, errors: 1 })
      assert.deepStrictEqual(counts.firstErrors, ["data/blocked: a file of the filesystem is in the way of this directory"])
      assert.isTrue(Fs.statSync(w.inFs("data/empty")).isDirectory())
      assert.strictEqual(yield* stateLine(w.inFs("data/fine.txt")), "(0x0000000d) released exists archived, archive_id:1")
    }).pipe(withModel(w))
  })

  it.effect("a restore waits the restore delay, then brings the blob's exact bytes back and keeps the mtime", () => {
    const w = world()
    const data = Buffer.from(Array.from({ length: 2_500_000 }, (_, i) => (i * 31) % 251))
    putBlob(w, "data/big.bin", data)
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      const path = w.inFs("data/big.bin")
      const restoring = yield* Effect.forkChild(model.restore(path))
      yield* adjustOnceRestoring([path], "4 seconds")
      const during = yield* model.stateOf(path)
      assert.deepStrictEqual(during.action, { kind: "RESTORE", progress: "running", bytesMoved: 0n })
      assert.isTrue(during.state.released)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(restoring)
      assert.isTrue(Fs.readFileSync(path).equals(data))
      assert.strictEqual(Fs.statSync(path).mtime.getTime(), blobMtime.getTime())
      const after = yield* model.stateOf(path)
      assert.strictEqual(formatHsmState(after.state), "(0x00000009) exists archived, archive_id:1")
      assert.deepStrictEqual(after.action, { kind: "NOOP", progress: undefined, bytesMoved: undefined })
      // Not released any more: a restore has nothing to do.
      yield* model.restore(path)
    }).pipe(withModel(w))
  })

  it.effect("concurrent restores of one file join the one in flight, through any path to it", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha data")
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      const first = yield* Effect.forkChild(model.restore(w.inFs("data/a.txt")))
      yield* adjustOnceRestoring([w.inFs("data/a.txt")], "3 seconds")
      const directory = Fs.openSync(w.inFs("data"), "r")
      const second = yield* Effect.forkChild(model.restore(`/proc/self/fd/${directory}/a.txt`))
      // The second waits for the first's end, not a delay of its own.
      yield* Effect.repeat(Effect.yieldNow, { times: 10 })
      yield* TestClock.adjust("2 seconds")
      // A restore of its own would sleep on the test clock, never moved again: it would not end.
      yield* TestClock.withLive(Effect.timeout(Fiber.joinAll([first, second]), "10 seconds"))
      Fs.closeSync(directory)
      assert.strictEqual(Fs.readFileSync(w.inFs("data/a.txt"), "utf8"), "alpha data")
    }).pipe(withModel(w))
  })

  it.effect("an archive exports new and changed files only: not metadata changes, not deletions, not renames", () => {
    const w = world()
    return Effect.gen(function*() {
      const model = yield* HsmModel
      Fs.mkdirSync(w.inFs("project/logs"), { recursive: true })
      Fs.writeFileSync(w.inFs("project/a.txt"), "version 1")
      Fs.writeFileSync(w.inFs("project/logs/b.txt"), "b")
      Fs.writeFileSync(w.inFs("project/gone.txt"), "deleted later")
      Fs.writeFileSync(w.inFs("project/moved.txt"), "renamed later")
      Fs.chownSync(w.inFs("project/a.txt"), 1001, 1002)
      assert.deepInclude(yield* model.archive(w.inFs("project")), { exported: 4, exportedBytes: 36n, unchanged: 0, failed: 0 })
      const blob = Fs.statSync(w.inBlob("project/a.txt"))
      assert.strictEqual(Fs.readFileSync(w.inBlob("project/a.txt"), "utf8"), "version 1")
      assert.deepStrictEqual([blob.uid, blob.gid], [1001, 1002])
      assert.strictEqual(mtimeUs(w.inBlob("project/a.txt")), mtimeUs(w.inFs("project/a.txt")))
      assert.strictEqual(yield* stateLine(w.inFs("project/a.txt")), "(0x00000009) exists archived, archive_id:1")

      // Owner and mode only, a deletion, a rename: nothing to export.
      Fs.chownSync(w.inFs("project/logs/b.txt"), 7, 7)
      Fs.chmodSync(w.inFs("project/logs/b.txt"), 0o600)
      Fs.rmSync(w.inFs("project/gone.txt"))
      Fs.renameSync(w.inFs("project/moved.txt"), w.inFs("project/logs/moved-here.txt"))
      assert.strictEqual(yield* stateLine(w.inFs("project/logs/moved-here.txt")), "(0x00000009) exists archived, archive_id:1")
      assert.deepInclude(yield* model.archive(w.inFs("project")), { exported: 0, unchanged: 3 })
      assert.strictEqual(Fs.readFileSync(w.inBlob("project/gone.txt"), "utf8"), "deleted later")
      assert.strictEqual(Fs.readFileSync(w.inBlob("project/moved.txt"), "utf8"), "renamed later")
      assert.isFalse(Fs.existsSync(w.inBlob("project/logs/moved-here.txt")))

      // A content change makes the file dirty; the next archive exports it.
      Fs.writeFileSync(w.inFs("project/a.txt"), "version 2, longer")
      assert.strictEqual(yield* stateLine(w.inFs("project/a.txt")), "(0x0000000b) exists dirty archived, archive_id:1")
      assert.deepInclude(yield* model.archive(w.inFs("project")), { exported: 1, unchanged: 2 })
      assert.strictEqual(Fs.readFileSync(w.inBlob("project/a.txt"), "utf8"), "version 2, longer")
      assert.strictEqual(yield* stateLine(w.inFs("project/a.txt")), "(0x00000009) exists archived, archive_id:1")
    }).pipe(withModel(w))
  })

  it.effect("never_archive files and released files are not archived", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha data")
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      Fs.writeFileSync(w.inFs("data/secret.txt"), "stays here")
      yield* model.setFlags(w.inFs("data/secret.txt"), { noArchive: true })
      assert.deepInclude(yield* model.archive(w.inFs("data")), { exported: 0, skipped: 2 })
      assert.isFalse(Fs.existsSync(w.inBlob("data/secret.txt")))
      assert.strictEqual(Fs.readFileSync(w.inBlob("data/a.txt"), "utf8"), "alpha data")
      assert.strictEqual(yield* stateLine(w.inFs("data/secret.txt")), "(0x00000020) never_archive")
    }).pipe(withModel(w))
  })

  it.effect("a release drops the data of archived, unchanged files only, keeping size and mtime", () => {
    const w = world()
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* archivedFile(w, "r/kept.txt", "the archived data")
      const before = Fs.statSync(w.inFs("r/kept.txt"))
      const mtimeBefore = mtimeUs(w.inFs("r/kept.txt"))
      yield* model.release(w.inFs("r/kept.txt"))
      const after = Fs.statSync(w.inFs("r/kept.txt"))
      assert.deepStrictEqual([after.size, after.blocks, mtimeUs(w.inFs("r/kept.txt"))], [before.size, 0, mtimeBefore])
      assert.strictEqual(Fs.readFileSync(w.inFs("r/kept.txt"), "utf8"), "\0".repeat(before.size))
      assert.strictEqual(yield* stateLine(w.inFs("r/kept.txt")), "(0x0000000d) released exists archived, archive_id:1")
      // Released already: nothing to do.
      yield* model.release(w.inFs("r/kept.txt"))

      Fs.writeFileSync(w.inFs("r/new.txt"), "never archived")
      yield* archivedFile(w, "r/changed.txt", "v1")
      Fs.appendFileSync(w.inFs("r/changed.txt"), " and more")
      yield* archivedFile(w, "r/pinned.txt", "pinned")
      yield* model.setFlags(w.inFs("r/pinned.txt"), { noRelease: true })
      const refusals = yield* Effect.forEach(["r/new.txt", "r/changed.txt", "r/pinned.txt"], (name) =>
        Effect.flip(model.release(w.inFs(name))).pipe(Effect.map((error) => error.message)))
      assert.deepStrictEqual(refusals, [
        "cannot release: it is not archived (Operation not permitted)",
        "cannot release: it changed since it was archived (dirty; Operation not permitted)",
        "cannot release: never_release is set (Operation not permitted)"
      ])
      assert.strictEqual(Fs.readFileSync(w.inFs("r/changed.txt"), "utf8"), "v1 and more")

      // And the restore brings the archived data back.
      const restoring = yield* Effect.forkChild(model.restore(w.inFs("r/kept.txt")))
      yield* adjustOnceRestoring([w.inFs("r/kept.txt")], "5 seconds")
      yield* Fiber.join(restoring)
      assert.strictEqual(Fs.readFileSync(w.inFs("r/kept.txt"), "utf8"), "the archived data")
      assert.strictEqual(mtimeUs(w.inFs("r/kept.txt")), mtimeBefore)
    }).pipe(withModel(w))
  })

  it.effect("findReleased walks a directory at a time and answers the released files only", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha")
    putBlob(w, "data/deep/er/b.txt", "beta!")
    putBlob(w, "data/empty.txt", "")
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      yield* archivedFile(w, "data/local.txt", "not released")
      const batches = yield* Stream.runCollect(model.findReleased(w.inFs("data")))
      assert.deepStrictEqual(
        batches.flat().map((file) => [file.path, file.size]),
        [[w.inFs("data/a.txt"), 5n], [w.inFs("data/empty.txt"), 0n], [w.inFs("data/deep/er/b.txt"), 5n]]
      )
      const outside = yield* Effect.flip(Stream.runCollect(model.findReleased(w.stateDir)))
      assert.include(outside.message, "not in a simulated Lustre filesystem")
    }).pipe(withModel(w))
  })

  it.effect("hsm-restore-fail fails the restores of the paths containing its text, with an I/O error", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha")
    putBlob(w, "data/b.txt", "beta")
    w.fault("hsm-restore-fail", "b.txt")
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      const restores = yield* Effect.forkChild(
        Effect.all([model.restore(w.inFs("data/a.txt")), Effect.flip(model.restore(w.inFs("data/b.txt")))], { concurrency: 2 })
      )
      yield* adjustOnceRestoring([w.inFs("data/a.txt"), w.inFs("data/b.txt")], "5 seconds")
      const [, failed] = yield* Fiber.join(restores)
      assert.strictEqual(failed.message, "Input/output error (simulated hsm-restore-fail)")
      assert.strictEqual(Fs.readFileSync(w.inFs("data/a.txt"), "utf8"), "alpha")
      const status = yield* model.stateOf(w.inFs("data/b.txt"))
      assert.deepInclude(status, { failure: "Input/output error (simulated hsm-restore-fail)" })
      assert.isTrue(status.state.released)
    }).pipe(withModel(w))
  })

  it.effect("hsm-restore-hang: the restore never completes; the file stays released with its restore running", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha")
    w.fault("hsm-restore-hang")
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      const restoring = yield* Effect.forkChild(model.restore(w.inFs("data/a.txt")))
      yield* adjustOnceRestoring([w.inFs("data/a.txt")], "1 hour")
      assert.isUndefined(restoring.pollUnsafe())
      const status = yield* model.stateOf(w.inFs("data/a.txt"))
      assert.deepStrictEqual([status.state.released, status.action.kind], [true, "RESTORE"])
      yield* Fiber.interrupt(restoring)
    }).pipe(withModel(w))
  })

  it.effect("hsm-archive-lost: the restore fails lost_from_hsm and the file is lost, for good", () => {
    const w = world()
    putBlob(w, "data/a.txt", "alpha")
    w.fault("hsm-archive-lost")
    return Effect.gen(function*() {
      const model = yield* HsmModel
      yield* importData
      const restoring = yield* Effect.forkChild(Effect.flip(model.restore(w.inFs("data/a.txt"))))
      yield* adjustOnceRestoring([w.inFs("data/a.txt")], "5 seconds")
      assert.include((yield* Fiber.join(restoring)).message, "lost_from_hsm")
      assert.strictEqual(yield* stateLine(w.inFs("data/a.txt")), "(0x0000004d) released exists archived lost_from_hsm, archive_id:1")
      // Asking again fails at once.
      assert.include((yield* Effect.flip(model.restore(w.inFs("data/a.txt")))).message, "lost_from_hsm")
    }).pipe(withModel(w))
  })

  it.effect("the state follows the inode: a new file whose inode a dead file had has no state", () => {
    const w = world()
    return Effect.gen(function*() {
      yield* archivedFile(w, "a.txt", "archived")
      const stats = Fs.statSync(w.inFs("a.txt"), { bigint: true })
      // The entry as a dead file of the same inode would have left it: another birth time.
      const dead = Object.assign(Object.create(Object.getPrototypeOf(stats)), stats, { birthtimeNs: stats.birthtimeNs - 1n })
      yield* Effect.orDie(writeEntry(w.paths.states(filesystem), dead, deadEntry))
      assert.strictEqual(yield* stateLine(w.inFs("a.txt")), "(0x00000000)")
      assert.isTrue(Fs.existsSync(Path.join(w.paths.states(filesystem), `${keyOf(stats)}.json`)))
    }).pipe(withModel(w))
  })
})

const deadEntry = {
  exists: true,
  archived: true,
  released: true,
  lost: false,
  noRelease: false,
  noArchive: false,
  archiveId: 1,
  path: "a.txt"
}

it.prop(
  "dirty is derived: archived, and the size or the mtime is not the one archived",
  [Schema.BigInt, Schema.BigInt, Schema.BigInt, Schema.BigInt, Schema.Boolean],
  ([archivedSize, size, archivedMtimeNs, mtimeNs, archived]) => {
    const entry: HsmEntry = { ...deadEntry, birth: 0n, released: false, archived, archivedSize, archivedMtimeNs }
    const stats = { size, mtimeNs } as Fs.BigIntStats
    const dirty = archived && (size !== archivedSize || mtimeNs !== archivedMtimeNs)
    assert.strictEqual(isDirty(entry, stats), dirty)
    assert.strictEqual(hsmStateOf(entry, stats).flags & 0x02, dirty ? 0x02 : 0)
  }
)
