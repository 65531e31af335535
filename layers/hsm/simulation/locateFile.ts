import * as Effect from "effect/Effect"
import type * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LustreFilesystem, MountEntry } from "../../lustre/LustreShell.js"
import { parseMountInfo } from "../../lustre/mountinfo.js"
import { HsmFileFailed, reasonOf } from "./HsmFileFailed.js"
import type { HsmPaths } from "./HsmPaths.js"

/** A file (or directory) of a simulated Lustre filesystem, however it was reached. */
export interface SimulatedFile {
  /** The path as given: through a bind mount, `/proc/<pid>/fd/<n>/...`, or the filesystem directory. */
  readonly path: string
  readonly filesystem: LustreFilesystem
  /** The filesystem's directory under the state directory, canonical. */
  readonly root: string
  /** The path within the filesystem ("" for its root): the name of its blob. */
  readonly relative: string
  readonly stats: NodeFs.BigIntStats
}

interface FilesystemRoot {
  readonly filesystem: LustreFilesystem
  readonly canonical: string
  readonly stats: NodeFs.BigIntStats
}

const sameInode = (a: NodeFs.BigIntStats, b: NodeFs.BigIntStats) => a.dev === b.dev && a.ino === b.ino

const isWithin = (folder: string, path: string) => path === folder || path.startsWith(folder === "/" ? "/" : `${folder}/`)

const below = (folder: string, path: string) => (path === folder ? "" : path.slice(folder === "/" ? 1 : folder.length + 1))

const listNames = (directory: string) => Fs.readdir(directory).catch(() => [] as Array<string>)

/** Every `<state>/filesystems/<mgs>/<fsname>` directory there is now. */
const filesystemRoots = (paths: HsmPaths): Effect.Effect<ReadonlyArray<FilesystemRoot>> =>
  Effect.promise(async () => {
    const roots: Array<FilesystemRoot> = []
    for (const mgsAddress of await listNames(paths.filesystems)) {
      for (const fsName of await listNames(Path.join(paths.filesystems, mgsAddress))) {
        const directory = Path.join(paths.filesystems, mgsAddress, fsName)
        const canonical = await Fs.realpath(directory).catch(() => undefined)
        const stats = canonical !== undefined ? await Fs.stat(canonical, { bigint: true }).catch(() => undefined) : undefined
        if (canonical !== undefined && stats?.isDirectory()) roots.push({ filesystem: { mgsAddress, fsName }, canonical, stats })
      }
    }
    return roots
  })

/** The mount `path` is on (the last one mounted at the longest mount point above it), and `path` within its device. */
const onDevice = (mounts: ReadonlyArray<MountEntry>, canonical: string) => {
  let on: MountEntry | undefined
  for (const mount of mounts) {
    if (isWithin(mount.mountPoint, canonical) && (on === undefined || mount.mountPoint.length >= on.mountPoint.length)) on = mount
  }
  return on === undefined ? undefined : { device: on.device, path: Path.posix.join(on.root, below(on.mountPoint, canonical)) }
}

/**
 * Which simulated filesystem holds `path`, and where in it. A path below a filesystem directory
 * (once canonical) answers at once. Otherwise (a bind mount of the filesystem or of a directory
 * in it, as a pod sees it) the mount table says which directory of which device the mount
 * shows: the path within the device is then compared with each filesystem directory's. Either
 * way the answer is checked by inode: the filesystem directory joined with the relative path
 * must be the very file given.
 */
export const locateFile = (paths: HsmPaths, path: string): Effect.Effect<SimulatedFile, HsmFileFailed> =>
  Effect.gen(function*() {
    const failed = (message: string) => new HsmFileFailed({ path, message })
    const [canonical, stats] = yield* Effect.tryPromise({
      try: async () => {
        const canonical = await Fs.realpath(path)
        return [canonical, await Fs.stat(canonical, { bigint: true })] as const
      },
      catch: (error) => failed(`cannot stat: ${reasonOf(error)}`)
    })
    const roots = yield* filesystemRoots(paths)
    const found = (root: FilesystemRoot, relative: string): SimulatedFile => ({
      path,
      filesystem: root.filesystem,
      root: root.canonical,
      relative,
      stats
    })
    const direct = roots.find((root) => isWithin(root.canonical, canonical))
    if (direct !== undefined) return found(direct, below(direct.canonical, canonical))

    const { entries } = parseMountInfo(yield* Effect.promise(() => Fs.readFile("/proc/self/mountinfo", "utf8")))
    const file = onDevice(entries, canonical)
    for (const root of roots) {
      const directory = onDevice(entries, root.canonical)
      if (file === undefined || directory === undefined || file.device !== directory.device) continue
      if (!isWithin(directory.path, file.path)) continue
      const relative = below(directory.path, file.path)
      const seen = yield* Effect.promise(() => Fs.stat(Path.join(root.canonical, relative), { bigint: true }).catch(() => undefined))
      if (seen !== undefined && sameInode(seen, stats)) return found(root, relative)
    }
    return yield* failed("not in a simulated Lustre filesystem (no <state>/filesystems/<mgs>/<fsname> holds it)")
  })

/** The file or directory `name` in a located directory. */
export const childOf = (directory: SimulatedFile, name: string, stats: NodeFs.BigIntStats): SimulatedFile => ({
  ...directory,
  path: Path.join(directory.path, name),
  relative: directory.relative === "" ? name : `${directory.relative}/${name}`,
  stats
})
