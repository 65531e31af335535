import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { runDriver } from "./driverProcess.js"

/** `azurelustre-csi sim-hsm <operation> ...` on a sim's state folder, as a user types it; settles with its exit code and output. */
export const simHsm = async (stateDir: string, operation: string, ...flags: ReadonlyArray<string>) => {
  const run = runDriver(["sim-hsm", operation, "--state-dir", stateDir, ...flags])
  const code = await run.exited
  return { code, output: run.output() }
}

/**
 * What `sim-hsm state` prints of each file, in order: its flags, as `lfs hsm_state` does
 * ("(0x0000000d) released exists archived, archive_id:1"). One command for all of them.
 */
export const hsmStatesOf = async (stateDir: string, paths: ReadonlyArray<string>): Promise<Array<string>> => {
  const { code, output } = await simHsm(stateDir, "state", ...paths.flatMap((path) => ["--path", path]))
  if (code !== 0) throw new Error(`sim-hsm state exited ${code}: ${output}`)
  const lines = output.split("\n").filter((line) => line !== "")
  return paths.map((path) => {
    const line = lines.find((candidate) => candidate.startsWith(`${path}: `))
    if (line === undefined) throw new Error(`sim-hsm state printed nothing of ${path}: ${output}`)
    return line.slice(path.length + 2)
  })
}

/** The POSIX headers of a blob, as the simulation reads them from the blob file. */
export interface BlobHeaders {
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Seconds since the epoch (utimes(2) keeps microseconds). */
  readonly mtime: number
}

/** Writes a blob into a container of the simulation (`<state>/blob/<account>/<container>/<name>`) with its headers. */
export const putBlob = (containerFolder: string, name: string, bytes: Uint8Array, headers: BlobHeaders): string => {
  const path = Path.join(containerFolder, name)
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  Fs.writeFileSync(path, bytes)
  Fs.chownSync(path, headers.uid, headers.gid)
  Fs.chmodSync(path, headers.mode)
  Fs.utimesSync(path, headers.mtime, headers.mtime)
  return path
}

/** A read by another process than the test's: `cat`, its output as bytes, how long it took. */
export interface TimedRead {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
  readonly millis: number
}

/** `cat <path>` in a child process, as a pod reads a file. */
export const timedCat = (path: string): Promise<TimedRead> =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn("cat", [path], { stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr, millis: performance.now() - started }))
  })

const readdir = (folder: string) => {
  try {
    return Fs.readdirSync(folder)
  } catch {
    return []
  }
}

const readText = (file: string) => {
  try {
    return Fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

const readlink = (file: string) => {
  try {
    return Fs.readlinkSync(file)
  } catch {
    return ""
  }
}

/** The process ids of `pid`'s children, from every thread's `children` list in /proc. */
const childrenOf = (pid: number): Array<number> =>
  readdir(`/proc/${pid}/task`).flatMap((task) =>
    readText(`/proc/${pid}/task/${task}/children`).split(" ").filter((word) => word !== "").map(Number)
  )

/** A device number as the kernel prints it in fdinfo (`MAJOR << 20 | MINOR`), from Node's `stat().dev` (glibc's encoding). */
const kernelDevice = (dev: number): number => {
  const major = Math.floor(dev / 256) & 0xfff
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00)
  return major * 2 ** 20 + minor
}

/** A file's identity as a fanotify mark shows it: `<sdev>:<ino>`, in hex. */
export const markOf = (path: string): string => {
  const stats = Fs.statSync(path)
  return `${kernelDevice(stats.dev).toString(16)}:${stats.ino.toString(16)}`
}

/**
 * The inodes whose opens the read gate of a running sim holds: the fanotify inode marks of the
 * driver's child processes (its read gate agent), as the kernel lists them in fdinfo. A test
 * waits for a file to be here before it reads it: `sim-hsm import` beside a running sim is
 * guarded within a second or two, by the sim's rescan, and a read before that sees zeros.
 */
export const readGateMarks = (driverPid: number): Set<string> => {
  const marks = new Set<string>()
  for (const pid of childrenOf(driverPid)) {
    for (const fd of readdir(`/proc/${pid}/fd`)) {
      if (readlink(`/proc/${pid}/fd/${fd}`) !== "anon_inode:[fanotify]") continue
      for (const mark of readText(`/proc/${pid}/fdinfo/${fd}`).matchAll(/^fanotify ino:([0-9a-f]+) sdev:([0-9a-f]+)/gm)) {
        marks.add(`${mark[2]}:${mark[1]}`)
      }
    }
  }
  return marks
}
