/**
 * What bench/provision.ts and bench/expand.ts share: the ARM emulator in a process of its own
 * (bench/armEmulatorProcess.ts) and requests to it, and the shipped `serve --mode controller`
 * pointed at it with AZURE_CONFIG_FILE, ARM_ENDPOINT and NODE_EXTRA_CA_CERTS, signing in with a
 * managed identity whose token endpoint the emulator process serves (IDENTITY_ENDPOINT,
 * IDENTITY_HEADER).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Https from "node:https"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { type DriverProcess, killAndWait } from "./driverProcess.js"
import { UNREACHABLE_KUBECONFIG } from "./unreachableKubeconfig.js"

const LAUNCHER = fileURLToPath(new URL("../../bin/azurelustre-csi.js", import.meta.url))
const EMULATOR_SCRIPT = fileURLToPath(new URL("./armEmulatorProcess.js", import.meta.url))

/** The resource group the controller's azure.json names. */
export const RESOURCE_GROUP = "bench-rg"

// ---- the emulator process ------------------------------------------------------------------

/** The line the emulator process prints when it is ready. */
export interface EmulatorInfo {
  readonly url: string
  readonly subscriptionId: string
  readonly certificatePath: string
  readonly identityEndpoint: string
  readonly identityHeader: string
}

/** Starts the emulator process, its files in `dir`; resolves once it is ready. */
export const startEmulator = (dir: string, creationSeconds: number): Promise<{ child: ChildProcess; info: EmulatorInfo }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EMULATOR_SCRIPT, "--cluster-creation", String(creationSeconds), "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4096)))
    const lines = createInterface({ input: child.stdout! })
    lines.once("line", (line) => resolve({ child, info: JSON.parse(line) as EmulatorInfo }))
    child.once("exit", (code) => reject(new Error(`the ARM emulator process exited (${code}) before it was ready:\n${stderr}`)))
  })

/** A request to the emulator (its ARM API or its /emulator/ routes), answered with the JSON body. */
export const emulatorRequest = (info: EmulatorInfo, method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const request = Https.request(`${info.url}${path}`, {
      method,
      ca: readFileSync(info.certificatePath, "utf8"),
      headers: {
        authorization: "Bearer bench",
        accept: "application/json",
        ...(text === undefined ? {} : { "content-type": "application/json" })
      }
    }, (response) => {
      let answer = ""
      response.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")))
      response.on("end", () => {
        try {
          resolve(JSON.parse(answer))
        } catch (error) {
          reject(error)
        }
      })
    })
    request.once("error", reject)
    request.end(text)
  })

// ---- the controller process ----------------------------------------------------------------

/**
 * The controller's environment, its files written to `dir`: azure.json, the emulator as ARM, the
 * managed identity the emulator process serves, and a kubeconfig naming no reachable cluster.
 */
export const controllerEnvironment = (dir: string, info: EmulatorInfo): NodeJS.ProcessEnv => {
  const configPath = join(dir, "azure.json")
  writeFileSync(configPath, JSON.stringify({
    cloud: "AzurePublicCloud",
    tenantId: "00000000-0000-0000-0000-0000000000a1",
    subscriptionId: info.subscriptionId,
    resourceGroup: RESOURCE_GROUP,
    location: "eastus",
    vnetName: "bench-vnet",
    subnetName: "bench-subnet",
    useManagedIdentityExtension: true
  }))
  const kubeconfigPath = join(dir, "kubeconfig")
  writeFileSync(kubeconfigPath, UNREACHABLE_KUBECONFIG)
  return {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    AZURE_CONFIG_FILE: configPath,
    ARM_ENDPOINT: info.url,
    NODE_EXTRA_CA_CERTS: info.certificatePath,
    IDENTITY_ENDPOINT: info.identityEndpoint,
    IDENTITY_HEADER: info.identityHeader,
    KUBECONFIG: kubeconfigPath
  }
}

export interface ControllerProcess extends DriverProcess {
  readonly child: ChildProcess
}

/**
 * Spawns `serve --mode controller` on `<dir>/csi.sock` with the given `--arm-poll-quiet`; `stop`
 * sends SIGTERM and waits (the caller removes `dir`).
 */
export const startController = (dir: string, env: NodeJS.ProcessEnv, pollQuietSeconds: number): ControllerProcess => {
  const socketPath = join(dir, "csi.sock")
  rmSync(socketPath, { force: true }) // a killed controller leaves its socket file
  const args = [
    "serve", "--mode", "controller", "--endpoint", `unix://${socketPath}`, "--log-level", "warn", "--health-port", "0",
    "--arm-poll-quiet", String(pollQuietSeconds)
  ]
  const spawnedAt = performance.now()
  const child = spawn(LAUNCHER, args, { stdio: ["ignore", "pipe", "pipe"], env })
  let recent = ""
  const keep = (chunk: Buffer) => (recent = (recent + chunk.toString("utf8")).slice(-8192))
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  if (child.pid === undefined) throw new Error(`could not spawn ${LAUNCHER} ${args.join(" ")}`)
  return {
    child,
    pid: child.pid,
    socketPath,
    stateDir: dir,
    spawnedAt,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    recentOutput: () => recent,
    stop: () => killAndWait(child, "SIGTERM")
  }
}
