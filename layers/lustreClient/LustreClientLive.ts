import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { ChildProcess, ChildProcessSpawner, CommandLine } from "effect/process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { interruptWithin, type KillTimings } from "../lustre/command.js"
import { parseNetShow } from "../lnet/lnetctlOutput.js"
import { isLustreClientPackage } from "./clientPackage.js"
import { parseDpkgStatus } from "./dpkgStatus.js"
import { hostCommands } from "./hostCommands.js"
import { parseOsRelease } from "./hostRelease.js"
import { parseIpLinks, parseRouteDevices } from "./ipOutput.js"
import { type AptOutput, LustreClient, LustreClientFailed } from "./LustreClient.js"
import type { PackageRepository } from "./packageRepository.js"
import { parseModuleUse } from "./procModules.js"

export interface LustreClientLiveOptions {
  /** Where the host's root is mounted in this container (the DaemonSet mounts / at /host). */
  readonly hostRoot: string
  /** How a command enters the host: default `chroot <hostRoot>`. */
  readonly enterHost?: ReadonlyArray<string>
  /** The PATH commands find their programs by, in the host. */
  readonly hostPath?: string
  /** Default /proc/modules and /sys/module: the kernel's, which the host and this container share. */
  readonly procModules?: string
  readonly sysModule?: string
  /** `uname -r` and `uname -m`: default this kernel's (os.release(), os.machine()), the host's own. */
  readonly kernelRelease?: string
  readonly machine?: string
  /** Downloads a repository's signing key: default an HTTPS GET. */
  readonly download?: (url: string) => Effect.Effect<string, LustreClientFailed>
  /** How an interrupted (timed-out) command is stopped. */
  readonly killTimings?: KillTimings
}

const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
// apt and dpkg can be caught mid-write: SIGTERM first, and time to finish, before SIGKILL.
const defaultKillTimings: KillTimings = { forceKillAfter: "10 seconds", interruptGrace: "15 seconds" }
const MAX_OUTPUT = 8192

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))
const isMissing = (error: unknown): boolean =>
  error instanceof Error && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR")

const clip = (text: string): string => (text.length <= MAX_OUTPUT ? text : `…${text.slice(-MAX_OUTPUT)}`)
const text = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

const downloadOverHttps = (url: string) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal })
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`)
      return response.text()
    },
    catch: (error) =>
      new LustreClientFailed({ operation: `download ${url}`, message: `cannot download ${url}: ${reasonOf(error)}`, output: "", notInstalled: false })
  })

/**
 * The node's own package manager, kernel modules and LNet tools, run in the host's root
 * (`chroot /host …`), so that the host's apt installs the package built for the host's Ubuntu
 * whatever this image is built from, and modprobe loads modules from the host's /lib/modules.
 * Files the setup only reads (os-release, dpkg's status) are read directly, not through a process.
 */
export const makeLustreClientLive = (
  spawner: ChildProcessSpawner.ChildProcessSpawner["Service"],
  options: LustreClientLiveOptions
): LustreClient["Service"] => {
  const root = options.hostRoot
  const enterHost = options.enterHost ?? ["chroot", root]
  const timings = options.killTimings ?? defaultKillTimings
  const hostFile = (path: string) => Path.join(root, path)
  const download = options.download ?? downloadOverHttps
  const failed = (operation: string, message: string, output = "", notInstalled = false) =>
    new LustreClientFailed({ operation, message, output, notInstalled })

  /** Runs `argv` in the host; answers stdout and stderr. */
  const run = (argv: ReadonlyArray<string>): Effect.Effect<AptOutput, LustreClientFailed> => {
    const operation = CommandLine.display([...argv])
    const [command = "chroot", ...args] = [...enterHost, ...argv]
    return Effect.gen(function*() {
      const handle = yield* spawner.spawn(
        ChildProcess.make(command, args, {
          env: { LC_ALL: "C", PATH: options.hostPath ?? HOST_PATH, DEBIAN_FRONTEND: "noninteractive" },
          extendEnv: true,
          stdin: "ignore",
          forceKillAfter: timings.forceKillAfter
        })
      )
      const [stdout, stderr] = yield* Effect.all([text(handle.stdout), text(handle.stderr)], { concurrency: 2 })
      const exitCode = yield* handle.exitCode
      if (exitCode !== 0) {
        const said = stderr.trim().split("\n").filter((line) => line.trim() !== "").at(-1) ?? stdout.trim().split("\n").at(-1) ?? ""
        // chroot says so when the command is not in the host.
        const notInstalled = exitCode === 127 && /No such file or directory/.test(stderr)
        return yield* failed(operation, `${operation}: exit status ${exitCode}${said === "" ? "" : `: ${said.trim()}`}`, clip(`${stdout}${stderr}`), notInstalled)
      }
      return { stdout, stderr }
    }).pipe(
      Effect.scoped,
      Effect.catchTag("PlatformError", (error) => Effect.fail(failed(operation, `${operation}: ${error.message}`, "", true))),
      interruptWithin(timings.interruptGrace),
      Effect.withSpan("LustreClient.run", { attributes: { command: operation } })
    )
  }
  const runVoid = (argv: ReadonlyArray<string>) => Effect.asVoid(run(argv))

  const readFile = (path: string) =>
    Effect.tryPromise({
      try: (signal) => Fs.readFile(path, { encoding: "utf8", signal }),
      catch: (error) => failed(`read ${path}`, `cannot read ${path}: ${reasonOf(error)}`)
    })
  const readIfPresent = (path: string) =>
    Effect.tryPromise({
      try: (signal) => Fs.readFile(path, { encoding: "utf8", signal }).catch((error: unknown) => (isMissing(error) ? undefined : Promise.reject(error))),
      catch: (error) => failed(`read ${path}`, `cannot read ${path}: ${reasonOf(error)}`)
    })
  const writeFile = (path: string, content: string) =>
    Effect.tryPromise({
      try: async () => {
        await Fs.mkdir(Path.dirname(path), { recursive: true, mode: 0o755 })
        await Fs.writeFile(`${path}.tmp`, content, { mode: 0o644 })
        await Fs.rename(`${path}.tmp`, path)
      },
      catch: (error) => failed(`write ${path}`, `cannot write ${path}: ${reasonOf(error)}`)
    })

  const host = Effect.gen(function*() {
    const osRelease = hostFile("/etc/os-release")
    // /etc/os-release is usually a link to ../usr/lib/os-release: resolve it in the host root.
    const text = (yield* readIfPresent(osRelease)) ?? (yield* readFile(hostFile("/usr/lib/os-release")))
    return {
      release: parseOsRelease(text),
      kernelRelease: options.kernelRelease ?? Os.release(),
      machine: options.machine ?? Os.machine()
    }
  }).pipe(Effect.withSpan("LustreClient.host"))

  const installedClientPackages = readIfPresent(hostFile("/var/lib/dpkg/status")).pipe(
    Effect.map((status) => parseDpkgStatus(status ?? "", isLustreClientPackage)),
    Effect.withSpan("LustreClient.installedClientPackages")
  )

  const loadedModules = Effect.gen(function*() {
    const modules = parseModuleUse(yield* readFile(options.procModules ?? "/proc/modules"))
    const version = modules.names.has("lustre")
      ? yield* readIfPresent(Path.join(options.sysModule ?? "/sys/module", "lustre", "version"))
      : undefined
    return { ...modules, lustreVersion: version?.trim() || undefined }
  }).pipe(Effect.withSpan("LustreClient.loadedModules"))

  const addRepository = Effect.fn("LustreClient.addRepository")(function*(repository: PackageRepository) {
    const listFile = hostFile(repository.listFile)
    const wanted = `${repository.sourceLine}\n`
    let changed = false
    if ((yield* readIfPresent(listFile)) !== wanted) {
      yield* writeFile(listFile, wanted)
      changed = true
    }
    if (repository.key !== undefined && (yield* readIfPresent(hostFile(repository.key.path))) === undefined) {
      yield* writeFile(hostFile(repository.key.path), yield* download(repository.key.url))
      changed = true
    }
    return changed
  })

  const networkInterfaces = Effect.gen(function*() {
    const links = yield* run(hostCommands.links)
    const routes = yield* run(hostCommands.routes)
    return { links: parseIpLinks(links.stdout), routeDevices: parseRouteDevices(routes.stdout) }
  })

  const lnetNis = Effect.flatMap(run(hostCommands.lnetNis), ({ stdout }) => {
    const parsed = parseNetShow(stdout)
    return parsed._tag === "Success"
      ? Effect.succeed(parsed.success)
      : Effect.fail(failed("lnetctl net show", `lnetctl net show: ${parsed.failure}`, clip(stdout)))
  })

  return LustreClient.of({
    host,
    installedClientPackages,
    loadedModules,
    addRepository,
    updatePackageLists: run(hostCommands.updatePackageLists),
    installPackage: (name, version) => runVoid(hostCommands.installPackage(name, version)),
    removePackages: (names) => runVoid(hostCommands.removePackages(names)),
    configurePendingPackages: runVoid(hostCommands.configurePendingPackages),
    unloadModules: runVoid(hostCommands.unloadModules),
    loadModule: (module, parameters) => runVoid(hostCommands.loadModule(module, parameters)),
    configureLnet: runVoid(hostCommands.configureLnet),
    lnetNis,
    addTcpInterface: (networkInterface) => runVoid(hostCommands.addTcpInterface(networkInterface)),
    deleteTcpNet: runVoid(hostCommands.deleteTcpNet),
    networkInterfaces
  })
}

const layerWith = (options: LustreClientLiveOptions) =>
  Layer.effect(
    LustreClient,
    Effect.gen(function*() {
      return makeLustreClientLive(yield* ChildProcessSpawner.ChildProcessSpawner, options)
    })
  )

/** The node's package manager, modules and LNet, through `chroot <hostRoot>`. */
export const LustreClientLive = {
  /** Needs a ChildProcessSpawner. */
  layer: layerWith,
  /** With Node's ChildProcessSpawner. */
  layerNode: (options: LustreClientLiveOptions) => layerWith(options).pipe(Layer.provide(NodeServices.layer))
} as const
