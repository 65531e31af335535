import * as Path from "node:path"
import type { LustreFilesystem } from "../../lustre/LustreShell.js"
import { filesystemDirectory } from "../../lustre/LustreShellSimulation.js"

/** A blob container as ARM names it: a storage account and a container in it. */
export interface BlobContainer {
  readonly storageAccount: string
  readonly container: string
}

/**
 * Where the simulation keeps what stands for AMLFS's blob integration, all under the state
 * directory, so the Lustre simulation, the HSM layer, the ARM emulator and the `sim-hsm` command
 * agree on one layout:
 *
 *   filesystems/<mgs>/<fsname>/             the simulated Lustre filesystem (LustreShellSimulation)
 *   blob/<account>/<container>/<blob name>  a blob container: a blob is a file, its name the path below
 *   hsm/<mgs>/<fsname>/link.json            the container the filesystem is linked to (hsm.settings.container)
 *   hsm/<mgs>/<fsname>/states/<dev>-<ino>.json  the HSM state of one file (HsmStateTable)
 */
export const hsmPaths = (stateDir: string) => ({
  filesystem: (filesystem: LustreFilesystem) => filesystemDirectory(stateDir, filesystem),
  filesystems: Path.join(stateDir, "filesystems"),
  container: (container: BlobContainer) => Path.join(stateDir, "blob", container.storageAccount, container.container),
  link: (filesystem: LustreFilesystem) => Path.join(hsmDirectory(stateDir, filesystem), "link.json"),
  states: (filesystem: LustreFilesystem) => Path.join(hsmDirectory(stateDir, filesystem), "states"),
  faults: Path.join(stateDir, "faults")
})

export type HsmPaths = ReturnType<typeof hsmPaths>

const hsmDirectory = (stateDir: string, filesystem: LustreFilesystem) =>
  Path.join(stateDir, "hsm", filesystem.mgsAddress, filesystem.fsName)
