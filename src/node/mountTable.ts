import * as Path from "node:path"
import type { LustreFilesystem, MountEntry } from "../../layers/lustre/LustreShell.js"

/** The directory holding the node's shared Lustre mount of a filesystem. */
export const sharedMountPoint = (mountRoot: string, filesystem: LustreFilesystem): string =>
  Path.join(mountRoot, `${filesystem.mgsAddress}_${filesystem.fsName}`)

/**
 * Where a shared mount's read-only view is mounted: a read-only bind of the whole shared mount,
 * from which read-only publishes are bound, so they are read-only from their first instant.
 */
export const readOnlyViewPoint = (mountRoot: string, sharedMountPoint: string): string =>
  Path.join(mountRoot, "read-only", Path.basename(sharedMountPoint))

/** What is mounted at `path` now (the last of stacked mounts). */
export const mountAt = (table: ReadonlyArray<MountEntry>, path: string): MountEntry | undefined =>
  table.findLast((entry) => entry.mountPoint === path)

const isWithin = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root === "/" ? "/" : `${root}/`)

/** Whether `entry` shows (part of) the filesystem of `shared`: same device, root inside. */
export const showsFilesystemOf = (shared: MountEntry, entry: MountEntry): boolean =>
  entry.device === shared.device && isWithin(shared.root, entry.root)

/**
 * The publishes of a shared mount: every mount of its filesystem outside the mount root (where
 * the shared mount and its read-only view live). Counted from the kernel's table, not from
 * memory, so a restarted driver counts the same.
 */
export const publishesOf = (
  table: ReadonlyArray<MountEntry>,
  shared: MountEntry,
  mountRoot: string
): ReadonlyArray<MountEntry> =>
  table.filter((entry) => !isWithin(mountRoot, entry.mountPoint) && showsFilesystemOf(shared, entry))

/**
 * The publishes showing the very directory `published` shows (same device and root): one
 * volume's publishes, whichever pod or mode. Outside the mount root, from the kernel's table.
 */
export const publishesShowing = (
  table: ReadonlyArray<MountEntry>,
  mountRoot: string,
  published: Pick<MountEntry, "device" | "root">
): ReadonlyArray<MountEntry> =>
  table.filter((entry) =>
    !isWithin(mountRoot, entry.mountPoint) && entry.device === published.device && entry.root === published.root
  )

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

/**
 * Mounts below `podsDir` that a mount at `path` would nest with: one on a folder above it (the
 * new mount would land inside another mount) or below it (the new mount would hide it). Kubelet
 * never nests volume targets; the node plugin refuses to.
 */
export const mountsNestingWith = (table: ReadonlyArray<MountEntry>, podsDir: string, path: string): ReadonlyArray<MountEntry> =>
  table.filter((entry) =>
    entry.mountPoint !== path && isWithin(podsDir, entry.mountPoint) && entry.mountPoint !== podsDir &&
    (isWithin(entry.mountPoint, path) || isWithin(path, entry.mountPoint))
  )

/**
 * A mount below `podsDir` on a folder above `entry`'s mount point that `entry` was not mounted
 * inside of (it is not among `entry`'s parents): it hides `entry`, which can then be neither
 * reached nor unmounted by its path.
 */
export const mountHiding = (table: ReadonlyArray<MountEntry>, podsDir: string, entry: MountEntry): MountEntry | undefined => {
  const byId = new Map(table.map((mount) => [mount.mountId, mount]))
  const parents = new Set<number>()
  for (let parent = byId.get(entry.parentId); parent !== undefined && !parents.has(parent.mountId); parent = byId.get(parent.parentId)) {
    parents.add(parent.mountId)
  }
  return table.find((other) =>
    other.mountPoint !== entry.mountPoint && isWithin(podsDir, other.mountPoint) && isWithin(other.mountPoint, entry.mountPoint) &&
    !parents.has(other.mountId)
  )
}
