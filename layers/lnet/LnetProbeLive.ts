import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { type CommandFailed, type KillTimings, makeRunCommand } from "../lustre/command.js"
import { parseLctlPing, parseListNids } from "./lctlOutput.js"
import { LnetProbe, LnetProbeFailed, type LocalNi, MgsUnreachable } from "./LnetProbe.js"
import { parseLnetctlError, parseNetShow, parsePing } from "./lnetctlOutput.js"
import { parseAdministrativelyUp, parseOperstate } from "./netInterface.js"
import { parseLoadedModules } from "./procModules.js"

export interface LnetProbeLiveOptions {
  /** Default /proc/modules. */
  readonly procModules?: string
  /** Default /sys/class/net. */
  readonly sysClassNet?: string
  /** The commands, by name (looked up in PATH) or path. Default lnetctl and lctl. */
  readonly lnetctl?: string
  readonly lctl?: string
  /** The node's interfaces that are up, with their addresses. Default os.networkInterfaces(). */
  readonly networkInterfaces?: () => NodeJS.Dict<ReadonlyArray<Os.NetworkInterfaceInfo>>
  /** How an interrupted (timed-out) command is stopped. */
  readonly killTimings?: KillTimings
}

// A readiness probe waits for nothing it can avoid: lnetctl and lctl only read, so SIGTERM is safe
// at once, SIGKILL soon after, and a process the kernel holds is left to die in the background.
const probeKillTimings: KillTimings = { forceKillAfter: "1 second", interruptGrace: "2 seconds" }

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))
const codeOf = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined

// How makeRunCommand reports a command it could not start because it is not installed.
const notFound = (failed: CommandFailed): boolean => failed.exitCode === undefined && failed.stderr.startsWith("NotFound")

/** lnetctl's error text when it printed its errno/descr block, else what the command said. */
const lnetctlReason = (failed: CommandFailed): string => parseLnetctlError(failed.stderr)?.description ?? failed.message

const readText = (path: string) =>
  Effect.tryPromise({
    try: (signal) => Fs.readFile(path, { encoding: "utf8", signal }),
    catch: (error) => ({ code: codeOf(error), message: reasonOf(error) })
  })

/**
 * LNet as the node's own tools see it.
 *
 * NIs come from `lnetctl net show`, which names each NI's interfaces and status; `lctl list_nids`
 * is used only when lnetctl is not installed (Lustre before 2.7 shipped without it), and gives
 * NIDs alone. A failing lnetctl is not retried with lctl: both ask the same kernel module, and
 * lnetctl's error (`cannot get networks: Network is down`) is the better reason. The self-ping
 * falls back the same way (`lnetctl ping`, else `lctl ping`).
 */
export const makeLnetProbeLive = (
  spawner: ChildProcessSpawner.ChildProcessSpawner["Service"],
  options: LnetProbeLiveOptions = {}
): LnetProbe["Service"] => {
  const run = makeRunCommand(spawner, options.killTimings ?? probeKillTimings)
  const lnetctl = options.lnetctl ?? "lnetctl"
  const lctl = options.lctl ?? "lctl"
  const procModules = options.procModules ?? "/proc/modules"
  const sysClassNet = options.sysClassNet ?? "/sys/class/net"
  const networkInterfaces = options.networkInterfaces ?? Os.networkInterfaces

  const failed = (operation: string, message: string, notInstalled = false) =>
    new LnetProbeFailed({ operation, message, notInstalled })

  /** Runs lnetctl, or lctl when lnetctl is not installed; `onLnetctl` reads lnetctl's stdout. */
  const withFallback = <A>(
    lnetctlArgs: ReadonlyArray<string>,
    onLnetctl: (stdout: string) => Result.Result<A, string>,
    lctlArgs: ReadonlyArray<string>,
    onLctl: (stdout: string) => Result.Result<A, string>
  ): Effect.Effect<A, LnetProbeFailed> => {
    const lnetctlOperation = ["lnetctl", ...lnetctlArgs].join(" ")
    const lctlOperation = ["lctl", ...lctlArgs].join(" ")
    const read = (operation: string, parse: (stdout: string) => Result.Result<A, string>) => (stdout: string) =>
      Result.match(parse(stdout), { onFailure: (why) => Effect.fail(failed(operation, why)), onSuccess: Effect.succeed })
    return run(lnetctl, lnetctlArgs).pipe(
      Effect.matchEffect({
        onSuccess: read(lnetctlOperation, onLnetctl),
        onFailure: (lnetctlFailed) =>
          !notFound(lnetctlFailed)
            ? Effect.fail(failed(lnetctlOperation, lnetctlReason(lnetctlFailed)))
            : run(lctl, lctlArgs).pipe(
              Effect.matchEffect({
                onSuccess: read(lctlOperation, onLctl),
                onFailure: (lctlFailed) =>
                  Effect.fail(
                    notFound(lctlFailed)
                      ? failed(lnetctlOperation, `neither ${lnetctl} nor ${lctl} is installed`, true)
                      : failed(lctlOperation, lctlFailed.stderr === "" ? lctlFailed.message : lctlFailed.stderr)
                  )
              })
            )
      })
    )
  }

  const pingMgs = Effect.fn("LnetProbe.pingMgs")(function*(mgsAddress: string) {
    yield* run(lctl, ["ping", `${mgsAddress}@tcp`]).pipe(
      Effect.mapError((failed) => new MgsUnreachable({ mgsAddress, message: failed.message }))
    )
  })

  const loadedModules = readText(procModules).pipe(
    Effect.mapError((error) => failed(`read ${procModules}`, error.message)),
    Effect.map(parseLoadedModules),
    Effect.withSpan("LnetProbe.loadedModules")
  )

  const localNis = withFallback<ReadonlyArray<LocalNi>>(
    ["net", "show"],
    parseNetShow,
    ["list_nids"],
    (stdout) => Result.succeed(parseListNids(stdout).map((nid) => ({ nid, status: undefined, interfaces: [] })))
  ).pipe(Effect.withSpan("LnetProbe.localNis"))

  const pingNid = Effect.fn("LnetProbe.pingNid")(function*(nid: string) {
    yield* withFallback(
      ["ping", nid],
      (stdout) => Result.map(parsePing(stdout), () => undefined),
      ["ping", nid],
      (stdout) => parseLctlPing(stdout).length > 0 ? Result.succeed(undefined) : Result.fail(`${nid} answered with no NIDs`)
    )
  })

  const interfaceState = Effect.fn("LnetProbe.interfaceState")(function*(name: string) {
    const directory = Path.join(sysClassNet, name)
    const operstate = yield* readText(Path.join(directory, "operstate")).pipe(Effect.result)
    if (Result.isFailure(operstate)) {
      if (operstate.failure.code === "ENOENT") return Option.none()
      return yield* failed(`read ${Path.join(directory, "operstate")}`, operstate.failure.message)
    }
    const flags = yield* readText(Path.join(directory, "flags")).pipe(Effect.option)
    return Option.some({
      operstate: parseOperstate(operstate.success) ?? operstate.success.trim(),
      administrativelyUp: Option.getOrUndefined(Option.map(flags, parseAdministrativelyUp))
    })
  })

  const interfaceWithAddress = Effect.fn("LnetProbe.interfaceWithAddress")(function*(address: string) {
    const interfaces = yield* Effect.try({
      try: networkInterfaces,
      catch: (error) => failed("list the network interfaces", reasonOf(error))
    })
    // libuv lists only interfaces that are up and running, so one found here is usable.
    const holder = Object.entries(interfaces).find(([, addresses]) =>
      (addresses ?? []).some((info) => info.address === address)
    )
    return Option.fromNullishOr(holder?.[0])
  })

  return LnetProbe.of({ pingMgs, loadedModules, localNis, pingNid, interfaceState, interfaceWithAddress })
}

const layerWith = (options: LnetProbeLiveOptions = {}) =>
  Layer.effect(
    LnetProbe,
    Effect.gen(function*() {
      return makeLnetProbeLive(yield* ChildProcessSpawner.ChildProcessSpawner, options)
    })
  )

/** LNet as lnetctl(8), lctl(8), /proc/modules and /sys/class/net show it on a real node. */
export const LnetProbeLive = {
  /** Needs a ChildProcessSpawner. */
  layer: layerWith(),
  /** With other files and commands, for tests. Needs a ChildProcessSpawner. */
  layerWith,
  /** With Node's ChildProcessSpawner. */
  layerNode: layerWith().pipe(Layer.provide(NodeServices.layer))
} as const
