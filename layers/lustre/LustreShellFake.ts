import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Path from "node:path"
import {
  type FilesystemStats,
  type LustreFilesystem,
  LustreShell,
  type MountEntry,
  MountFailed,
  type OpenBeneathOptions,
  type OpenDirectory,
  PathEscapes,
  PathFailed
} from "./LustreShell.js"

/** How a scripted unmount misbehaves: fails with "target is busy", or never returns. */
export type UnmountFailure = "busy" | "hang"

/** What the fake is told to do; tests may change it mid-test through `LustreShellFake.script`. */
export interface LustreShellFakeScript {
  /** MGS addresses whose mounts never return (until interrupted). */
  readonly hangMountFor?: ReadonlySet<string>
  /** MGS addresses whose mounts fail with an I/O error. */
  readonly failMountFor?: ReadonlySet<string>
  /** Bind mount targets whose bind fails. */
  readonly failBindFor?: ReadonlySet<string>
  /** Per unmount target, how each mode misbehaves; a mode not named works. */
  readonly unmountFailures?: ReadonlyMap<string, Partial<Record<"normal" | "force" | "lazy", UnmountFailure>>>
  /** Paths whose statfs and pathState fail with this errno (ESTALE, ENOTCONN, EIO: a stale mount). */
  readonly pathErrors?: ReadonlyMap<string, string>
  /** Symlinks, by absolute path, to absolute targets: only openDirectoryBeneath and pathState look at them. */
  readonly symlinks?: ReadonlyMap<string, string>
  /** Paths that are files, not directories: openDirectoryBeneath stops at them with ENOTDIR. */
  readonly files?: ReadonlySet<string>
  /** What statfs answers for a path inside a mount. */
  readonly stats?: FilesystemStats
}

export interface LustreShellFakeOptions extends LustreShellFakeScript {
  /** Directories that exist on the node's root filesystem at the start (with their parents). */
  readonly directories?: Iterable<string>
}

export const defaultFakeStats: FilesystemStats = {
  totalBytes: 4n * 1024n ** 4n,
  availableBytes: 3n * 1024n ** 4n,
  usedBytes: 1024n ** 4n,
  totalInodes: 1_000_000n,
  freeInodes: 900_000n,
  usedInodes: 100_000n
}

/** The node's own disk, as the fake shows it: binds of paths outside any mount come from it. */
const rootFilesystem = { device: "0:0", fsType: "ext4", source: "/dev/root", superOptions: ["rw"] } as const

/** Where a path lives: the filesystem (by source) and the path inside it. */
interface Location {
  readonly mount: MountEntry | undefined
  readonly source: string
  readonly fsPath: string
}

const isWithin = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root === "/" ? "/" : `${root}/`)

/** The mount showing `path`: the deepest mount point above it, the last one when mounts are stacked. */
const locate = (table: ReadonlyArray<MountEntry>, path: string): Location => {
  let found: MountEntry | undefined
  for (const entry of table) {
    if (isWithin(entry.mountPoint, path) && (found === undefined || entry.mountPoint.length >= found.mountPoint.length)) {
      found = entry
    }
  }
  if (found === undefined) return { mount: undefined, source: rootFilesystem.source, fsPath: path }
  return { mount: found, source: found.source, fsPath: Path.posix.join(found.root, Path.posix.relative(found.mountPoint, path)) }
}

const key = (location: Location) => `${location.source}\u0000${location.fsPath}`

const ancestry = (path: string): Array<string> => {
  const paths: Array<string> = []
  for (let current = Path.posix.resolve(path); ; current = Path.posix.dirname(current)) {
    paths.unshift(current)
    if (current === "/") return paths
  }
}

/**
 * The fake's state, for tests to read and steer. `calls` holds every call in order: mount and
 * umount as the command lines a node would run ("mount -t lustre -o flock 10.0.0.4@tcp:/lustrefs
 * /m", "mount --bind /a /b", "umount -f /b"), the rest as "<method> <arguments>" ("statfs /m",
 * "openDirectoryBeneath /m a/b 755", "mountTable").
 */
export class LustreShellFake extends Context.Service<LustreShellFake, {
  readonly calls: Ref.Ref<ReadonlyArray<string>>
  readonly table: Ref.Ref<ReadonlyArray<MountEntry>>
  readonly script: Ref.Ref<LustreShellFakeScript>
  /** Whether `path` is a directory as the node sees it now, through whatever is mounted there. */
  readonly isDirectory: (path: string) => Effect.Effect<boolean>
  /** The mount and umount command lines among `calls`. */
  readonly commands: Effect.Effect<ReadonlyArray<string>>
}>()("azurelustre/lustre/LustreShellFake") {
  /**
   * A deterministic, in-memory LustreShell, and its state (LustreShellFake) for the test.
   *
   * What it fakes, and how far:
   * - the mount table is its own list of MountEntry, in mount order. mountLustre adds fsType
   *   "lustre", source "<mgs>@tcp:/<fs>", root "/" and a new device "0:<n>" per mount. A bind
   *   of a path inside a mount copies that mount's device, type and source, with root = its root
   *   plus the sub-path; a bind of a path outside every mount shows device "0:0" of an "ext4"
   *   root disk with root = the path. The node's own mounts ("/", /proc, ...) are not listed.
   * - directories belong to a filesystem (by source), so a sub-directory made through one mount
   *   shows through every bind of it and through later mounts of the same filesystem, and is
   *   hidden once unmounted. Files and symlinks are scripted and only openDirectoryBeneath
   *   and pathState see them.
   * - mounts need an existing target and (binds) source; umount of a path that is not a mount
   *   point fails "not mounted"; umount of a mount with mounts beneath it is not refused.
   * - statfs answers the scripted numbers for an existing directory inside a mount, ENOENT
   *   otherwise. Modes given to openDirectoryBeneath are not kept.
   * - there are no file descriptors: an OpenDirectory's procPath is the path it resolved to, and a
   *   bind looks that path up when it is made (there are no races to close in memory). A bind
   *   copies the read-only flag of the mount it is taken from, as the kernel does.
   */
  static readonly layer = (options: LustreShellFakeOptions = {}): Layer.Layer<LustreShell | LustreShellFake> =>
    Layer.effect(LustreShell, Effect.gen(function*() {
      return makeFakeShell(yield* LustreShellFake, yield* FakeDirectories)
    })).pipe(Layer.provideMerge(stateLayer(options)))
}

/** The directory store, shared by the shell and its state service. */
class FakeDirectories extends Context.Service<FakeDirectories, Ref.Ref<ReadonlySet<string>>>()(
  "azurelustre/lustre/LustreShellFake/directories"
) {}

const stateLayer = (options: LustreShellFakeOptions) => {
  const { directories = [], ...script } = options
  const initial = new Set<string>()
  for (const directory of directories) {
    for (const path of ancestry(directory)) initial.add(key({ mount: undefined, source: rootFilesystem.source, fsPath: path }))
  }
  initial.add(key({ mount: undefined, source: rootFilesystem.source, fsPath: "/" }))
  return Layer.effect(LustreShellFake, Effect.gen(function*() {
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    const table = yield* Ref.make<ReadonlyArray<MountEntry>>([])
    const dirs = yield* FakeDirectories
    return LustreShellFake.of({
      calls,
      table,
      script: yield* Ref.make<LustreShellFakeScript>(script),
      isDirectory: (path) =>
        Effect.gen(function*() {
          return (yield* Ref.get(dirs)).has(key(locate(yield* Ref.get(table), path)))
        }),
      commands: Effect.map(Ref.get(calls), (all) => all.filter((call) => /^u?mount /.test(call)))
    })
  })).pipe(Layer.provideMerge(Layer.effect(FakeDirectories, Ref.make<ReadonlySet<string>>(initial))))
}

const makeFakeShell = (state: LustreShellFake["Service"], directories: Ref.Ref<ReadonlySet<string>>): LustreShell["Service"] => {
  let nextMountId = 1000
  let nextDevice = 1
  const record = (call: string) => Ref.update(state.calls, (calls) => [...calls, call])
  const script = Ref.get(state.script)
  const table = Ref.get(state.table)
  const exists = (path: string) => state.isDirectory(path)
  const addDirectories = (paths: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const mounts = yield* table
      yield* Ref.update(directories, (set) => new Set([...set, ...paths.map((path) => key(locate(mounts, path)))]))
    })
  const addMount = (entry: Omit<MountEntry, "mountId" | "parentId">) =>
    Ref.update(state.table, (mounts) => [
      ...mounts,
      { mountId: nextMountId++, parentId: locate(mounts, entry.mountPoint).mount?.mountId ?? 1, ...entry }
    ])
  const requireDirectory = (path: string, operation: string, message: string) =>
    Effect.flatMap(exists(path), (present) => present ? Effect.void : Effect.fail(new MountFailed({ operation, message })))

  const mountLustre = Effect.fn("LustreShellFake.mountLustre")(function*(
    filesystem: LustreFilesystem,
    target: string,
    options: ReadonlyArray<string>
  ) {
    const source = `${filesystem.mgsAddress}@tcp:/${filesystem.fsName}`
    const operation = ["mount", "-t", "lustre", ...(options.length === 0 ? [] : ["-o", options.join(",")]), source, target].join(" ")
    yield* record(operation)
    const { failMountFor, hangMountFor } = yield* script
    if (hangMountFor?.has(filesystem.mgsAddress)) return yield* Effect.never
    if (failMountFor?.has(filesystem.mgsAddress)) {
      return yield* new MountFailed({
        operation,
        message: `mount.lustre: mount ${source} at ${target} failed: Input/output error (fake)`
      })
    }
    yield* requireDirectory(target, operation, `mount: ${target}: mount point does not exist.`)
    yield* addMount({
      device: `0:${nextDevice++}`,
      root: "/",
      mountPoint: target,
      options: ["rw"],
      fsType: "lustre",
      source,
      superOptions: ["rw", ...options]
    })
    yield* Ref.update(directories, (set) => new Set([...set, key({ mount: undefined, source, fsPath: "/" })]))
  })

  const bindMount = Effect.fn("LustreShellFake.bindMount")(function*(source: OpenDirectory, directory: OpenDirectory) {
    const target = directory.path
    const operation = `mount --no-canonicalize --bind ${source.procPath} ${target}`
    yield* record(operation)
    if ((yield* script).failBindFor?.has(target)) {
      return yield* new MountFailed({ operation, message: `mount: ${target}: bind mount failed (fake)` })
    }
    yield* requireDirectory(source.path, operation, `mount: ${target}: special device ${source.procPath} does not exist.`)
    yield* requireDirectory(target, operation, `mount: ${target}: mount point does not exist.`)
    const from = locate(yield* table, source.path)
    // A bind copies the flags of the mount it is taken from: a bind through a read-only mount is read-only.
    const readOnly = from.mount?.options.includes("ro") ?? false
    yield* addMount({
      device: from.mount?.device ?? rootFilesystem.device,
      root: from.fsPath,
      mountPoint: target,
      options: [readOnly ? "ro" : "rw"],
      fsType: from.mount?.fsType ?? rootFilesystem.fsType,
      source: from.source,
      superOptions: from.mount?.superOptions ?? rootFilesystem.superOptions
    })
  })

  const remountReadOnly = Effect.fn("LustreShellFake.remountReadOnly")(function*(target: string) {
    const operation = `mount -o remount,bind,ro ${target}`
    yield* record(operation)
    const mounts = yield* table
    const index = mounts.findLastIndex((entry) => entry.mountPoint === target)
    if (index === -1) return yield* new MountFailed({ operation, message: `mount: ${target}: not mount point or bad option.` })
    yield* Ref.set(state.table, mounts.map((entry, i) => i === index ? { ...entry, options: ["ro"] } : entry))
  })

  const unmount = Effect.fn("LustreShellFake.unmount")(function*(target: string, mode: "normal" | "force" | "lazy") {
    const operation = ["umount", ...(mode === "force" ? ["-f"] : mode === "lazy" ? ["-l"] : []), target].join(" ")
    yield* record(operation)
    const failure = (yield* script).unmountFailures?.get(target)?.[mode]
    if (failure === "hang") return yield* Effect.never
    if (failure === "busy") return yield* new MountFailed({ operation, message: `umount: ${target}: target is busy.` })
    const mounts = yield* table
    const index = mounts.findLastIndex((entry) => entry.mountPoint === target)
    if (index === -1) return yield* new MountFailed({ operation, message: `umount: ${target}: not mounted.` })
    yield* Ref.set(state.table, mounts.filter((_, i) => i !== index))
  })

  const mountTable = record("mountTable").pipe(Effect.andThen(table))

  const statfs = Effect.fn("LustreShellFake.statfs")(function*(path: string) {
    yield* record(`statfs ${path}`)
    const { pathErrors, stats } = yield* script
    const errno = pathErrors?.get(path)
    if (errno !== undefined) return yield* new PathFailed({ path, code: errno, message: `statfs ${path}: ${errno} (fake)` })
    const inside = locate(yield* table, path).mount !== undefined
    if (!inside || !(yield* exists(path))) {
      return yield* new PathFailed({ path, code: "ENOENT", message: `statfs ${path}: no such file or directory (fake)` })
    }
    return stats ?? defaultFakeStats
  })

  const openDirectoryBeneath = Effect.fn("LustreShellFake.openDirectoryBeneath")(function*(
    root: string,
    components: ReadonlyArray<string>,
    options: OpenBeneathOptions
  ) {
    yield* record(`openDirectoryBeneath ${root} ${components.join("/")}${options.createMode === undefined ? "" : ` ${options.createMode.toString(8)}`}`)
    if (!(yield* exists(root))) return yield* new PathFailed({ path: root, code: "ENOENT", message: `${root} does not exist (fake)` })
    const { symlinks, files } = yield* script
    let current = root
    for (const name of components) {
      if (name === "" || name === ".") continue
      const next = name === ".." ? Path.posix.dirname(current) : Path.posix.join(current, name)
      if (!isWithin(root, next)) return yield* new PathEscapes({ path: next, message: `${next} leads above ${root} (fake)` })
      const target = symlinks?.get(next)
      if (target !== undefined) {
        if (options.symlinks === "refuse") return yield* new PathEscapes({ path: next, message: `${next} is a symlink (fake)` })
        if (!isWithin(root, target)) return yield* new PathEscapes({ path: next, message: `${next} is a symlink to ${target} (fake)` })
        if (!(yield* exists(target))) {
          return yield* new PathFailed({ path: next, code: "ENOENT", message: `${next} leads to ${target}, which does not exist (fake)` })
        }
        current = target
      } else if (files?.has(next)) {
        return yield* new PathFailed({ path: next, code: "ENOTDIR", message: `${next} is not a directory (fake)` })
      } else {
        if (!(yield* exists(next))) {
          if (options.createMode === undefined) {
            return yield* new PathFailed({ path: next, code: "ENOENT", message: `${next} does not exist (fake)` })
          }
          yield* addDirectories([next])
        }
        current = next
      }
    }
    return { procPath: current, path: current, identity: key(locate(yield* table, current)) } satisfies OpenDirectory
  })

  const identityOf = Effect.fn("LustreShellFake.identityOf")(function*(path: string) {
    yield* record(`identityOf ${path}`)
    return (yield* exists(path)) ? key(locate(yield* table, path)) : undefined
  })

  const ensureDirectory = Effect.fn("LustreShellFake.ensureDirectory")(function*(path: string) {
    yield* record(`ensureDirectory ${path}`)
    yield* addDirectories(ancestry(path))
  })

  const removeEmptyDirectoryBeneath = Effect.fn("LustreShellFake.removeEmptyDirectoryBeneath")(function*(
    root: string,
    components: ReadonlyArray<string>
  ) {
    const path = Path.posix.join(root, ...components)
    yield* record(`removeEmptyDirectoryBeneath ${root} ${components.join("/")}`)
    const symlinks = (yield* script).symlinks
    const walked = components.map((_, i) => Path.posix.join(root, ...components.slice(0, i + 1)))
    if (walked.some((step) => symlinks?.has(step))) return
    yield* removeDirectory(path)
  })

  const removeEmptyDirectory = Effect.fn("LustreShellFake.removeEmptyDirectory")(function*(path: string) {
    yield* record(`removeEmptyDirectory ${path}`)
    yield* removeDirectory(path)
  })

  const removeDirectory = (path: string) => Effect.gen(function*() {
    const mounts = yield* table
    if (mounts.some((entry) => entry.mountPoint === path)) return
    const location = key(locate(mounts, path))
    const prefix = `${location}/`
    yield* Ref.update(directories, (set) =>
      [...set].some((directory) => directory.startsWith(prefix))
        ? set
        : new Set([...set].filter((directory) => directory !== location)))
  })

  const pathState = Effect.fn("LustreShellFake.pathState")(function*(path: string) {
    yield* record(`pathState ${path}`)
    const { pathErrors, symlinks } = yield* script
    const errno = pathErrors?.get(path)
    if (errno !== undefined) return { error: errno }
    if (symlinks?.has(path)) return "other" as const
    return (yield* exists(path)) ? "directory" as const : "missing" as const
  })

  return LustreShell.of({
    mountLustre,
    bindMount,
    remountReadOnly,
    unmount,
    mountTable,
    statfs,
    openDirectoryBeneath,
    identityOf,
    ensureDirectory,
    removeEmptyDirectory,
    removeEmptyDirectoryBeneath,
    pathState
  })
}
