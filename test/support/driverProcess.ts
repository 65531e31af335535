import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const MAIN = Path.resolve(import.meta.dirname, "../../dist/azurelustre-csi.js")

export interface DriverProcess {
  readonly child: ChildProcess
  readonly socketPath: string
  readonly stateDir: string
  /** Everything the process wrote, stdout and stderr. */
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** The built driver (`npm run build`) as its own process, as a user would start it. */
export const runDriver = (
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = process.env,
  nodeFlags: ReadonlyArray<string> = []
) => {
  const child = spawn(process.execPath, [...nodeFlags, MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

/** `azurelustre-csi sim` in a fresh state folder (Node started with `nodeFlags`); resolves once it serves. */
export const startSimulation = async (
  extraArgs: ReadonlyArray<string> = [],
  nodeFlags: ReadonlyArray<string> = []
): Promise<DriverProcess> => {
  const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-sim-"))
  const socketPath = Path.join(home, "csi.sock")
  const stateDir = Path.join(home, "state")
  const driver = runDriver([
    "sim", "--endpoint", `unix://${socketPath}`, "--state-dir", stateDir, "--health-port", "0", ...extraArgs
  ], process.env, nodeFlags)
  await servingCsi(driver, "the simulation")
  return { ...driver, socketPath, stateDir }
}

/**
 * `azurelustre-csi sim` again on the socket and state folder of a simulation that has stopped (or
 * was killed): a restarted node plugin, as a DaemonSet's pod comes back. Resolves once it serves.
 */
export const restartSimulation = async (
  stopped: Pick<DriverProcess, "socketPath" | "stateDir">,
  extraArgs: ReadonlyArray<string> = []
): Promise<DriverProcess> => {
  const driver = runDriver([
    "sim", "--endpoint", `unix://${stopped.socketPath}`, "--state-dir", stopped.stateDir, "--health-port", "0", ...extraArgs
  ])
  await servingCsi(driver, "the restarted simulation")
  return { ...driver, socketPath: stopped.socketPath, stateDir: stopped.stateDir }
}

/** Resolves once a started driver logs that it serves CSI; kills it and throws with its output if it does not in 10 s. */
export const servingCsi = async (driver: Pick<DriverProcess, "child" | "output">, what: string): Promise<void> => {
  const deadline = Date.now() + 10_000
  while (!driver.output().includes("serving CSI")) {
    if (Date.now() > deadline || driver.child.exitCode !== null) {
      driver.child.kill("SIGKILL")
      throw new Error(`${what} did not start:\n${driver.output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const HEALTH_LINE = /"serving \/healthz, \/livez and \/metrics","address":"http:\/\/[\d.]+:(\d+)"/

/** Where a started driver serves /healthz, /livez and /metrics, once its log says so. */
export const healthUrlOf = async (driver: Pick<DriverProcess, "child" | "output">, giveUpAfterMs = 10_000): Promise<string> => {
  const deadline = Date.now() + giveUpAfterMs
  let port: string | undefined
  while ((port = HEALTH_LINE.exec(driver.output())?.[1]) === undefined) {
    if (Date.now() > deadline || driver.child.exitCode !== null) {
      driver.child.kill("SIGKILL")
      throw new Error(`the driver did not serve /healthz:\n${driver.output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return `http://127.0.0.1:${port}`
}
