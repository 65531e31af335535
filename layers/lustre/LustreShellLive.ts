import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { type CommandFailed, makeRunCommand } from "./command.js"
import { type FilesystemStats, type LustreFilesystem, LustreShell, MountFailed, PathEscapes, PathFailed } from "./LustreShell.js"
import { parseMountInfo } from "./mountinfo.js"

/** Runs a command without a shell and answers its stdout (see command.ts). */
export type RunCommand = (command: string, args: ReadonlyArray<string>) => Effect.Effect<string, CommandFailed>

const mountInfoPath = "/proc/self/mountinfo"

export const errnoOf = (error: unknown): string =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "EUNKNOWN"

const reasonOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

const pathFailed = (path: string, doing: string) => (error: unknown) =>
  new PathFailed({ path, code: errnoOf(error), message: `cannot ${doing} ${path}: ${reasonOf(error)}` })

const tryPath = <A>(path: string, doing: string, run: () => Promise<A>): Effect.Effect<A, PathFailed> =>
  Effect.tryPromise({ try: run, catch: pathFailed(path, doing) })

const mountFailed = (failed: CommandFailed) => new MountFailed({ operation: failed.commandLine, message: failed.message })

/** lstat, with a missing path as undefined. */
const lstatOrMissing = (path: string) =>
  Effect.tryPromise({
    try: () => Fs.lstat(path).then((stats) => stats, (error: unknown) => errnoOf(error) === "ENOENT" ? undefined : Promise.reject(error)),
    catch: pathFailed(path, "inspect")
  })

const isWithin = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root === "/" ? "/" : `${root}/`)

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

  const bindMount = Effect.fn("LustreShell.bindMount")(function*(source: string, target: string, readOnly: boolean) {
    yield* command("mount", ["--bind", source, target])
    if (!readOnly) return
    // A bind that should be read-only and is not must not stay: take it down before failing.
    yield* command("mount", ["-o", "remount,bind,ro", target]).pipe(
      Effect.tapError(() =>
        command("umount", [target]).pipe(
          Effect.catch(() => command("umount", ["-l", target])),
          Effect.catch((failed) => Effect.logError("cannot undo a bind mount that failed to become read-only", failed))
        )
      )
    )
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

  const makeDirectory = Effect.fn("LustreShell.makeDirectory")(function*(root: string, relative: string, mode?: number) {
    const escapes = (reason: string) =>
      new PathEscapes({ path: Path.join(root, relative), message: `${JSON.stringify(relative)} leaves ${root}: ${reason}` })
    const segments = relative.split("/").filter((segment) => segment !== "" && segment !== ".")
    if (segments.includes("..")) return yield* escapes("it contains \"..\"")
    const realRoot = yield* tryPath(root, "resolve", () => Fs.realpath(root))
    // Each step goes from a directory known to be inside the root: a symlink is followed only
    // after checking where it leads.
    let current = realRoot
    for (const segment of segments) {
      const next = Path.join(current, segment)
      const stats = yield* lstatOrMissing(next)
      if (stats === undefined) {
        yield* tryPath(next, "create", async () => {
          await Fs.mkdir(next, { mode: mode ?? 0o755 }).catch((error: unknown) => {
            // Made by someone else since the lstat: fine if it is a directory, checked below.
            if (errnoOf(error) !== "EEXIST") throw error
          })
          // mkdir's mode is cut by the umask; the caller asked for this one.
          if (mode !== undefined) await Fs.chmod(next, mode)
        })
        const made = yield* tryPath(next, "inspect", () => Fs.lstat(next))
        if (!made.isDirectory()) {
          return yield* new PathFailed({ path: next, code: "ENOTDIR", message: `${next} appeared and is not a directory` })
        }
        current = next
      } else if (stats.isDirectory()) {
        current = next
      } else if (stats.isSymbolicLink()) {
        const target = yield* tryPath(next, "resolve the symlink", () => Fs.realpath(next))
        if (!isWithin(realRoot, target)) return yield* escapes(`${next} is a symlink to ${target}`)
        const targetStats = yield* tryPath(target, "inspect", () => Fs.stat(target))
        if (!targetStats.isDirectory()) {
          return yield* new PathFailed({ path: next, code: "ENOTDIR", message: `${next} leads to ${target}, which is not a directory` })
        }
        current = target
      } else {
        return yield* new PathFailed({ path: next, code: "ENOTDIR", message: `${next} exists and is not a directory` })
      }
    }
  })

  const ensureDirectory = Effect.fn("LustreShell.ensureDirectory")(function*(path: string) {
    yield* tryPath(path, "create", () => Fs.mkdir(path, { recursive: true }))
  })

  const removeEmptyDirectory = Effect.fn("LustreShell.removeEmptyDirectory")(function*(path: string) {
    yield* Effect.promise(() =>
      Fs.rmdir(path).then(() => undefined, (error: unknown) => errnoOf(error))
    ).pipe(
      Effect.flatMap((code) =>
        code === undefined || code === "ENOENT" || code === "ENOTEMPTY" || code === "EEXIST"
          ? Effect.void
          : Effect.logWarning("cannot remove a directory").pipe(Effect.annotateLogs({ path, code }))
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
    unmount,
    mountTable,
    statfs,
    makeDirectory,
    ensureDirectory,
    removeEmptyDirectory,
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
