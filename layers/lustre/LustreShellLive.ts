import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs/promises"
import { type CommandFailed, makeRunCommand } from "./command.js"
import { type FilesystemStats, type LustreFilesystem, LustreShell, MountFailed, type OpenDirectory, PathFailed } from "./LustreShell.js"
import { errnoOf, openDirectoryBeneath } from "./openBeneath.js"
import { parseMountInfo } from "./mountinfo.js"

/** Runs a command without a shell and answers its stdout (see command.ts). */
export type RunCommand = (command: string, args: ReadonlyArray<string>) => Effect.Effect<string, CommandFailed>

const mountInfoPath = "/proc/self/mountinfo"

const reasonOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

const pathFailed = (path: string, doing: string) => (error: unknown) =>
  new PathFailed({ path, code: errnoOf(error), message: `cannot ${doing} ${path}: ${reasonOf(error)}` })

const tryPath = <A>(path: string, doing: string, run: () => Promise<A>): Effect.Effect<A, PathFailed> =>
  Effect.tryPromise({ try: run, catch: pathFailed(path, doing) })

const mountFailed = (failed: CommandFailed) => new MountFailed({ operation: failed.commandLine, message: failed.message })

/**
 * The live shell, given how to run commands. Everything but the commands is Node's own file
 * system calls, so the simulation reuses it whole and replaces only what it must.
 */
const errnoMessages: ReadonlyArray<readonly [string, string]> = [
  ["No such file or directory", "ENOENT"],
  ["Stale file handle", "ESTALE"],
  ["Transport endpoint is not connected", "ENOTCONN"],
  ["Permission denied", "EACCES"],
  ["Not a directory", "ENOTDIR"]
]

/** The errno behind a coreutils message (run with LC_ALL=C); EIO when it names none. */
export const errnoOfMessage = (stderr: string): string =>
  errnoMessages.find(([message]) => stderr.includes(message))?.[1] ?? "EIO"

export const makeLustreShell = (run: RunCommand): LustreShell["Service"] => {
  const command = (name: string, args: ReadonlyArray<string>) => run(name, args).pipe(Effect.mapError(mountFailed))

  const mountLustre = Effect.fn("LustreShell.mountLustre")(function*(
    filesystem: LustreFilesystem,
    target: string,
    options: ReadonlyArray<string>
  ) {
    const optionArgs = options.length === 0 ? [] : ["-o", options.join(",")]
    yield* command("mount", ["-t", "lustre", ...optionArgs, `${filesystem.mgsAddress}@tcp:/${filesystem.fsName}`, target])
  })

  const bindMount = Effect.fn("LustreShell.bindMount")(function*(source: OpenDirectory, target: OpenDirectory) {
    yield* command("mount", ["--no-canonicalize", "--bind", source.procPath, target.procPath])
  })

  const remountReadOnly = Effect.fn("LustreShell.remountReadOnly")(function*(target: string) {
    yield* command("mount", ["-o", "remount,bind,ro", target])
  })

  const unmount = Effect.fn("LustreShell.unmount")(function*(target: string, mode: "normal" | "force" | "lazy") {
    const flags = mode === "force" ? ["-f"] : mode === "lazy" ? ["-l"] : []
    yield* command("umount", [...flags, target])
  })

  const mountTable = Effect.gen(function*() {
    const text = yield* Effect.tryPromise({
      try: () => Fs.readFile(mountInfoPath, "utf8"),
      catch: (error) => new MountFailed({ operation: `read ${mountInfoPath}`, message: reasonOf(error) })
    })
    const { entries, malformed } = parseMountInfo(text)
    if (malformed.length > 0) {
      return yield* new MountFailed({
        operation: `read ${mountInfoPath}`,
        message: `${malformed.length} line(s) of ${mountInfoPath} are not in the proc(5) format, e.g. ${
          JSON.stringify(malformed[0])
        }`
      })
    }
    return entries
  }).pipe(Effect.withSpan("LustreShell.mountTable"))

  // statfs(1) in a child process, not statfs(2) on libuv's threadpool: on a Lustre mount whose
  // servers are gone the call blocks in the kernel, and four such calls would stall every file
  // operation of the driver. A stuck child process costs nothing but itself.
  const statfs = Effect.fn("LustreShell.statfs")(function*(path: string) {
    const output = yield* run("stat", ["-f", "-c", "%S %b %f %a %c %d", "--", path]).pipe(
      Effect.mapError((failed) => new PathFailed({ path, code: errnoOfMessage(failed.stderr), message: failed.message }))
    )
    const fields = output.trim().split(" ")
    if (fields.length !== 6 || !fields.every((field) => /^\d+$/.test(field))) {
      return yield* new PathFailed({ path, code: "EIO", message: `stat -f printed ${JSON.stringify(output.trim())}` })
    }
    const [blockSize, blocks, free, available, inodes, freeInodes] = fields.map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint]
    return {
      totalBytes: blocks * blockSize,
      availableBytes: available * blockSize,
      usedBytes: (blocks - free) * blockSize,
      totalInodes: inodes,
      freeInodes,
      usedInodes: inodes - freeInodes
    } satisfies FilesystemStats
  })

  const identityOf = Effect.fn("LustreShell.identityOf")(function*(path: string) {
    const stats = yield* Effect.tryPromise({
      try: () => Fs.stat(path).then((stats) => stats, (error: unknown) => errnoOf(error) === "ENOENT" ? undefined : Promise.reject(error)),
      catch: pathFailed(path, "inspect")
    })
    return stats === undefined ? undefined : `${stats.dev}:${stats.ino}`
  })

  const ensureDirectory = Effect.fn("LustreShell.ensureDirectory")(function*(path: string) {
    yield* tryPath(path, "create", () => Fs.mkdir(path, { recursive: true }))
  })

  const rmdirQuietly = (path: string, shown: string) =>
    Effect.promise(() => Fs.rmdir(path).then(() => undefined, (error: unknown) => errnoOf(error))).pipe(
      Effect.flatMap((code) =>
        code === undefined || ["ENOENT", "ENOTEMPTY", "EEXIST", "ENOTDIR"].includes(code)
          ? Effect.void
          : Effect.logWarning("cannot remove a directory").pipe(Effect.annotateLogs({ path: shown, code }))
      )
    )

  const removeEmptyDirectory = Effect.fn("LustreShell.removeEmptyDirectory")(function*(path: string) {
    yield* rmdirQuietly(path, path)
  })

  const removeEmptyDirectoryBeneath = Effect.fn("LustreShell.removeEmptyDirectoryBeneath")(function*(
    root: string,
    components: ReadonlyArray<string>
  ) {
    const last = components.at(-1)
    if (last === undefined) return
    yield* Effect.scoped(
      openDirectoryBeneath(root, components.slice(0, -1), { symlinks: "refuse" }).pipe(
        Effect.flatMap((parent) => rmdirQuietly(`${parent.procPath}/${last}`, `${parent.path}/${last}`)),
        // A parent that is gone, or not reachable without a symlink, holds nothing of ours.
        Effect.catch(() => Effect.void)
      )
    )
  })

  const pathState = Effect.fn("LustreShell.pathState")(function*(path: string) {
    return yield* Effect.promise(() =>
      Fs.lstat(path).then(
        (stats) => stats.isDirectory() ? "directory" as const : "other" as const,
        (error: unknown) => errnoOf(error) === "ENOENT" ? "missing" as const : { error: errnoOf(error) }
      )
    )
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

const layer = Layer.effect(
  LustreShell,
  Effect.gen(function*() {
    return makeLustreShell(makeRunCommand(yield* ChildProcessSpawner.ChildProcessSpawner))
  })
)

/** The shell on a real node: mount(8), umount(8), /proc/self/mountinfo, statfs(2). */
export const LustreShellLive = {
  /** Needs a ChildProcessSpawner. */
  layer,
  /** With Node's ChildProcessSpawner. */
  layerNode: layer.pipe(Layer.provide(NodeServices.layer))
} as const
