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
  /** performance.now() just before the process was spawned. */
  readonly spawnedAt: number
  /** The last few kilobytes the driver wrote, to explain a driver that never answers. */
  readonly recentOutput: () => string
  /** SIGTERM, then SIGKILL if it has not exited in 5 s; removes the temporary folder. */
  readonly stop: () => Promise<void>
}

export const startDriver = (logLevel: LogLevel): DriverProcess => {
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-"))
  const socketPath = join(dir, "csi.sock")
  const args = ["sim", "--endpoint", `unix://${socketPath}`, "--state-dir", join(dir, "state"), "--log-level", logLevel]
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
    spawnedAt,
    recentOutput: () => recent,
    stop: async () => {
      await terminate(child)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const terminate = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => child.kill("SIGKILL"), 5000)
    child.once("exit", () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill("SIGTERM")
  })

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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
