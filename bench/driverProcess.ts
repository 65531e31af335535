import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The driver as it ships: its launcher (its shebang sets Node's flags), from dist/bench/. */
const LAUNCHER = fileURLToPath(new URL("../../bin/azurelustre-csi.js", import.meta.url))

export type LogLevel = "debug" | "info" | "warn" | "error"

/** A `sim` driver running as a child process on a socket in its own temporary folder. */
export interface DriverProcess {
  readonly pid: number
  readonly socketPath: string
  /** The driver's `--state-dir`; its shared Lustre mounts are directly under `<stateDir>/mounts/`. */
  readonly stateDir: string
  /** performance.now() just before the process was spawned. */
  readonly spawnedAt: number
  /** Whether the process has exited (or been killed). */
  readonly hasExited: () => boolean
  /** The last few kilobytes the driver wrote, to explain a driver that never answers. */
  readonly recentOutput: () => string
  /**
   * SIGTERM, then SIGKILL if it has not exited in 5 s; lazily unmounts whatever is still mounted
   * in the temporary folder, then removes it.
   */
  readonly stop: () => Promise<void>
}

export const startDriver = (logLevel: LogLevel): DriverProcess => {
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-"))
  const socketPath = join(dir, "csi.sock")
  const stateDir = join(dir, "state")
  const args = ["sim", "--endpoint", `unix://${socketPath}`, "--state-dir", stateDir, "--log-level", logLevel, "--health-port", "0"]
  const spawnedAt = performance.now()
  const child = spawn(LAUNCHER, args, { stdio: ["ignore", "pipe", "pipe"] })
  let recent = ""
  const keep = (chunk: Buffer) => {
    recent = (recent + chunk.toString("utf8")).slice(-4096)
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not spawn ${LAUNCHER} ${args.join(" ")}`)
  return {
    pid,
    socketPath,
    stateDir,
    spawnedAt,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    recentOutput: () => recent,
    stop: async () => {
      await killAndWait(child, "SIGTERM")
      // Never recurse into a mount: rm would delete through it and then fail on the mount point.
      unmountUnder(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Sends `signal` (SIGKILL after 5 s if the process is still there) and waits for the exit. */
export const killAndWait = (child: ChildProcess, signal: NodeJS.Signals): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const hard = setTimeout(() => child.kill("SIGKILL"), 5000)
    child.once("exit", () => {
      clearTimeout(hard)
      resolve()
    })
    child.kill(signal)
  })

/** The mount points of this process's mount namespace, in mount order (/proc/self/mountinfo field 5). */
export const mountPoints = (): ReadonlyArray<string> =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))

const isWithin = (dir: string, path: string) => path === dir || path.startsWith(`${dir}/`)

/**
 * Lazily unmounts (`umount -l`) every mount at or below `dir`, newest first; returns how many.
 * Synchronous, so it can run from a signal handler. A failing umount is reported, not thrown.
 */
export const unmountUnder = (dir: string): number => {
  let unmounted = 0
  for (const point of [...mountPoints()].reverse()) {
    if (!isWithin(dir, point)) continue
    try {
      execFileSync("umount", ["-l", point], { stdio: ["ignore", "ignore", "pipe"] })
      unmounted++
    } catch (error) {
      const stderr: unknown = typeof error === "object" && error !== null ? Reflect.get(error, "stderr") : undefined
      const said = stderr instanceof Buffer ? stderr.toString("utf8").trim() : String(error)
      // Gone since the table was read (its owner unmounted it meanwhile): nothing to clean.
      if (!said.includes("not mounted")) process.stderr.write(`bench: umount -l ${point} failed: ${said}\n`)
    }
  }
  return unmounted
}

/** Resident set size of a process in MiB (VmRSS in /proc/<pid>/status). */
export const rssMb = (pid: number): number => {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  if (match?.[1] === undefined) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1]) / 1024
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU time (user + system) a process has used so far, in microseconds (/proc/<pid>/stat). */
export const cpuMicros = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after "(comm)" start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ticks = Number(fields[11]) + Number(fields[12])
  if (!Number.isFinite(ticks)) throw new Error(`cannot read utime/stime of process ${pid}`)
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND
}

/**
 * SIGKILL, then wait (blocking, up to 2 s) until the process is dead, so that it mounts nothing
 * after its mounts are cleaned up. For signal handlers, where nothing asynchronous runs.
 */
export const killNow = (pid: number): void => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    return // already gone
  }
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (let waited = 0; waited < 2000; waited += 10) {
    let state: string
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    } catch {
      return
    }
    if (state === "Z" || state === "X") return
    Atomics.wait(pause, 0, 0, 10)
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
