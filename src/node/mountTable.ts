import * as Path from "node:path"
import type { LustreFilesystem, MountEntry } from "../../layers/lustre/LustreShell.js"

/** The directory holding the node's shared Lustre mount of a filesystem. */
export const sharedMountPoint = (mountRoot: string, filesystem: LustreFilesystem): string =>
  Path.join(mountRoot, `${filesystem.mgsAddress}_${filesystem.fsName}`)

/** What is mounted at `path` now (the last of stacked mounts). */
export const mountAt = (table: ReadonlyArray<MountEntry>, path: string): MountEntry | undefined =>
  table.findLast((entry) => entry.mountPoint === path)

const isWithin = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root === "/" ? "/" : `${root}/`)

/** The root a bind of `subDir` of `shared` shows in the mount table. */
export const bindRootOf = (shared: MountEntry, subDir: string): string =>
  subDir === "" ? shared.root : Path.posix.join(shared.root, subDir)

/** Whether `entry` shows (part of) the filesystem of `shared`: same device, root inside. */
export const showsFilesystemOf = (shared: MountEntry, entry: MountEntry): boolean =>
  entry.device === shared.device && isWithin(shared.root, entry.root)

/**
 * The publishes of a shared mount: every other mount of its filesystem. Counted from the kernel's
 * table, not from memory, so a restarted driver counts the same.
 */
export const publishesOf = (table: ReadonlyArray<MountEntry>, shared: MountEntry): ReadonlyArray<MountEntry> =>
  table.filter((entry) => entry.mountPoint !== shared.mountPoint && showsFilesystemOf(shared, entry))

/** The shared mount (directly under `mountRoot`) that a published target shows part of. */
export const sharedMountOf = (
  table: ReadonlyArray<MountEntry>,
  mountRoot: string,
  published: MountEntry
): MountEntry | undefined =>
  table.find((entry) =>
    Path.dirname(entry.mountPoint) === mountRoot && entry.mountPoint !== published.mountPoint &&
    showsFilesystemOf(entry, published)
  )

/** The node's shared Lustre mounts: the mounts directly under `mountRoot`. */
export const sharedMountsIn = (table: ReadonlyArray<MountEntry>, mountRoot: string): ReadonlyArray<MountEntry> =>
  table.filter((entry) => Path.dirname(entry.mountPoint) === mountRoot)
