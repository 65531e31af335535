import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, it } from "@effect/vitest"
import { Clock, type Duration, Effect, Layer, Schedule, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { TestClock } from "effect/testing"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, afterEach } from "vitest"
import { type FileHsmStatus, Hsm, type HsmUnavailable, isFailure } from "../../../layers/hsm/Hsm.js"
import { HsmModel } from "../../../layers/hsm/simulation/HsmModel.js"
import { hsmPaths, HsmSimulation } from "../../../layers/hsm/simulation/HsmSimulation.js"
import { formatHsmState } from "../../../layers/hsm/simulation/HsmStateTable.js"
import { SimulationFaults } from "../../../layers/simulation/SimulationFaults.js"
import { scratchFolder, unmountAllUnder } from "../../support/mounts.js"
import { rootOnly } from "../../support/rootOnly.js"

// Bind mounts, chown, and the read gate's fanotify all need root.
const asRoot = rootOnly("bind mounts and the read gate need root")
const filesystem = { mgsAddress: "10.0.0.4", fsName: "lustrefs" }
const container = { storageAccount: "account1", container: "data" }
const folders: Array<string> = []
afterEach(() => folders.forEach(unmountAllUnder))
afterAll(() => folders.forEach((folder) => Fs.rmSync(folder, { recursive: true, force: true })))

/** A state directory whose filesystem is linked to a container holding `blobs`, and a folder for mounts. */
const world = (blobs: Record<string, string>) => {
  const stateDir = scratchFolder("hsm-simulation-test-")
  folders.push(stateDir)
  const paths = hsmPaths(stateDir)
  for (const [name, content] of Object.entries(blobs)) {
    const blob = Path.join(paths.container(container), name)
    Fs.mkdirSync(Path.dirname(blob), { recursive: true })
    Fs.writeFileSync(blob, content)
  }
  Fs.mkdirSync(paths.filesystem(filesystem), { recursive: true })
  Fs.mkdirSync(paths.faults, { recursive: true })
  return {
    stateDir,
    paths,
    inFs: (name: string) => Path.join(paths.filesystem(filesystem), name),
    inBlob: (name: string) => Path.join(paths.container(container), name),
    mountPoint: (name: string) => {
      const target = Path.join(stateDir, "mounts", name)
      Fs.mkdirSync(target, { recursive: true })
      return target
    },
    /** Switched on before the layer starts: the faults' listing is first read then. */
    fault: (name: string, text = "") => Fs.writeFileSync(Path.join(paths.faults, name), text)
  }
}
type World = ReturnType<typeof world>

const bind = (source: string, target: string, options: ReadonlyArray<string> = []) => {
  execFileSync("mount", ["--bind", source, target])
  if (options.length > 0) execFileSync("mount", ["-o", ["remount", "bind", ...options].join(","), target])
}

const layerOf = (w: World, options: { readonly restoreDelay: Duration.Input; readonly readGate: boolean }) =>
  HsmSimulation.layer(w.stateDir, options).pipe(Layer.provide(SimulationFaults.layer(w.paths.faults)))

/** Links the container and imports every blob, as an AMLFS creation with import prefix "/" does. */
const imported = Effect.gen(function*() {
  const model = yield* HsmModel
  yield* model.link(filesystem, container)
  yield* model.importPrefixes(filesystem, ["/"])
})

const statusOf = (path: string) =>
  Effect.flatMap(Hsm.use((hsm) => hsm.status([path])), ([answer]) =>
    answer !== undefined && !isFailure(answer) ? Effect.succeed(answer) : Effect.die(`no status of ${path}: ${JSON.stringify(answer)}`))

const stateLine = (path: string) => Effect.map(statusOf(path), (status) => formatHsmState(status.state))

/** Until the file's restore has ended, one way or the other; yields between looks, so the test clock's sleepers run. */
/**
 * The status once the restore has ended. The restore's fiber reads real files before it sleeps on
 * the test clock, so the clock moves on a second at a time while that I/O is let finish.
 */
const restoreEnded = (path: string): Effect.Effect<FileHsmStatus, HsmUnavailable, Hsm> =>
  TestClock.adjust("1 second").pipe(
    Effect.andThen(TestClock.withLive(Effect.sleep("1 millis"))),
    Effect.andThen(statusOf(path)),
    Effect.repeat({ until: (status) => status.action.kind === "NOOP" })
  )

asRoot.describe("Hsm on the simulation (HsmSimulation), on real files", () => {
  it.effect("restore answers at once; status shows the restore running, then the file back", () => {
    const w = world({ "data/a.txt": "alpha data" })
    return Effect.gen(function*() {
      const hsm = yield* Hsm
      yield* imported
      const path = w.inFs("data/a.txt")
      assert.strictEqual(yield* stateLine(path), "(0x0000000d) released exists archived, archive_id:1")
      assert.deepStrictEqual(yield* hsm.restore([path]), [])
      assert.deepInclude(yield* statusOf(path), { action: { kind: "RESTORE", progress: "running", bytesMoved: 0n } })
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* TestClock.adjust("10 seconds")
      const after = yield* restoreEnded(path)
      assert.strictEqual(formatHsmState(after.state), "(0x00000009) exists archived, archive_id:1")
      assert.strictEqual(Fs.readFileSync(path, "utf8"), "alpha data")
    }).pipe(Effect.provide(layerOf(w, { restoreDelay: "10 seconds", readGate: false })))
  })

  it.effect("a failed restore leaves the file released, its failure in the status", () => {
    const w = world({ "data/a.txt": "alpha data" })
    w.fault("hsm-restore-fail")
    return Effect.gen(function*() {
      const hsm = yield* Hsm
      yield* imported
      const path = w.inFs("data/a.txt")
      assert.deepStrictEqual(yield* hsm.restore([path]), [])
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* TestClock.adjust("10 seconds")
      const after = yield* restoreEnded(path)
      assert.isTrue(after.state.released)
      assert.deepInclude(after, { failure: "Input/output error (simulated hsm-restore-fail)" })
    }).pipe(Effect.provide(layerOf(w, { restoreDelay: "10 seconds", readGate: false })))
  })

  it.effect("archive, release, findReleased, and per-file failures, through a bind mount of a sub-directory", () => {
    const w = world({ "data/a.txt": "alpha data", "data/sub/b.txt": "beta" })
    return Effect.gen(function*() {
      const hsm = yield* Hsm
      yield* imported
      // The pod's view: only data/ of the filesystem, at a path that says nothing of it.
      const pod = w.mountPoint("pod")
      bind(w.inFs("data"), pod)
      Fs.writeFileSync(Path.join(pod, "new.txt"), "written by the pod")
      assert.deepStrictEqual(yield* hsm.archive([Path.join(pod, "new.txt"), Path.join(pod, "sub")]), [])
      // Its blob is named by its path in the filesystem, not in the pod.
      assert.strictEqual(Fs.readFileSync(w.inBlob("data/new.txt"), "utf8"), "written by the pod")
      assert.strictEqual(yield* stateLine(Path.join(pod, "new.txt")), "(0x00000009) exists archived, archive_id:1")

      assert.deepStrictEqual(yield* hsm.release([Path.join(pod, "new.txt")]), [])
      assert.strictEqual(Fs.statSync(w.inFs("data/new.txt")).blocks, 0)
      const released = yield* Stream.runCollect(hsm.findReleased(pod))
      assert.deepStrictEqual(released.flat().map((file) => file.path).sort(), [
        Path.join(pod, "a.txt"),
        Path.join(pod, "new.txt"),
        Path.join(pod, "sub/b.txt")
      ])

      Fs.writeFileSync(Path.join(pod, "fresh.txt"), "never archived")
      const outside = Path.join(w.stateDir, "outside.txt")
      Fs.writeFileSync(outside, "not Lustre")
      const failures = yield* hsm.release([Path.join(pod, "fresh.txt"), outside, Path.join(pod, "missing")])
      assert.deepStrictEqual(failures.map((failure) => failure.path), [Path.join(pod, "fresh.txt"), outside, Path.join(pod, "missing")])
      assert.match(failures[0]!.error, /not archived/)
      assert.match(failures[1]!.error, /not in a simulated Lustre filesystem/)
      assert.match(failures[2]!.error, /no such file or directory/)
      const [unavailable] = yield* Effect.flip(Stream.runCollect(hsm.findReleased(w.stateDir))).pipe(Effect.map((error) => [error._tag]))
      assert.strictEqual(unavailable, "HsmUnavailable")
    }).pipe(Effect.provide(layerOf(w, { restoreDelay: "10 seconds", readGate: false })))
  })

  it.effect("a restore through a read-only bind mount, and through /proc/self/fd, finds the file by its inode", () => {
    const w = world({ "data/a.txt": "alpha data", "data/b.txt": "beta data" })
    return Effect.gen(function*() {
      const hsm = yield* Hsm
      yield* imported
      const readOnly = w.mountPoint("read-only")
      bind(w.inFs(""), readOnly, ["ro"])
      const directory = Fs.openSync(w.inFs("data"), "r")
      const viaFd = `/proc/self/fd/${directory}/b.txt`
      assert.deepStrictEqual(yield* hsm.restore([Path.join(readOnly, "data/a.txt"), viaFd]), [])
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* TestClock.adjust("10 seconds")
      yield* restoreEnded(viaFd)
      yield* restoreEnded(Path.join(readOnly, "data/a.txt"))
      Fs.closeSync(directory)
      assert.strictEqual(Fs.readFileSync(Path.join(readOnly, "data/a.txt"), "utf8"), "alpha data")
      assert.strictEqual(Fs.readFileSync(w.inFs("data/b.txt"), "utf8"), "beta data")
    }).pipe(Effect.provide(layerOf(w, { restoreDelay: "10 seconds", readGate: false })))
  })
})

/** `cat path` as a process of its own: the read gate lets the test's own process through. */
const cat = (path: string) =>
  Effect.flatMap(ChildProcessSpawner.ChildProcessSpawner, (spawner) => spawner.spawn(ChildProcess.make("cat", [path], { stdin: "ignore" })))

const text = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

const finished = (handle: ChildProcessSpawner.ChildProcessHandle) =>
  Effect.all({ stdout: text(handle.stdout), stderr: text(handle.stderr), exitCode: handle.exitCode }, { concurrency: "unbounded" })

/** How long `effect` took, in milliseconds of the live clock. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const result = yield* effect
    return [result, (yield* Clock.currentTimeMillis) - started] as const
  })

const gated = (w: World) => Layer.mergeAll(layerOf(w, { restoreDelay: "1 second", readGate: true }), NodeServices.layer)

asRoot.describe("reads of released files through the read gate (fanotify), end to end", () => {
  it.live("a cat of a released file, through a pod's bind mount, waits for the restore delay and prints the blob's data", () => {
    const w = world({ "data/a.txt": "the blob's data" })
    return Effect.gen(function*() {
      yield* imported
      const pod = w.mountPoint("pod")
      bind(w.inFs("data"), pod)
      const [read, millis] = yield* timed(Effect.flatMap(cat(Path.join(pod, "a.txt")), finished))
      assert.deepStrictEqual(read, { stdout: "the blob's data", stderr: "", exitCode: 0 })
      assert.isAtLeast(millis, 1000)
      assert.strictEqual(yield* stateLine(w.inFs("data/a.txt")), "(0x00000009) exists archived, archive_id:1")
      // Restored: the next read does not wait.
      const [again, quick] = yield* timed(Effect.flatMap(cat(w.inFs("data/a.txt")), finished))
      assert.strictEqual(again.stdout, "the blob's data")
      assert.isBelow(quick, 1000)
    }).pipe(Effect.provide(gated(w)))
  })

  it.live("under hsm-restore-fail the cat fails, and the status says why", () => {
    const w = world({ "data/a.txt": "the blob's data" })
    w.fault("hsm-restore-fail")
    return Effect.gen(function*() {
      yield* imported
      const read = yield* Effect.flatMap(cat(w.inFs("data/a.txt")), finished)
      assert.deepStrictEqual(read, { stdout: "", stderr: `cat: ${w.inFs("data/a.txt")}: Operation not permitted\n`, exitCode: 1 })
      assert.deepInclude(yield* statusOf(w.inFs("data/a.txt")), { failure: "Input/output error (simulated hsm-restore-fail)" })
    }).pipe(Effect.provide(gated(w)))
  })

  it.live("files released by another process (sim-hsm beside the sim) are guarded too", () => {
    const w = world({ "data/a.txt": "imported elsewhere" })
    return Effect.gen(function*() {
      // Another model on the same state directory: what `sim-hsm import` does from its own process.
      yield* imported.pipe(
        Effect.provide(HsmModel.layer(w.stateDir, { restoreDelay: "1 second" }).pipe(Layer.provide(SimulationFaults.layer(w.paths.faults))))
      )
      // The gate's rescan guards the stub within a few seconds; until then a cat reads zeros.
      const read = yield* Effect.flatMap(cat(w.inFs("data/a.txt")), finished).pipe(
        Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: (read) => read.stdout === "imported elsewhere" }),
        Effect.timeout("10 seconds")
      )
      assert.strictEqual(read.exitCode, 0)
    }).pipe(Effect.provide(gated(w)))
  })
})
