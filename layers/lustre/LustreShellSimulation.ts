import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { SimulationFaults } from "../simulation/SimulationFaults.js"
import { makeRunCommand } from "./command.js"
import { type LustreFilesystem, LustreShell, MountFailed } from "./LustreShell.js"
import { makeLustreShell } from "./LustreShellLive.js"

/**
 * The shell of `azurelustre-csi sim`: the live shell (real bind mounts, real umount, the kernel's
 * mount table, statfs, directories) except that a Lustre filesystem `<mgs>@tcp:/<fsname>` is the
 * directory `<stateDir>/filesystems/<mgs>/<fsname>`, and mounting it bind-mounts that directory.
 * The mount table therefore shows the simulated filesystem with the type and source of the disk
 * under the state directory, and its root is that directory, not "/".
 *
 * Faults, one file each in the faults directory, read at every call:
 *
 *   mount-hang        mounting never returns (until interrupted); the text, if any, limits it to one MGS address
 *   mount-fail        mounting fails with an I/O error; the text, if any, limits it to one MGS address
 *   umount-busy       a normal umount fails with "target is busy"; -f and -l work
 *   umount-hang       a normal or forced umount never returns (until interrupted); -l works
 */
export const filesystemDirectory = (stateDir: string, filesystem: LustreFilesystem): string =>
  Path.join(stateDir, "filesystems", filesystem.mgsAddress, filesystem.fsName)

const makeSimulatedShell = (
  live: LustreShell["Service"],
  faults: SimulationFaults["Service"],
  stateDir: string
): LustreShell["Service"] => {
  const switchedOnFor = (fault: string, mgsAddress: string) =>
    Effect.map(faults.read(fault), Option.match({ onNone: () => false, onSome: (text) => text === "" || text === mgsAddress }))
  const switchedOn = (fault: string) => Effect.map(faults.read(fault), Option.isSome)

  const mountLustre = Effect.fn("LustreShellSimulation.mountLustre")(function*(
    filesystem: LustreFilesystem,
    target: string,
    _options: ReadonlyArray<string>
  ) {
    const label = `${filesystem.mgsAddress}@tcp:/${filesystem.fsName}`
    if (yield* switchedOnFor("mount-hang", filesystem.mgsAddress)) return yield* Effect.never
    if (yield* switchedOnFor("mount-fail", filesystem.mgsAddress)) {
      return yield* new MountFailed({
        operation: `mount -t lustre ${label} ${target}`,
        message: `mount.lustre: mount ${label} at ${target} failed: Input/output error (simulated)`
      })
    }
    const directory = filesystemDirectory(stateDir, filesystem)
    yield* Effect.tryPromise({
      try: () => Fs.mkdir(directory, { recursive: true }),
      catch: (error) =>
        new MountFailed({ operation: `mount -t lustre ${label} ${target}`, message: `cannot create ${directory}: ${String(error)}` })
    })
    const open = (path: string) =>
      live.openDirectoryBeneath(path, [], { symlinks: "refuse" }).pipe(
        Effect.mapError((failed) => new MountFailed({ operation: `mount -t lustre ${label} ${target}`, message: failed.message }))
      )
    yield* Effect.scoped(Effect.flatMap(Effect.all([open(directory), open(target)]), ([from, onto]) => live.bindMount(from, onto)))
  })

  const unmount = Effect.fn("LustreShellSimulation.unmount")(function*(target: string, mode: "normal" | "force" | "lazy") {
    if (mode !== "lazy" && (yield* switchedOn("umount-hang"))) return yield* Effect.never
    if (mode === "normal" && (yield* switchedOn("umount-busy"))) {
      return yield* new MountFailed({ operation: `umount ${target}`, message: `umount: ${target}: target is busy (simulated)` })
    }
    yield* live.unmount(target, mode)
  })

  return LustreShell.of({ ...live, mountLustre, unmount })
}

export const LustreShellSimulation = {
  /** Needs the simulation's faults; runs mount(8) and umount(8) through Node. */
  layer: (stateDir: string): Layer.Layer<LustreShell, never, SimulationFaults> =>
    Layer.effect(
      LustreShell,
      Effect.gen(function*() {
        const live = makeLustreShell(makeRunCommand(yield* ChildProcessSpawner.ChildProcessSpawner))
        return makeSimulatedShell(live, yield* SimulationFaults, stateDir)
      })
    ).pipe(Layer.provide(NodeServices.layer))
} as const
