import { assert } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Schedule } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, afterEach } from "vitest"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { filesystemDirectory, LustreShellSimulation } from "../../layers/lustre/LustreShellSimulation.js"
import { parseMountInfo } from "../../layers/lustre/mountinfo.js"
import { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"
import { rootOnly } from "../support/rootOnly.js"

// Real bind mounts: these tests need root, as the simulation does.
const asRoot = rootOnly()
const base = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "lustre-sim-test-"))
const stateDir = Path.join(base, "state")
const faultsDir = Path.join(stateDir, "faults")
const mountRoot = Path.join(base, "mounts")
const outside = Path.join(base, "outside")
const filesystem = { mgsAddress: "10.0.0.4", fsName: "lustrefs" }
const shared = Path.join(mountRoot, "10.0.0.4_lustrefs")
const podTarget = (n: number) => Path.join(base, "pods", `pod-${n}`, "volumes", "kubernetes.io~csi", "pv-a", "mount")

/** Every mount under `base`, deepest and latest first, lazily unmounted: nothing outlives the tests. */
const unmountEverything = () => {
  const { entries } = parseMountInfo(NodeFs.readFileSync("/proc/self/mountinfo", "utf8"))
  for (const entry of entries.filter((e) => e.mountPoint.startsWith(`${base}/`)).reverse()) {
    try {
      ChildProcess.execFileSync("umount", ["-l", entry.mountPoint], { stdio: "ignore" })
    } catch {
      // Already gone with its parent.
    }
  }
}

afterEach(async () => {
  unmountEverything()
  // The files, not the directory: the simulation watches the directory itself.
  for (const fault of await Fs.readdir(faultsDir).catch(() => [])) await Fs.rm(Path.join(faultsDir, fault))
})
afterAll(async () => {
  unmountEverything()
  await Fs.rm(base, { recursive: true, force: true })
})

const mountsUnder = (root: string) =>
  Effect.map(LustreShell.use((shell) => shell.mountTable), (table) => table.filter((e) => e.mountPoint.startsWith(`${root}/`)))

/** Switches a fault on and waits until the simulation sees it (its listing follows inotify). */
const switchOn = (fault: string, text = "") =>
  Effect.gen(function*() {
    const faults = yield* SimulationFaults
    yield* Effect.promise(() => Fs.writeFile(Path.join(faultsDir, fault), text))
    yield* faults.read(fault).pipe(
      Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: Option.isSome }),
      Effect.timeout("2 seconds")
    )
  })

const readOnlyView = Path.join(mountRoot, "read-only", "10.0.0.4_lustrefs")

const open = (root: string, relative: string, createMode?: number) =>
  LustreShell.use((shell) =>
    shell.openDirectoryBeneath(root, relative.split("/"), { symlinks: "within", ...(createMode !== undefined && { createMode }) })
  )

const mountShared = Effect.gen(function*() {
  const shell = yield* LustreShell
  yield* shell.ensureDirectory(shared)
  yield* shell.mountLustre(filesystem, shared, ["flock"])
})

asRoot.layer(LustreShellSimulation.layer(stateDir).pipe(Layer.provideMerge(SimulationFaults.layer(faultsDir))), {
  excludeTestServices: true
})(
  "the Lustre shell of the simulation, on real bind mounts",
  (it) => {
    it.effect("mounts a filesystem directory, binds a sub-directory twice, and both show the same files", () =>
      Effect.gen(function*() {
        const shell = yield* LustreShell
        yield* mountShared
        for (const n of [1, 2]) yield* shell.ensureDirectory(podTarget(n))
        // The directories opened are closed again (Effect.scoped): an open fd keeps a mount busy.
        const bind = (root: string, relative: string, target: string) =>
          Effect.scoped(Effect.flatMap(Effect.all([open(root, relative, 0o755), open(target, "")]), ([from, onto]) => shell.bindMount(from, onto)))
        yield* bind(shared, "team/a", podTarget(1))
        // Read-only: bound through a read-only view of the whole shared mount.
        yield* shell.ensureDirectory(readOnlyView)
        yield* bind(shared, "", readOnlyView)
        yield* shell.remountReadOnly(readOnlyView)
        yield* bind(readOnlyView, "team/a", podTarget(2))

        yield* Effect.promise(() => Fs.writeFile(Path.join(podTarget(1), "hello.txt"), "written through pod 1"))
        assert.strictEqual(yield* Effect.promise(() => Fs.readFile(Path.join(podTarget(2), "hello.txt"), "utf8")), "written through pod 1")
        assert.strictEqual(
          yield* Effect.promise(() => Fs.readFile(Path.join(filesystemDirectory(stateDir, filesystem), "team/a/hello.txt"), "utf8")),
          "written through pod 1"
        )
        const refused = yield* Effect.promise(() => Fs.writeFile(Path.join(podTarget(2), "no.txt"), "x").then(() => "written", (e: NodeJS.ErrnoException) => e.code))
        assert.strictEqual(refused, "EROFS")

        const mounts = yield* mountsUnder(base)
        const [sharedEntry, pod1, , pod2] = mounts
        assert.strictEqual(mounts.length, 4)
        assert.strictEqual(sharedEntry?.mountPoint, shared)
        assert.isTrue(sharedEntry?.root.endsWith("/state/filesystems/10.0.0.4/lustrefs"))
        assert.strictEqual(pod1?.mountPoint, podTarget(1))
        assert.strictEqual(pod2?.mountPoint, podTarget(2))
        for (const pod of [pod1, pod2]) {
          assert.strictEqual(pod?.device, sharedEntry?.device)
          assert.strictEqual(pod?.root, `${sharedEntry?.root}/team/a`)
        }
        assert.isTrue(pod1?.options.includes("rw"))
        assert.isTrue(pod2?.options.includes("ro"))

        const stats = yield* shell.statfs(podTarget(1))
        assert.isTrue(stats.totalBytes > 0n && stats.availableBytes <= stats.totalBytes)
        assert.strictEqual(stats.usedBytes + (stats.totalBytes - stats.usedBytes), stats.totalBytes)
        assert.isTrue(stats.totalInodes >= stats.freeInodes && stats.usedInodes === stats.totalInodes - stats.freeInodes)
        const missing = yield* Effect.flip(shell.statfs(Path.join(base, "nothing-here")))
        assert.strictEqual(missing.code, "ENOENT")

        yield* shell.unmount(podTarget(1), "normal")
        yield* shell.unmount(podTarget(2), "force")
        yield* shell.unmount(readOnlyView, "normal")
        yield* shell.unmount(shared, "lazy")
        assert.deepStrictEqual(yield* mountsUnder(base), [])
        const notMounted = yield* Effect.flip(shell.unmount(shared, "normal"))
        assert.strictEqual(notMounted.operation, `umount ${shared}`)
        assert.match(notMounted.message, /not mounted/)

        yield* shell.removeEmptyDirectory(podTarget(1))
        assert.strictEqual(yield* shell.pathState(podTarget(1)), "missing")
        yield* shell.removeEmptyDirectory(shared) // still holds nothing: removed
        yield* shell.removeEmptyDirectory(filesystemDirectory(stateDir, filesystem)) // holds team/: kept
        assert.strictEqual(yield* shell.pathState(filesystemDirectory(stateDir, filesystem)), "directory")
      }))

    it.effect("openDirectoryBeneath follows symlinks that stay inside the filesystem and refuses the others", () =>
      Effect.gen(function*() {
        const shell = yield* LustreShell
        yield* mountShared
        yield* open(shared, "team/a", 0o755)
        yield* open(shared, "group/b", 0o770)
        assert.strictEqual((yield* Effect.promise(() => Fs.stat(Path.join(shared, "group/b")))).mode & 0o777, 0o770)
        assert.strictEqual((yield* Effect.promise(() => Fs.stat(Path.join(shared, "group")))).mode & 0o777, 0o770)
        yield* open(shared, "team/a/./b/", 0o700) // existing parts are left alone
        assert.strictEqual((yield* Effect.promise(() => Fs.stat(Path.join(shared, "team/a")))).mode & 0o777, 0o755)
        assert.strictEqual((yield* Effect.promise(() => Fs.stat(Path.join(shared, "team/a/b")))).mode & 0o777, 0o700)

        yield* Effect.promise(() => Fs.mkdir(outside, { recursive: true }))
        yield* Effect.promise(() => Fs.symlink(outside, Path.join(shared, "escape")))
        yield* Effect.promise(() => Fs.symlink("team/a", Path.join(shared, "inside")))
        yield* Effect.promise(() => Fs.symlink("../../..", Path.join(shared, "team", "up")))
        yield* Effect.promise(() => Fs.writeFile(Path.join(shared, "a-file"), ""))

        const escaped = yield* Effect.flip(open(shared, "escape/x", 0o755))
        assert.strictEqual(escaped._tag, "PathEscapes")
        assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(outside)), [])
        assert.strictEqual((yield* Effect.flip(open(shared, "team/up/x", 0o755)))._tag, "PathEscapes")
        assert.strictEqual((yield* Effect.flip(open(shared, "team/../../x", 0o755)))._tag, "PathEscapes")

        yield* open(shared, "inside/c", 0o755)
        assert.strictEqual(yield* shell.pathState(Path.join(shared, "team/a/c")), "directory")
        assert.strictEqual(yield* shell.pathState(Path.join(shared, "inside")), "other")

        const notDirectory = yield* Effect.flip(open(shared, "a-file/x", 0o755))
        assert.strictEqual(notDirectory._tag === "PathFailed" ? notDirectory.code : notDirectory._tag, "ENOTDIR")
      }).pipe(Effect.scoped))

    it.effect("mount-hang: the mount never returns, and a timeout interrupts it", () =>
      Effect.gen(function*() {
        const shell = yield* LustreShell
        yield* shell.ensureDirectory(shared)
        yield* switchOn("mount-hang", "10.0.0.4")
        const hung = yield* shell.mountLustre(filesystem, shared, []).pipe(Effect.timeout("100 millis"), Effect.flip)
        assert.strictEqual(hung._tag, "TimeoutError")
        assert.deepStrictEqual(yield* mountsUnder(base), [])
        // Another MGS is not affected.
        const other = Path.join(mountRoot, "10.0.0.5_lustrefs")
        yield* shell.ensureDirectory(other)
        yield* shell.mountLustre({ mgsAddress: "10.0.0.5", fsName: "lustrefs" }, other, [])
        assert.deepStrictEqual((yield* mountsUnder(base)).map((e) => e.mountPoint), [other])
      }))

    it.effect("mount-fail: the mount fails like mount.lustre does", () =>
      Effect.gen(function*() {
        const shell = yield* LustreShell
        yield* shell.ensureDirectory(shared)
        yield* switchOn("mount-fail")
        const failed = yield* Effect.flip(shell.mountLustre(filesystem, shared, []))
        assert.strictEqual(
          failed.message,
          `mount.lustre: mount 10.0.0.4@tcp:/lustrefs at ${shared} failed: Input/output error (simulated)`
        )
        assert.deepStrictEqual(yield* mountsUnder(base), [])
      }))

    it.effect("umount-busy and umount-hang: the escalation to -f and -l gets through", () =>
      Effect.gen(function*() {
        const shell = yield* LustreShell
        yield* mountShared
        yield* switchOn("umount-busy")
        const busy = yield* Effect.flip(shell.unmount(shared, "normal"))
        assert.strictEqual(busy.message, `umount: ${shared}: target is busy (simulated)`)
        yield* shell.unmount(shared, "force")
        assert.deepStrictEqual(yield* mountsUnder(base), [])

        yield* mountShared
        yield* switchOn("umount-hang")
        const normal = yield* Effect.forkChild(shell.unmount(shared, "normal"))
        const forced = yield* shell.unmount(shared, "force").pipe(Effect.timeout("50 millis"), Effect.flip)
        assert.strictEqual(forced._tag, "TimeoutError")
        yield* Fiber.interrupt(normal)
        yield* shell.unmount(shared, "lazy")
        assert.deepStrictEqual(yield* mountsUnder(base), [])
      }))
  }
)

