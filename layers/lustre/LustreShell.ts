import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
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

/** A sub-directory that would leave its filesystem (a symlink on the way points outside it). */
export class PathEscapes extends Schema.TaggedError<PathEscapes>()("PathEscapes", {
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * The node's hands on Lustre: mounting, unmounting, reading the kernel's mount table and
 * filesystem statistics, and creating directories inside a mounted filesystem. Commands run
 * with argument arrays, never through a shell.
 */
export class LustreShell extends Context.Service<LustreShell, {
  /** `mount -t lustre -o <options> <mgs>@tcp:/<fsname> <target>`; `target` exists. */
  readonly mountLustre: (
    filesystem: LustreFilesystem,
    target: string,
    options: ReadonlyArray<string>
  ) => Effect.Effect<void, MountFailed>
  /** `mount --bind <source> <target>`, then a read-only remount when asked; `target` exists. */
  readonly bindMount: (source: string, target: string, readOnly: boolean) => Effect.Effect<void, MountFailed>
  /** `umount <target>`, `umount -f <target>` or `umount -l <target>`. */
  readonly unmount: (target: string, mode: "normal" | "force" | "lazy") => Effect.Effect<void, MountFailed>
  /** The kernel's mount table: /proc/self/mountinfo. */
  readonly mountTable: Effect.Effect<ReadonlyArray<MountEntry>, MountFailed>
  /** statfs(2) of a path. */
  readonly statfs: (path: string) => Effect.Effect<FilesystemStats, PathFailed>
  /**
   * Creates `root/relative` and any missing parents (mode 0o755 unless given; owned by root),
   * never following a symlink that leads outside `root`. Existing directories are left as they are.
   */
  readonly makeDirectory: (
    root: string,
    relative: string,
    mode?: number
  ) => Effect.Effect<void, PathFailed | PathEscapes>
  /** Creates a directory (and parents) outside any Lustre filesystem: mount points, targets. */
  readonly ensureDirectory: (path: string) => Effect.Effect<void, PathFailed>
  /** rmdir(2) of a target or mount point once unmounted; a missing or non-empty directory is left alone. */
  readonly removeEmptyDirectory: (path: string) => Effect.Effect<void>
  /** Whether `path` exists (without following a final symlink), and what errno it gives if reading it fails. */
  readonly pathState: (path: string) => Effect.Effect<"missing" | "directory" | "other" | { readonly error: string }>
}>()("azurelustre/lustre/LustreShell") {}
