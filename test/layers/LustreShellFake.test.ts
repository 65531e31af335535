import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { LustreShell, type PathEscapes, type PathFailed } from "../../layers/lustre/LustreShell.js"
import { defaultFakeStats, LustreShellFake } from "../../layers/lustre/LustreShellFake.js"

const filesystem = { mgsAddress: "10.0.0.4", fsName: "lustrefs" }
const shared = "/plugins/mounts/10.0.0.4_lustrefs"
const pod = (name: string) => `/pods/${name}/mount`
const within = { symlinks: "within", createMode: 0o755 } as const
const open = (root: string, relative: string) =>
  LustreShell.use((shell) => shell.openDirectoryBeneath(root, relative === "" ? [] : relative.split("/"), within))

describe("LustreShellFake", () => {
  it.effect("keeps a mount table like the kernel's: binds share the device, roots show the sub-directory", () =>
    Effect.gen(function*() {
      const shell = yield* LustreShell
      const fake = yield* LustreShellFake
      yield* shell.mountLustre(filesystem, shared, ["flock"])
      const teamA = yield* open(shared, "team/a")
      yield* shell.bindMount(teamA, yield* open(pod("p1"), ""))
      yield* shell.ensureDirectory("/ro")
      yield* shell.bindMount(yield* open(shared, ""), yield* open("/ro", ""))
      yield* shell.remountReadOnly("/ro")
      // A bind taken through a read-only mount is read-only, as the kernel makes it.
      yield* shell.bindMount(yield* open("/ro", "team/a"), yield* open(pod("p2"), ""))
      yield* shell.bindMount(yield* open("/data", ""), yield* open(pod("p3"), ""))
      const table = yield* shell.mountTable
      assert.deepStrictEqual(
        table.map((e) => [e.mountPoint, e.device, e.root, e.fsType, e.source, e.options.join(",")]),
        [
          [shared, "0:1", "/", "lustre", "10.0.0.4@tcp:/lustrefs", "rw"],
          [pod("p1"), "0:1", "/team/a", "lustre", "10.0.0.4@tcp:/lustrefs", "rw"],
          ["/ro", "0:1", "/", "lustre", "10.0.0.4@tcp:/lustrefs", "ro"],
          [pod("p2"), "0:1", "/team/a", "lustre", "10.0.0.4@tcp:/lustrefs", "ro"],
          [pod("p3"), "0:0", "/data", "ext4", "/dev/root", "rw"]
        ]
      )
      assert.deepStrictEqual(table[0]?.superOptions, ["rw", "flock"])
      assert.deepStrictEqual(yield* fake.commands, [
        `mount -t lustre -o flock 10.0.0.4@tcp:/lustrefs ${shared}`,
        `mount --no-canonicalize --bind ${shared}/team/a ${pod("p1")}`,
        `mount --no-canonicalize --bind ${shared} /ro`,
        "mount -o remount,bind,ro /ro",
        `mount --no-canonicalize --bind /ro/team/a ${pod("p2")}`,
        `mount --no-canonicalize --bind /data ${pod("p3")}`
      ])
      assert.include(yield* Ref.get(fake.calls), "openDirectoryBeneath /plugins/mounts/10.0.0.4_lustrefs team/a 755")
      assert.strictEqual(yield* shell.identityOf(pod("p1")), teamA.identity)
      assert.strictEqual(yield* shell.identityOf(pod("p2")), teamA.identity)
      yield* shell.unmount(pod("p2"), "normal")
      yield* shell.unmount("/ro", "normal")

      // Directories live in the filesystem: seen through binds, hidden once unmounted, back on remount.
      yield* open(pod("p1"), "made-in-pod")
      assert.isTrue(yield* fake.isDirectory(`${shared}/team/a/made-in-pod`))
      yield* shell.unmount(pod("p1"), "normal")
      yield* shell.unmount(pod("p3"), "lazy")
      yield* shell.unmount(shared, "force")
      assert.isFalse(yield* fake.isDirectory(`${shared}/team`))
      yield* shell.mountLustre(filesystem, shared, [])
      assert.isTrue(yield* fake.isDirectory(`${shared}/team/a/made-in-pod`))
      assert.strictEqual((yield* shell.mountTable).at(-1)?.device, "0:2")
      const notMounted = yield* Effect.flip(shell.unmount(pod("p1"), "normal"))
      assert.strictEqual(notMounted.message, `umount: ${pod("p1")}: not mounted.`)
    }).pipe(Effect.scoped, Effect.provide(LustreShellFake.layer({ directories: [shared, pod("p1"), pod("p2"), pod("p3"), "/data"] }))))

  it.effect("refuses mounts on a missing target and binds of a missing source", () =>
    Effect.gen(function*() {
      const shell = yield* LustreShell
      assert.match((yield* Effect.flip(shell.mountLustre(filesystem, "/nowhere", []))).message, /mount point does not exist/)
      yield* shell.ensureDirectory("/t")
      const gone = { procPath: "/missing", path: "/missing", identity: "none" }
      assert.match((yield* Effect.flip(shell.bindMount(gone, { procPath: "/t", path: "/t", identity: "t" }))).message, /does not exist/)
      assert.deepStrictEqual(yield* shell.mountTable, [])
    }).pipe(Effect.provide(LustreShellFake.layer())))

  it.effect("hangs and fails mounts as scripted, per MGS", () =>
    Effect.gen(function*() {
      const shell = yield* LustreShell
      const hung = yield* Effect.forkChild(shell.mountLustre({ mgsAddress: "10.0.0.9", fsName: "lustrefs" }, "/m", []).pipe(Effect.timeout("30 seconds")))
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* Effect.flip(Fiber.join(hung)))._tag, "TimeoutError")
      const failed = yield* Effect.flip(shell.mountLustre({ mgsAddress: "10.0.0.8", fsName: "lustrefs" }, "/m", []))
      assert.strictEqual(failed.message, "mount.lustre: mount 10.0.0.8@tcp:/lustrefs at /m failed: Input/output error (fake)")
      yield* shell.mountLustre(filesystem, "/m", [])
      assert.strictEqual((yield* shell.mountTable).length, 1)
    }).pipe(Effect.provide(LustreShellFake.layer({
      directories: ["/m"],
      hangMountFor: new Set(["10.0.0.9"]),
      failMountFor: new Set(["10.0.0.8"])
    }))))

  it.effect("misbehaves on unmount per target and mode, and can be re-scripted mid-test", () =>
    Effect.gen(function*() {
      const shell = yield* LustreShell
      const fake = yield* LustreShellFake
      yield* shell.mountLustre(filesystem, "/m", [])
      assert.strictEqual((yield* Effect.flip(shell.unmount("/m", "normal"))).message, "umount: /m: target is busy.")
      const forced = yield* Effect.forkChild(shell.unmount("/m", "force").pipe(Effect.timeout("5 seconds")))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Effect.flip(Fiber.join(forced)))._tag, "TimeoutError")
      yield* Ref.update(fake.script, (script) => ({ ...script, unmountFailures: new Map() }))
      yield* shell.unmount("/m", "normal")
      assert.deepStrictEqual(yield* fake.commands, ["mount -t lustre 10.0.0.4@tcp:/lustrefs /m", "umount /m", "umount -f /m", "umount /m"])
    }).pipe(Effect.provide(LustreShellFake.layer({
      directories: ["/m"],
      unmountFailures: new Map([["/m", { normal: "busy", force: "hang" }]])
    }))))

  it.effect("statfs, pathState and openDirectoryBeneath: numbers for mounted paths, scripted errors, symlink escapes", () =>
    Effect.gen(function*() {
      const shell = yield* LustreShell
      yield* shell.mountLustre(filesystem, shared, [])
      assert.deepStrictEqual(yield* shell.statfs(shared), defaultFakeStats)
      assert.strictEqual((yield* Effect.flip(shell.statfs("/plugins"))).code, "ENOENT")
      assert.strictEqual((yield* Effect.flip(shell.statfs(`${shared}/nothing`))).code, "ENOENT")
      assert.strictEqual((yield* Effect.flip(shell.statfs("/stale"))).code, "ESTALE")
      assert.deepStrictEqual(yield* shell.pathState("/stale"), { error: "ESTALE" })
      assert.strictEqual(yield* shell.pathState(shared), "directory")
      assert.strictEqual(yield* shell.pathState("/nothing"), "missing")

      yield* open(shared, "a/b")
      assert.strictEqual((yield* Effect.flip(open(shared, "out/x")))._tag, "PathEscapes")
      assert.strictEqual((yield* Effect.flip(open(shared, "a/../../x")))._tag, "PathEscapes")
      assert.strictEqual((yield* Effect.flip(shell.openDirectoryBeneath(shared, ["in"], { symlinks: "refuse" })))._tag, "PathEscapes")
      const code = (failed: PathEscapes | PathFailed) => failed._tag === "PathFailed" ? failed.code : failed._tag
      assert.strictEqual(code(yield* Effect.flip(shell.openDirectoryBeneath(shared, ["new"], { symlinks: "within" }))), "ENOENT")
      assert.strictEqual(code(yield* Effect.flip(open(shared, "a/file/x"))), "ENOTDIR")
      yield* open(shared, "in/c")
      assert.strictEqual(yield* shell.pathState(`${shared}/a/b/c`), "directory")
      assert.strictEqual(yield* shell.pathState(`${shared}/in`), "other")

      yield* shell.removeEmptyDirectory(`${shared}/a`) // not empty: kept
      assert.strictEqual(yield* shell.pathState(`${shared}/a`), "directory")
      yield* shell.removeEmptyDirectory(`${shared}/a/b/c`)
      assert.strictEqual(yield* shell.pathState(`${shared}/a/b/c`), "missing")
      yield* shell.removeEmptyDirectory(shared) // a mount point: kept
      assert.strictEqual(yield* shell.pathState(shared), "directory")
    }).pipe(Effect.scoped, Effect.provide(LustreShellFake.layer({
      directories: [shared, "/stale", "/outside"],
      files: new Set([`${shared}/a/file`]),
      pathErrors: new Map([["/stale", "ESTALE"]]),
      symlinks: new Map([[`${shared}/out`, "/outside"], [`${shared}/in`, `${shared}/a/b`]])
    }))))
})
