import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Schema from "effect/Schema"

/** One line of /proc/self/mountinfo (proc(5)), with the octal escapes (\040 ...) decoded. */
export interface MountEntry {
  readonly mountId: number
  readonly parentId: number
  /** "major:minor" of the filesystem: a bind mount shares it with the mount it was taken from. */
  readonly device: string
  /** The directory of the filesystem this mount shows: "/" for a whole filesystem, "/sub" for a bind of a subdirectory. */
  readonly root: string
  readonly mountPoint: string
  readonly options: ReadonlyArray<string>
  readonly fsType: string
  readonly source: string
  readonly superOptions: ReadonlyArray<string>
}

export interface FilesystemStats {
  readonly totalBytes: bigint
  readonly availableBytes: bigint
  readonly usedBytes: bigint
  readonly totalInodes: bigint
  readonly freeInodes: bigint
  readonly usedInodes: bigint
}

/** A Lustre filesystem as a client names it: `<mgs>@tcp:/<fsname>`. */
export interface LustreFilesystem {
  readonly mgsAddress: string
  readonly fsName: string
}

export class MountFailed extends Schema.TaggedError<MountFailed>()("MountFailed", {
  /** The command line or operation, for the log and the error message. */
  operation: Schema.String,
  message: Schema.String
}) {}

export class PathFailed extends Schema.TaggedError<PathFailed>()("PathFailed", {
  path: Schema.String,
  /** errno code when there is one: ENOENT, ESTALE, ENOTCONN, EIO, ... */
  code: Schema.String,
  message: Schema.String
}) {}

/** A path that would leave its root (a symlink on the way points outside it, or is refused). */
export class PathEscapes extends Schema.TaggedError<PathEscapes>()("PathEscapes", {
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * A directory the node plugin opened, one component at a time, and holds open: mounting its
 * `procPath` mounts exactly the directory that was checked, whatever happens to the path since.
 */
export interface OpenDirectory {
  /** `/proc/<pid>/fd/<n>`: mount(8), with canonicalization off, resolves it to this very directory. */
  readonly procPath: string
  /** Where it was reached, for messages and logs. */
  readonly path: string
  /** `<dev>:<ino>`: what `identityOf` answers for a mount of it. */
  readonly identity: string
}

export interface OpenBeneathOptions {
  /** Create missing components with this mode (owned by the driver, umask not applied). */
  readonly createMode?: number
  /**
   * `refuse`: any symlink on the way is an error (kubelet's directories never hold one).
   * `within`: relative symlinks are followed as long as they stay beneath the root; an
   * absolute one names the client's own paths, never the filesystem's, and is refused.
   */
  readonly symlinks: "refuse" | "within"
}

/**
 * The node's hands on Lustre: mounting, unmounting, reading the kernel's mount table and
 * filesystem statistics, and opening directories inside a mounted filesystem. Commands run
 * with argument arrays, never through a shell.
 */
export class LustreShell extends Context.Service<LustreShell, {
  /** `mount -t lustre -o <options> <mgs>@tcp:/<fsname> <target>`; `target` exists. */
  readonly mountLustre: (
    filesystem: LustreFilesystem,
    target: string,
    options: ReadonlyArray<string>
  ) => Effect.Effect<void, MountFailed>
  /**
   * `mount --no-canonicalize --bind /proc/<pid>/fd/<n> /proc/<pid>/fd/<m>`: one mount(2) of the
   * directory opened onto the directory opened, so neither path is looked up again; the bind is
   * read-only from its first instant when `source` was opened through a read-only mount.
   */
  readonly bindMount: (source: OpenDirectory, target: OpenDirectory) => Effect.Effect<void, MountFailed>
  /** `mount -o remount,bind,ro <target>`. */
  readonly remountReadOnly: (target: string) => Effect.Effect<void, MountFailed>
  /** `umount <target>`, `umount -f <target>` or `umount -l <target>`. */
  readonly unmount: (target: string, mode: "normal" | "force" | "lazy") => Effect.Effect<void, MountFailed>
  /** The kernel's mount table: /proc/self/mountinfo. */
  readonly mountTable: Effect.Effect<ReadonlyArray<MountEntry>, MountFailed>
  /** statfs(2) of a path. */
  readonly statfs: (path: string) => Effect.Effect<FilesystemStats, PathFailed>
  /**
   * Opens `root/<components>` one component at a time, each relative to the directory opened
   * before it and without following a final symlink (O_NOFOLLOW), so no rename or symlink swap
   * between the steps can lead it outside `root`. `root` is trusted: canonical, the driver's own.
   * The directory stays open until the scope closes.
   */
  readonly openDirectoryBeneath: (
    root: string,
    components: ReadonlyArray<string>,
    options: OpenBeneathOptions
  ) => Effect.Effect<OpenDirectory, PathFailed | PathEscapes, Scope.Scope>
  /** `<dev>:<ino>` of what `path` shows now (following the path), undefined when it is missing. */
  readonly identityOf: (path: string) => Effect.Effect<string | undefined, PathFailed>
  /** Creates a directory (and parents) outside any Lustre filesystem: the driver's own mount points. */
  readonly ensureDirectory: (path: string) => Effect.Effect<void, PathFailed>
  /** rmdir(2) of one of the driver's own mount points once unmounted; a missing or non-empty directory is left alone. */
  readonly removeEmptyDirectory: (path: string) => Effect.Effect<void>
  /**
   * rmdir(2) of `root/<components>`, reached as openDirectoryBeneath reaches it (no symlink
   * followed), so a symlink swapped into the path never leads it outside `root`. A missing or
   * non-empty directory, or anything that is not a directory, is left alone.
   */
  readonly removeEmptyDirectoryBeneath: (root: string, components: ReadonlyArray<string>) => Effect.Effect<void>
  /** Whether `path` exists (without following a final symlink), and what errno it gives if reading it fails. */
  readonly pathState: (path: string) => Effect.Effect<"missing" | "directory" | "other" | { readonly error: string }>
}>()("azurelustre/lustre/LustreShell") {}
