import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The MGS addresses whose simulated filesystems the fuzz prepares, and the one fs-name besides lustrefs. */
export const MGS_ADDRESSES = ["10.0.0.4", "10.0.0.5"] as const
export const OTHER_FS_NAME = "fs2"

/**
 * Where the fuzz publishes, and the traps laid there before it starts: the simulated kubelet's
 * folder (`--kubelet-dir`), the driver's state folder, mounts that are not the driver's, a
 * symlink from the pods folder out of it, a file where a target would be, and inside the
 * simulated filesystems a file, a symlink leading out and one staying in.
 */
export interface FuzzWorld {
  /** `--kubelet-dir`, canonical. */
  readonly scratch: string
  readonly pods: string
  /** The driver's `--state-dir`, canonical. */
  readonly stateDir: string
  /** A host folder inside the scratch folder but outside the pods folder; `pods/linked` leads to it. */
  readonly outside: string
  /** Empty folders outside the pods folder that a path through `pods/linked` names: nothing may remove them. */
  readonly sentinels: ReadonlyArray<string>
  /** Targets holding a mount that is not the driver's: a tmpfs, and a bind of a host folder. */
  readonly foreignTargets: ReadonlyArray<string>
  /** A pod's target, as kubelet spells it. */
  readonly target: (pod: string) => string
}

const CSI_VOLUME = Path.join("volumes", "kubernetes.io~csi", "pv", "mount")

export const prepareWorld = (scratch: string, stateDir: string): FuzzWorld => {
  const pods = Path.join(scratch, "pods")
  const target = (pod: string) => Path.join(pods, pod, CSI_VOLUME)
  const outside = Path.join(scratch, "outside")

  const sentinels = [Path.join(outside, "mount"), Path.join(outside, CSI_VOLUME)]
  for (const sentinel of sentinels) Fs.mkdirSync(sentinel, { recursive: true })
  Fs.mkdirSync(pods, { recursive: true })
  Fs.symlinkSync(outside, Path.join(pods, "linked"))
  Fs.mkdirSync(Path.dirname(target("file")), { recursive: true })
  Fs.writeFileSync(target("file"), "a file where kubelet would have a directory")

  const hostFolder = Path.join(scratch, "host-folder")
  Fs.mkdirSync(hostFolder)
  const foreignTargets = [target("foreign-tmpfs"), target("foreign-bind")]
  for (const foreign of foreignTargets) Fs.mkdirSync(foreign, { recursive: true })
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", target("foreign-tmpfs")])
  execFileSync("mount", ["--bind", hostFolder, target("foreign-bind")])

  for (const mgs of MGS_ADDRESSES) {
    for (const fsName of ["lustrefs", OTHER_FS_NAME]) {
      const filesystem = Path.join(stateDir, "filesystems", mgs, fsName)
      Fs.mkdirSync(Path.join(filesystem, "shared"), { recursive: true })
      Fs.writeFileSync(Path.join(filesystem, "a-file"), "not a directory")
      Fs.symlinkSync(outside, Path.join(filesystem, "escape"))
      Fs.symlinkSync(`${"../".repeat(12)}${outside.slice(1)}`, Path.join(filesystem, "up"))
      Fs.symlinkSync("shared", Path.join(filesystem, "inside-link"))
    }
  }
  return { scratch, pods, stateDir, outside, sentinels, foreignTargets, target }
}
