import * as Fs from "node:fs"
import * as Os from "node:os"
import { parseMountInfo } from "../../layers/lustre/mountinfo.js"
import type { MountEntry } from "../../layers/lustre/LustreShell.js"

// What the fuzz asks of the kernel's mount table (this process shares the driver's mount namespace).

export const readMountTable = (): ReadonlyArray<MountEntry> =>
  parseMountInfo(Fs.readFileSync("/proc/self/mountinfo", "utf8")).entries

export const isWithin = (folder: string, path: string): boolean =>
  folder === "/" ? path.startsWith("/") : path === folder || path.startsWith(`${folder}/`)

/** A mount as a key: its id, and where and what it shows (ids are reused once a mount is gone). */
export const mountKey = (entry: MountEntry): string => `${entry.mountId} ${entry.device} ${entry.root} ${entry.mountPoint}`

/** Where `path` lives: its device and its path from that filesystem's root, as a mount's `root` field names it. */
export interface DevicePath {
  readonly device: string
  readonly path: string
}

export const devicePathOf = (table: ReadonlyArray<MountEntry>, path: string): DevicePath => {
  const holder = table.filter((entry) => isWithin(entry.mountPoint, path)).reduce<MountEntry | undefined>(
    (deepest, entry) => (deepest === undefined || entry.mountPoint.length >= deepest.mountPoint.length ? entry : deepest),
    undefined
  )
  if (holder === undefined) throw new Error(`no mount holds ${path}`)
  const rest = holder.mountPoint === "/" ? path : path.slice(holder.mountPoint.length)
  return { device: holder.device, path: `${holder.root === "/" ? "" : holder.root}${rest}` || "/" }
}

/** Whether a mount shows `folder` or something below it. */
export const shows = (entry: MountEntry, folder: DevicePath): boolean =>
  entry.device === folder.device && isWithin(folder.path, entry.root)

/**
 * The mounts of `table` not in `before` whose mount point is outside `folders`. Mounts that are
 * plainly another process's (another test's, below the temporary folder, showing nothing of
 * `folders`) are not counted.
 */
export const newMountsOutside = (
  table: ReadonlyArray<MountEntry>,
  before: ReadonlySet<string>,
  folders: ReadonlyArray<string>
): ReadonlyArray<MountEntry> => {
  const devicePaths = folders.map((folder) => devicePathOf(table, folder))
  const tmp = Fs.realpathSync(Os.tmpdir())
  return table.filter((entry) =>
    !before.has(mountKey(entry)) &&
    !folders.some((folder) => isWithin(folder, entry.mountPoint)) &&
    (!isWithin(tmp, entry.mountPoint) || devicePaths.some((folder) => shows(entry, folder)))
  )
}

export const describeMount = (entry: MountEntry): string =>
  `${JSON.stringify(entry.mountPoint)} (${entry.fsType} ${entry.source}, root ${JSON.stringify(entry.root)}, ${entry.options.join(",")})`

/**
 * The mount table as the fuzz watches it: what was there before the run, and what the run may
 * make, which is bind mounts of the driver's (simulated) Lustre filesystems at or below the two
 * folders it owns: kubelet's folder and its own state folder.
 */
export const watchMounts = (folders: { readonly kubelet: string; readonly state: string; readonly lustre: string }) => {
  const table = readMountTable()
  const before = new Set(table.map(mountKey))
  const lustre = devicePathOf(table, folders.lustre)
  const isOurs = (entry: MountEntry) => isWithin(folders.kubelet, entry.mountPoint) || isWithin(folders.state, entry.mountPoint)
  return {
    /** What is wrong with the mount table now: mounts made outside the two folders, or showing something else than Lustre. */
    problems: (): ReadonlyArray<string> => {
      const now = readMountTable()
      return [
        ...newMountsOutside(now, before, [folders.kubelet, folders.state])
          .map((entry) => `a mount outside kubelet's folder and the driver's state folder: ${describeMount(entry)}`),
        ...now.filter((entry) => isOurs(entry) && !before.has(mountKey(entry)) && !shows(entry, lustre))
          .map((entry) => `a mount that shows something other than a (simulated) Lustre filesystem: ${describeMount(entry)}`)
      ]
    },
    /** The mounts the run made in the two folders that are still there. */
    madeSince: (): ReadonlyArray<MountEntry> => readMountTable().filter((entry) => isOurs(entry) && !before.has(mountKey(entry))),
    /** Of the mounts that were there before, those at `mountPoints` that are gone. */
    goneAt: (mountPoints: ReadonlyArray<string>): ReadonlyArray<MountEntry> => {
      const now = new Set(readMountTable().map(mountKey))
      return table.filter((entry) => mountPoints.includes(entry.mountPoint) && !now.has(mountKey(entry)))
    }
  }
}
