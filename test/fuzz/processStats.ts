import * as Fs from "node:fs"

/** A process's resident set (VmRSS in /proc/<pid>/status), in MiB. */
export const residentMiB = (pid: number): number => {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  if (line === null) throw new Error(`/proc/${pid}/status has no VmRSS: is the process gone?`)
  return Number(line[1]) / 1024
}

/** Processes this machine has started since boot (/proc/stat): the difference over a run counts mount(8), umount(8) and stat(1). */
export const processesStarted = (): number => Number(/^processes (\d+)$/m.exec(Fs.readFileSync("/proc/stat", "utf8"))?.[1] ?? Number.NaN)
