import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseMountInfo } from "../../layers/lustre/mountinfo.js"

/** A fresh folder for a test's targets, in canonical form (the mount table's spelling). */
export const scratchFolder = (prefix: string): string => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix)))

const isWithin = (folder: string, path: string) => path === folder || path.startsWith(`${folder}/`)

/** The mount points at or below `folder`, in the kernel's order. */
export const mountPointsUnder = (folder: string): Array<string> =>
  parseMountInfo(Fs.readFileSync("/proc/self/mountinfo", "utf8")).entries
    .map((entry) => entry.mountPoint)
    .filter((mountPoint) => isWithin(folder, mountPoint))

/** What a failed test left mounted below `folder`, detached lazily, newest first: no mount outlives the tests. */
export const unmountAllUnder = (folder: string): void => {
  for (const mountPoint of mountPointsUnder(folder).reverse()) {
    execFileSync("umount", ["-l", mountPoint])
  }
}
