import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Ref, Sink, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { LustreShellLive } from "../../layers/lustre/LustreShellLive.js"

type Script = (argv: ReadonlyArray<string>) => { readonly exitCode: number; readonly stderr?: string }

/** A ChildProcessSpawner that runs nothing: it records each command line and answers as scripted. */
const scriptedSpawner = (script: Script, calls: Ref.Ref<ReadonlyArray<string>>) =>
  Layer.succeed(
    ChildProcessSpawner.ChildProcessSpawner,
    ChildProcessSpawner.make((command) =>
      Effect.gen(function*() {
        if (command._tag !== "StandardCommand") return yield* Effect.die("pipes are not scripted")
        const argv = [command.command, ...command.args.map((arg) => Redacted.isRedacted(arg) ? "<redacted>" : arg)]
        yield* Ref.update(calls, (all) => [...all, argv.join(" ")])
        const answer = script(argv)
        const bytes = (text = "") => Stream.make(new TextEncoder().encode(text))
        return ChildProcessSpawner.makeHandle({
          pid: ChildProcessSpawner.ProcessId(4242),
          exitCode: Effect.succeed(ChildProcessSpawner.ExitCode(answer.exitCode)),
          isRunning: Effect.succeed(false),
          kill: () => Effect.void,
          stdin: Sink.drain,
          stdout: bytes(),
          stderr: bytes(answer.stderr),
          all: bytes(answer.stderr),
          getInputFd: () => Sink.drain,
          getOutputFd: () => Stream.empty,
          unref: Effect.die("not supported")
        })
      })
    )
  )

const withScript = <A, E>(script: Script, program: (calls: Ref.Ref<ReadonlyArray<string>>) => Effect.Effect<A, E, LustreShell>) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    return yield* program(calls).pipe(Effect.provide(LustreShellLive.layer.pipe(Layer.provide(scriptedSpawner(script, calls)))))
  })

describe("the live Lustre shell's commands", () => {
  it.effect("mounts Lustre, binds, remounts read-only and unmounts with argument arrays", () =>
    withScript(() => ({ exitCode: 0 }), (calls) =>
      Effect.gen(function*() {
        const shell = yield* LustreShell
        yield* shell.mountLustre({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }, "/m", ["flock", "noatime"])
        yield* shell.mountLustre({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }, "/n", [])
        yield* shell.bindMount({ procPath: "/proc/7/fd/21", path: "/m/sub dir", identity: "1:2" }, { procPath: "/proc/7/fd/22", path: "/pod/a", identity: "1:3" })
        yield* shell.remountReadOnly("/pod/a")
        yield* shell.unmount("/pod/a", "normal")
        yield* shell.unmount("/pod/b", "force")
        yield* shell.unmount("/m", "lazy")
        assert.deepStrictEqual(yield* Ref.get(calls), [
          "mount -t lustre -o flock,noatime 10.0.0.4@tcp:/lustrefs /m",
          "mount -t lustre 10.0.0.4@tcp:/lustrefs /n",
          "mount --no-canonicalize --bind /proc/7/fd/21 /proc/7/fd/22",
          "mount -o remount,bind,ro /pod/a",
          "umount /pod/a",
          "umount -f /pod/b",
          "umount -l /m"
        ])
      })))

  it.effect("a failed mount is MountFailed with the command line and mount's words", () =>
    withScript(
      () => ({ exitCode: 32, stderr: "mount.lustre: mount 10.0.0.4@tcp:/lustrefs at /m failed: Input/output error\n" }),
      () =>
        Effect.gen(function*() {
          const failed = yield* Effect.flip((yield* LustreShell).mountLustre({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }, "/m", []))
          assert.strictEqual(failed.operation, "mount -t lustre 10.0.0.4@tcp:/lustrefs /m")
          assert.strictEqual(
            failed.message,
            "mount -t lustre 10.0.0.4@tcp:/lustrefs /m: exit status 32: mount.lustre: mount 10.0.0.4@tcp:/lustrefs at /m failed: Input/output error"
          )
        })
    ))

  it.effect("on this machine (no Lustre), mount -t lustre fails with mount's own message", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(
        LustreShell.use((shell) => shell.mountLustre({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }, "/nonexistent-target", []))
      )
      assert.strictEqual(failed.operation, "mount -t lustre 10.0.0.4@tcp:/lustrefs /nonexistent-target")
      assert.match(failed.message, /^mount -t lustre 10\.0\.0\.4@tcp:\/lustrefs \/nonexistent-target: exit status \d+: mount: /)
    }).pipe(Effect.provide(LustreShellLive.layerNode)))

  it.effect("pathState tells missing, directory, other and errors apart", () =>
    Effect.gen(function*() {
      const shell = yield* LustreShell
      assert.strictEqual(yield* shell.pathState("/proc"), "directory")
      assert.strictEqual(yield* shell.pathState("/proc/self"), "other") // a symlink, not followed
      assert.strictEqual(yield* shell.pathState("/no/such/path"), "missing")
      assert.deepStrictEqual(yield* shell.pathState("/proc/self/cmdline/x"), { error: "ENOTDIR" })
      const table = yield* shell.mountTable
      assert.isTrue(table.some((entry) => entry.mountPoint === "/"))
    }).pipe(Effect.provide(LustreShellLive.layerNode)))
})

describe("statfs through stat(1)", () => {
  const onThisMachine = <A, E>(program: Effect.Effect<A, E, LustreShell>) =>
    program.pipe(Effect.provide(LustreShellLive.layerNode))

  it.effect("reads bytes and inodes of a real filesystem", () =>
    onThisMachine(Effect.gen(function*() {
      const stats = yield* (yield* LustreShell).statfs("/tmp")
      assert.isTrue(stats.totalBytes > 0n && stats.totalInodes > 0n)
      assert.strictEqual(stats.usedBytes <= stats.totalBytes && stats.availableBytes <= stats.totalBytes, true)
    })))

  it.effect("names the errno of a path that is gone", () =>
    onThisMachine(Effect.gen(function*() {
      const failed = yield* (yield* LustreShell).statfs("/no/such/volume").pipe(Effect.flip)
      assert.strictEqual(failed.code, "ENOENT")
    })))
})
