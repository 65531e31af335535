import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import * as Path from "node:path"
import { Mode } from "../config/DriverConfig.js"
import { DEFAULT_DRIVER_NAME, DriverName } from "../domain/DriverName.js"
import { socketPathOf } from "../csi/endpoint.js"
import { STARTUP_TAINT_KEY } from "../domain/KubernetesKeys.js"
import { HSM_USAGE, type HsmCommand, parseHsmCommand } from "./hsmCommandLine.js"
import { CONTROLLER_HEALTH_PORT, NODE_HEALTH_PORT } from "../health/healthPorts.js"
import { type ClientVersions, parseClientVersions } from "../node/setup/clientVersions.js"

export const LogLevelName = Schema.Literals(["debug", "info", "warn", "error"])
export type LogLevelName = typeof LogLevelName.Type

export interface ServeOptions {
  readonly socketPath: string
  readonly nodeId: string | undefined
  readonly zone: string | undefined
  /** Where the node keeps its one Lustre mount per filesystem. */
  readonly mountRoot: string
  /** Kubelet's --root-dir: targets and volume paths must be below its pods/ folder. */
  readonly kubeletDir: string
  readonly driverName: DriverName
  readonly mode: Mode
  readonly logLevel: LogLevelName
  readonly drainTimeoutSeconds: number
  readonly mountTimeoutSeconds: number
  readonly armPollQuietSeconds: number
  /** How often, at the latest, the HSM loop looks at every request and reads ARM for the jobs under way. */
  readonly hsmResyncSeconds: number
  /** Where /healthz, /livez and /metrics are served (0: any free port). */
  readonly healthPort: number
  /** Whether the node plugin removes its Node's start-up taint once it is ready. */
  readonly removeNodeTaint: boolean
  /** Whether the controller's readiness also reads from ARM (besides getting a token). */
  readonly checkArm: boolean
  /** The object id of the "HPC Cache Resource Provider" service principal, for the blob-integration preflight. */
  readonly hpcCachePrincipalId: string | undefined
  /** The node setup (node and all modes): install the AMLFS Lustre client, which versions, where the host's root is. */
  readonly nodeSetup: NodeSetupOptions
}

export interface NodeSetupOptions {
  readonly install: boolean
  readonly versions: ClientVersions
  readonly hostRoot: string
}

export interface SimOptions {
  readonly socketPath: string
  readonly stateDir: string
  /** The simulated kubelet's --root-dir; publishes go below its pods/ folder. */
  readonly kubeletDir: string
  readonly nodeId: string
  readonly logLevel: LogLevelName
  readonly mountTimeoutSeconds: number
  readonly clusterCreationSeconds: number
  /** How long a simulated HSM restore waits before the data is back. */
  readonly hsmRestoreDelaySeconds: number
  readonly healthPort: number
  readonly drainTimeoutSeconds: number
}

export interface CallOptions {
  readonly method: string
  readonly socketPath: string
  readonly requestJson: string
  readonly timeoutSeconds: number
}

export type Command =
  | { readonly _tag: "Serve"; readonly options: ServeOptions }
  | { readonly _tag: "Sim"; readonly options: SimOptions }
  | { readonly _tag: "Call"; readonly options: CallOptions }
  | { readonly _tag: "SimHsm"; readonly command: HsmCommand }
  /** `misuse`: printed because the command line named no command (on stderr, exit code 2). */
  | { readonly _tag: "Help"; readonly text: string; readonly misuse?: true }
  | { readonly _tag: "Version" }

/** A command line the driver cannot run: the message names the flag and what it accepts. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

export type Environment = Readonly<Record<string, string | undefined>>

const SIM_HOME = Path.join(Os.tmpdir(), "azurelustre-csi-sim")

interface FlagSpec {
  readonly env?: string
  readonly help: string
  readonly default?: string
}

const DRAIN_TIMEOUT_DEFAULT = "20"
const DRAIN_TIMEOUT_HELP = "seconds in-flight calls may finish after SIGTERM or SIGINT; a second signal stops at once"

const serveFlags = {
  endpoint: { env: "CSI_ENDPOINT", default: "unix:///csi/csi.sock", help: "CSI endpoint: unix:///abs/path or a path" },
  "node-id": { env: "NODE_ID", help: "this node's name (required in node and all modes)" },
  zone: { env: "NODE_ZONE", help: "this node's zone, reported as topology.kubernetes.io/zone" },
  "kubelet-dir": {
    env: "KUBELET_DIR",
    default: "/var/lib/kubelet",
    help: "kubelet's --root-dir: the node plugin publishes only into <kubelet-dir>/pods"
  },
  "mount-root": {
    env: "MOUNT_ROOT",
    help: "where the node keeps one Lustre mount per filesystem (default <kubelet-dir>/plugins/<driver-name>/mounts)"
  },
  "driver-name": { env: "DRIVER_NAME", default: DEFAULT_DRIVER_NAME, help: "CSI driver name" },
  mode: { env: "CSI_MODE", default: "all", help: "services to serve: controller, node or all" },
  "log-level": { env: "LOG_LEVEL", default: "info", help: "debug, info, warn or error (debug logs each request, secrets redacted)" },
  "drain-timeout": { env: "DRAIN_TIMEOUT_SECONDS", default: DRAIN_TIMEOUT_DEFAULT, help: DRAIN_TIMEOUT_HELP },
  "mount-timeout": { env: "MOUNT_TIMEOUT_SECONDS", default: "60", help: "seconds a Lustre mount may take before the publish answers UNAVAILABLE" },
  "arm-poll-quiet": {
    env: "ARM_POLL_QUIET_SECONDS",
    default: "450",
    help: "seconds after a cluster's creation starts before the controller reads it (then every 10 s)"
  },
  "hsm-resync": {
    env: "HSM_RESYNC_SECONDS",
    default: "30",
    help: "seconds between the HSM loop's looks at every PVC request and its job in ARM (a job's end is seen at the next look; " +
      "a new request is acted on at once)"
  },
  "health-port": {
    env: "HEALTH_PORT",
    help: `port of /healthz, /livez and /metrics (default ${CONTROLLER_HEALTH_PORT} in controller mode, ${NODE_HEALTH_PORT} otherwise)`
  },
  "remove-node-taint": {
    env: "REMOVE_NODE_TAINT",
    default: "true",
    help: `remove the Node's ${STARTUP_TAINT_KEY} taint once LNet is ready and kubelet has registered the driver (true or false)`
  },
  "check-arm": {
    env: "CHECK_ARM",
    default: "false",
    help: "the controller is ready only while ARM answers a read (the AMLFS SKU list, at most once a minute), not only when it has a token"
  },
  "hpc-cache-principal-id": {
    env: "HPC_CACHE_PRINCIPAL_ID",
    help: "object id of the \"HPC Cache Resource Provider\" service principal in the tenant: before creating a cluster with " +
      "blob-container the controller checks that it holds the storage roles (unset: any service principal counts). " +
      "az ad sp list --display-name \"HPC Cache Resource Provider\" --query \"[0].id\" -o tsv"
  },
  "install-lustre-client": {
    env: "AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT",
    default: "yes",
    help: "node: install, configure and load the AMLFS Lustre client on the node before reporting ready (yes or no; no: a client is there)"
  },
  "lustre-version": {
    env: "LUSTRE_VERSION",
    help: "node: the client's Lustre version, for every Ubuntu release or per release (jammy=2.15.7 noble=2.16.1, the default)"
  },
  "client-sha-suffix": {
    env: "CLIENT_SHA_SUFFIX",
    help: "node: the client build's suffix, likewise (jammy=33-g79ddf99 noble=14-gbc76088, the default)"
  },
  "host-root": {
    env: "HOST_ROOT",
    default: "/host",
    help: "node: where the node's root filesystem is mounted; its package manager and modprobe run there (chroot)"
  }
} satisfies Record<string, FlagSpec>

const simFlags = {
  endpoint: { default: `unix://${Path.join(SIM_HOME, "csi.sock")}`, help: "CSI endpoint of the simulated driver" },
  "state-dir": { default: SIM_HOME, help: "folder holding the simulation's state and its faults/ switches" },
  "kubelet-dir": { help: "the simulated kubelet's --root-dir: publishes go below <kubelet-dir>/pods (default <state-dir>/kubelet)" },
  "node-id": { default: Os.hostname(), help: "the simulated node's name" },
  "log-level": { env: "LOG_LEVEL", default: "info", help: "debug, info, warn or error" },
  "mount-timeout": { default: "60", help: "seconds a simulated Lustre mount may take" },
  "cluster-creation": { default: "30", help: "seconds the ARM emulator takes to create an AMLFS cluster" },
  "hsm-restore-delay": { default: "2", help: "seconds a simulated HSM restore takes before a released file's data is back" },
  "health-port": { default: String(NODE_HEALTH_PORT), help: "loopback port of /healthz, /livez and /metrics (0: any free port)" },
  "drain-timeout": { env: "DRAIN_TIMEOUT_SECONDS", default: DRAIN_TIMEOUT_DEFAULT, help: DRAIN_TIMEOUT_HELP }
} satisfies Record<string, FlagSpec>

const callFlags = {
  endpoint: { default: `unix://${Path.join(SIM_HOME, "csi.sock")}`, help: "CSI endpoint to call" },
  timeout: { default: "30", help: "seconds before the call's deadline" }
} satisfies Record<string, FlagSpec>

const usageOf = (command: string, synopsis: string, flags: Record<string, FlagSpec>): string =>
  [
    `usage: azurelustre-csi ${command} ${synopsis}`.trimEnd(),
    "",
    ...Object.entries(flags).map(([name, spec]) =>
      `  --${name.padEnd(14)} ${spec.help}${spec.default !== undefined ? ` (default ${spec.default})` : ""}${
        spec.env !== undefined ? ` [env ${spec.env}]` : ""
      }`
    )
  ].join("\n")

const versionFlags: Record<string, FlagSpec> = {}

export const USAGE = [
  "azurelustre-csi: the Azure Managed Lustre CSI driver",
  "",
  "usage: azurelustre-csi <command> [flags]",
  "",
  "commands:",
  "  sim      run Identity, Controller and Node on the embedded simulation (no Azure, no Lustre)",
  "  serve    run the driver for real (in a Kubernetes pod)",
  "  call     send one CSI call to a driver and print the answer as JSON",
  "  sim-hsm  the simulation's blob integration by hand: link, import, archive, release, restore, state",
  "  version  print the driver's version",
  "",
  "`azurelustre-csi <command> --help` lists the command's flags. Exit codes: 0 done, 1 failed, 2 a bad command line."
].join("\n")

const SERVE_USAGE = usageOf("serve", "[flags]", serveFlags)
const SIM_USAGE = usageOf("sim", "[flags]", simFlags)
const CALL_USAGE = usageOf("call", "<Method> [request-json] [flags]", callFlags) + "\n\n" + [
  "The request is protobuf JSON (field names as in the CSI spec, camelCase or snake_case); a field",
  "the method's request does not have is refused by name. The answer is printed as JSON; a failed call",
  "prints `CODE: message` and exits 1, a bad command line or request exits 2.",
  "",
  "example: azurelustre-csi call GetPluginInfo",
  "         azurelustre-csi call NodeGetVolumeStats '{\"volumeId\":\"…\",\"volumePath\":\"/mnt/x\"}'"
].join("\n")
const VERSION_USAGE = "usage: azurelustre-csi version\n\nprints the driver's version"

interface Parsed {
  readonly flags: Record<string, string>
  readonly positionals: ReadonlyArray<string>
  readonly help: boolean
}

const parseFlags = (
  command: string,
  argv: ReadonlyArray<string>,
  known: Record<string, FlagSpec>
): Result.Result<Parsed, UsageError> => {
  const flags: Record<string, string> = {}
  const positionals: Array<string> = []
  // Asking for help is never wrong, whatever else is on the command line.
  if (argv.some(isHelpFlag)) return Result.succeed({ flags, positionals, help: true })
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (!arg.startsWith("-")) {
      positionals.push(arg)
      continue
    }
    const [name, inline] = arg.startsWith("--") ? splitOnce(arg.slice(2)) : [arg, undefined]
    if (!Object.hasOwn(known, name)) {
      return Result.fail(new UsageError({ message: `unknown flag ${arg.split("=")[0]} for \`${command}\`; see azurelustre-csi ${command} --help` }))
    }
    const value = inline ?? argv[++i]
    if (value === undefined) return Result.fail(new UsageError({ message: `flag --${name} needs a value` }))
    flags[name] = value
  }
  return Result.succeed({ flags, positionals, help: false })
}

const isHelpFlag = (arg: string) => arg === "--help" || arg === "-h"

const splitOnce = (text: string): [string, string | undefined] => {
  const at = text.indexOf("=")
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)]
}

/** The value of a flag: the command line first, then its environment variable, then its default. */
const flagValue = (parsed: Parsed, env: Environment, name: string, spec: FlagSpec): string | undefined => {
  const fromEnv = spec.env !== undefined ? env[spec.env] : undefined
  return parsed.flags[name] ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined) ?? spec.default
}

const sourceOf = (parsed: Parsed, name: string, spec: FlagSpec) =>
  parsed.flags[name] !== undefined || spec.env === undefined ? `--${name}` : `--${name} (from ${spec.env})`

const decodeFlag = <S extends Schema.ConstraintDecoder<unknown>>(schema: S, source: string, value: string, expected: string) =>
  Result.mapError(
    Schema.decodeUnknownResult(schema)(value),
    (error) => new UsageError({ message: `invalid ${source} ${JSON.stringify(value)}: ${expected || error.message}` })
  )

const socketPathFlag = (source: string, endpoint: string) => {
  const parsed = socketPathOf(endpoint)
  return parsed._tag === "SocketPath"
    ? Result.succeed(parsed.path)
    : Result.fail(new UsageError({ message: `invalid ${source} ${JSON.stringify(endpoint)}: ${parsed.reason}` }))
}

const seconds = (source: string, value: string) =>
  /^\d+(\.\d+)?$/.test(value) && Number(value) > 0
    ? Result.succeed(Number(value))
    : Result.fail(new UsageError({ message: `invalid ${source} ${JSON.stringify(value)}: expected a positive number of seconds` }))

const absolutePath = (source: string, value: string) =>
  Path.isAbsolute(value)
    ? Result.succeed(value)
    : Result.fail(new UsageError({ message: `invalid ${source} ${JSON.stringify(value)}: expected an absolute path` }))

const port = (source: string, value: string) =>
  /^\d{1,5}$/.test(value) && Number(value) <= 65535
    ? Result.succeed(Number(value))
    : Result.fail(new UsageError({ message: `invalid ${source} ${JSON.stringify(value)}: expected a port number from 0 to 65535` }))

const bool = (source: string, value: string) =>
  value === "true" || value === "false"
    ? Result.succeed(value === "true")
    : Result.fail(new UsageError({ message: `invalid ${source} ${JSON.stringify(value)}: expected true or false` }))

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const objectId = (source: string, value: string | undefined) =>
  value === undefined || GUID.test(value)
    ? Result.succeed(value?.toLowerCase())
    : Result.fail(new UsageError({
      message: `invalid ${source} ${JSON.stringify(value.slice(0, 80))}: expected an object id (a GUID such as ` +
        `00000000-0000-0000-0000-000000000000); find it with az ad sp list --display-name "HPC Cache Resource Provider" --query "[0].id" -o tsv`
    }))

const yesNo = (source: string, value: string) =>
  value === "yes" || value === "true" || value === "no" || value === "false"
    ? Result.succeed(value === "yes" || value === "true")
    : Result.fail(new UsageError({ message: `invalid ${source} ${JSON.stringify(value)}: expected yes or no` }))

const clientVersions = (parsed: Parsed, env: Environment) => {
  const lustreVersion = flagValue(parsed, env, "lustre-version", serveFlags["lustre-version"])
  const shaSuffix = flagValue(parsed, env, "client-sha-suffix", serveFlags["client-sha-suffix"])
  return Result.mapError(
    parseClientVersions(lustreVersion, shaSuffix),
    (why) =>
      new UsageError({
        message: `invalid ${sourceOf(parsed, "lustre-version", serveFlags["lustre-version"])} / ` +
          `${sourceOf(parsed, "client-sha-suffix", serveFlags["client-sha-suffix"])}: ${why}`
      })
  )
}

const noPositionals = (command: string, parsed: Parsed) =>
  parsed.positionals.length === 0
    ? Result.succeed(parsed)
    : Result.fail(new UsageError({ message: `unexpected argument ${JSON.stringify(parsed.positionals[0])} for \`${command}\`` }))

const parseServe = (argv: ReadonlyArray<string>, env: Environment): Result.Result<Command, UsageError> =>
  Result.gen(function*() {
    const parsed = yield* parseFlags("serve", argv, serveFlags).pipe(Result.flatMap((p) => noPositionals("serve", p)))
    if (parsed.help) return { _tag: "Help", text: SERVE_USAGE } as const
    const get = (name: keyof typeof serveFlags) => flagValue(parsed, env, name, serveFlags[name]) ?? ""
    const source = (name: keyof typeof serveFlags) => sourceOf(parsed, name, serveFlags[name])
    const mode = yield* decodeFlag(Mode, source("mode"), get("mode"), "expected controller, node or all")
    const nodeId = flagValue(parsed, env, "node-id", serveFlags["node-id"])
    if (mode !== "controller" && nodeId === undefined) {
      return yield* Result.fail(new UsageError({ message: `--node-id (or NODE_ID) is required in ${mode} mode: set it to the Kubernetes node name` }))
    }
    const driverName = yield* decodeFlag(DriverName, source("driver-name"), get("driver-name"), "")
    const kubeletDir = yield* absolutePath(source("kubelet-dir"), get("kubelet-dir"))
    const mountRoot = get("mount-root") === "" ? "" : yield* absolutePath(source("mount-root"), get("mount-root"))
    return {
      _tag: "Serve",
      options: {
        socketPath: yield* socketPathFlag(source("endpoint"), get("endpoint")),
        nodeId,
        zone: flagValue(parsed, env, "zone", serveFlags.zone),
        mountRoot: mountRoot === "" ? Path.join(kubeletDir, "plugins", driverName, "mounts") : mountRoot,
        kubeletDir,
        driverName,
        mode,
        logLevel: yield* decodeFlag(LogLevelName, source("log-level"), get("log-level"), "expected debug, info, warn or error"),
        drainTimeoutSeconds: yield* seconds(source("drain-timeout"), get("drain-timeout")),
        mountTimeoutSeconds: yield* seconds(source("mount-timeout"), get("mount-timeout")),
        armPollQuietSeconds: yield* seconds(source("arm-poll-quiet"), get("arm-poll-quiet")),
        hsmResyncSeconds: yield* seconds(source("hsm-resync"), get("hsm-resync")),
        healthPort: yield* port(
          source("health-port"),
          flagValue(parsed, env, "health-port", serveFlags["health-port"]) ??
            String(mode === "controller" ? CONTROLLER_HEALTH_PORT : NODE_HEALTH_PORT)
        ),
        removeNodeTaint: yield* bool(source("remove-node-taint"), get("remove-node-taint")),
        checkArm: yield* bool(source("check-arm"), get("check-arm")),
        hpcCachePrincipalId: yield* objectId(
          source("hpc-cache-principal-id"),
          flagValue(parsed, env, "hpc-cache-principal-id", serveFlags["hpc-cache-principal-id"])
        ),
        nodeSetup: {
          install: yield* yesNo(source("install-lustre-client"), get("install-lustre-client")),
          versions: yield* clientVersions(parsed, env),
          hostRoot: yield* absolutePath(source("host-root"), get("host-root"))
        }
      }
    } as const
  })

const parseSim = (argv: ReadonlyArray<string>, env: Environment): Result.Result<Command, UsageError> =>
  Result.gen(function*() {
    const parsed = yield* parseFlags("sim", argv, simFlags).pipe(Result.flatMap((p) => noPositionals("sim", p)))
    if (parsed.help) return { _tag: "Help", text: SIM_USAGE } as const
    const get = (name: keyof typeof simFlags) => flagValue(parsed, env, name, simFlags[name]) ?? ""
    return {
      _tag: "Sim",
      options: {
        socketPath: yield* socketPathFlag("--endpoint", get("endpoint")),
        stateDir: Path.resolve(get("state-dir")),
        kubeletDir: Path.resolve(get("kubelet-dir") || Path.join(get("state-dir"), "kubelet")),
        nodeId: get("node-id"),
        logLevel: yield* decodeFlag(LogLevelName, sourceOf(parsed, "log-level", simFlags["log-level"]), get("log-level"), "expected debug, info, warn or error"),
        mountTimeoutSeconds: yield* seconds("--mount-timeout", get("mount-timeout")),
        clusterCreationSeconds: yield* seconds("--cluster-creation", get("cluster-creation")),
        hsmRestoreDelaySeconds: yield* seconds("--hsm-restore-delay", get("hsm-restore-delay")),
        healthPort: yield* port("--health-port", get("health-port")),
        drainTimeoutSeconds: yield* seconds(sourceOf(parsed, "drain-timeout", simFlags["drain-timeout"]), get("drain-timeout"))
      }
    } as const
  })

const parseCall = (argv: ReadonlyArray<string>, env: Environment): Result.Result<Command, UsageError> =>
  Result.gen(function*() {
    const parsed = yield* parseFlags("call", argv, callFlags)
    if (parsed.help) return { _tag: "Help", text: CALL_USAGE } as const
    const [method, requestJson = "{}", extra] = parsed.positionals
    if (method === undefined) return yield* Result.fail(new UsageError({ message: `\`call\` needs a CSI method name, e.g. azurelustre-csi call Probe` }))
    if (extra !== undefined) return yield* Result.fail(new UsageError({ message: `unexpected argument ${JSON.stringify(extra)} for \`call\`` }))
    const get = (name: keyof typeof callFlags) => flagValue(parsed, env, name, callFlags[name]) ?? ""
    return {
      _tag: "Call",
      options: {
        method,
        requestJson,
        socketPath: yield* socketPathFlag("--endpoint", get("endpoint")),
        timeoutSeconds: yield* seconds("--timeout", get("timeout"))
      }
    } as const
  })

const usages: Record<string, string> = {
  serve: SERVE_USAGE,
  sim: SIM_USAGE,
  call: CALL_USAGE,
  "sim-hsm": HSM_USAGE,
  version: VERSION_USAGE
}

/** `help`, `help <command>`. */
const helpFor = (rest: ReadonlyArray<string>): Result.Result<Command, UsageError> => {
  const [topic, extra] = rest.filter((arg) => !isHelpFlag(arg))
  if (topic === undefined) return Result.succeed({ _tag: "Help", text: USAGE })
  const text = usages[topic]
  if (text === undefined || extra !== undefined) {
    return Result.fail(new UsageError({ message: `no help on ${JSON.stringify(rest.join(" "))}; the commands are sim, sim-hsm, serve, call and version` }))
  }
  return Result.succeed({ _tag: "Help", text })
}

/** The command a command line asks for. */
export const parseCommandLine = (argv: ReadonlyArray<string>, env: Environment): Result.Result<Command, UsageError> => {
  const [command, ...rest] = argv
  switch (command) {
    case "serve":
      return parseServe(rest, env)
    case "sim":
      return parseSim(rest, env)
    case "call":
      return parseCall(rest, env)
    case "sim-hsm":
      return Result.mapBoth(parseHsmCommand(rest), {
        onFailure: (message) => new UsageError({ message }),
        onSuccess: (parsed): Command => (parsed._tag === "Help" ? parsed : { _tag: "SimHsm", command: parsed })
      })
    case "version":
    case "--version":
      return parseFlags("version", rest, versionFlags).pipe(
        Result.flatMap((parsed) => noPositionals("version", parsed)),
        Result.map((parsed): Command => (parsed.help ? { _tag: "Help", text: VERSION_USAGE } : { _tag: "Version" }))
      )
    case undefined:
      return Result.succeed({ _tag: "Help", text: USAGE, misuse: true })
    case "help":
    case "--help":
    case "-h":
      return helpFor(rest)
    default:
      return Result.fail(new UsageError({ message: `unknown command ${JSON.stringify(command)}; the commands are sim, sim-hsm, serve, call and version` }))
  }
}
