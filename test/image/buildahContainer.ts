/**
 * A working container of an image archive, with Buildah (vfs storage of its own, chroot
 * isolation): commands run inside the image's filesystem, as a runtime would run them, with no
 * daemon and no registry.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface RunOptions {
  /** user[:group], as the image's USER or a pod's runAsUser would give it. */
  readonly user?: string
  /** [host folder, folder in the container] bind mounts. */
  readonly volumes?: ReadonlyArray<readonly [string, string]>
  readonly capabilities?: ReadonlyArray<string>
}

export interface Ran {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface BuildahContainer {
  readonly run: (command: ReadonlyArray<string>, options?: RunOptions) => Ran
  /** A command left running, e.g. the driver; its output is collected in `output`. */
  readonly start: (command: ReadonlyArray<string>, options?: RunOptions) => { readonly child: ChildProcess; readonly output: () => string; readonly exited: Promise<number | null> }
  readonly remove: () => void
}

export const containerFrom = (archive: string): BuildahContainer => {
  const storage = Fs.mkdtempSync(Path.join(Os.tmpdir(), "azurelustre-csi-buildah-"))
  const store = ["--root", Path.join(storage, "root"), "--runroot", Path.join(storage, "run"), "--storage-driver", "vfs"]
  const name = execFileSync("buildah", [...store, "from", "--quiet", `oci-archive:${archive}`], { encoding: "utf8" }).trim()
  const runArgs = (command: ReadonlyArray<string>, options: RunOptions) => [
    ...store,
    "run",
    "--isolation",
    "chroot",
    ...(options.user === undefined ? [] : ["--user", options.user]),
    ...(options.volumes ?? []).flatMap(([host, inside]) => ["--volume", `${host}:${inside}`]),
    ...(options.capabilities ?? []).flatMap((capability) => ["--cap-add", capability]),
    name,
    "--",
    ...command
  ]
  return {
    run: (command, options = {}) => {
      const ran = spawnSync("buildah", runArgs(command, options), { encoding: "utf8", timeout: 120_000 })
      return { status: ran.status, stdout: ran.stdout, stderr: ran.stderr }
    },
    start: (command, options = {}) => {
      const child = spawn("buildah", runArgs(command, options), { stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
      return { child, output: () => output, exited }
    },
    remove: () => {
      spawnSync("buildah", [...store, "rm", name])
      Fs.rmSync(storage, { recursive: true, force: true })
    }
  }
}
