import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { InterfaceState, LnetProbe, LnetProbeFailed, LocalNi } from "../../layers/lnet/LnetProbe.js"
import { interfaceCarries } from "../../layers/lnet/netInterface.js"
import { ipAddressOf, isLoopbackNid } from "../../layers/lnet/nid.js"
import type { CheckResult, ReadinessCheckGroup } from "./Readiness.js"

/** The node's LNet checks, by the names readiness reports them under. */
export const LNET_CHECKS = {
  modules: "lnet-modules",
  nid: "lnet-nid",
  selfPing: "lnet-self-ping",
  interface: "lnet-interface"
} as const

export interface LnetCheckOptions {
  /** The kernel modules that must be loaded. */
  readonly requiredModules?: ReadonlyArray<string>
  /** How long each check may take before it reports that it did not answer. */
  readonly timeouts?: {
    readonly modules?: Duration.Input
    readonly nid?: Duration.Input
    readonly selfPing?: Duration.Input
    readonly interface?: Duration.Input
  }
  /** How long a result is reused: probes within it, and callers while a run is on, share one run. */
  readonly cacheFor?: Duration.Input
}

export const lnetCheckDefaults = {
  requiredModules: ["lnet", "lustre"],
  timeouts: { modules: "2 seconds", nid: "5 seconds", selfPing: "5 seconds", interface: "2 seconds" },
  cacheFor: "5 seconds"
} as const satisfies LnetCheckOptions

/** A probe call that did not answer within its check's timeout (its process is killed). */
class TimedOut extends Schema.TaggedError<TimedOut>()("TimedOut", {}) {}

const format = (duration: Duration.Input) => Duration.format(Duration.fromInputUnsafe(duration))

/** The probe's answer within `timeout`, as a Result so that every check reports instead of failing. */
const bounded = <A>(effect: Effect.Effect<A, LnetProbeFailed>, timeout: Duration.Input) =>
  effect.pipe(
    Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(new TimedOut()) }),
    Effect.result
  )

const pass = (name: string): CheckResult => ({ name, ready: true })
const fail = (name: string, reason: string): CheckResult => ({ name, ready: false, reason })

const probeSaid = (failed: LnetProbeFailed) => `${failed.operation}: ${failed.message}`

const listNames = (names: ReadonlyArray<string>) =>
  names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`

const missingModulesReason = (missing: ReadonlyArray<string>) =>
  `kernel module${missing.length === 1 ? "" : "s"} ${listNames(missing)} ${missing.length === 1 ? "is" : "are"} not loaded: ` +
  "the Lustre client is not installed on this node, or was not loaded (install it with the AKS Lustre client " +
  "DaemonSet, or run `modprobe lustre`, which loads lnet too)"

const checkModules = (loaded: ReadonlySet<string>, required: ReadonlyArray<string>): CheckResult => {
  const missing = required.filter((module) => !loaded.has(module))
  return missing.length === 0 ? pass(LNET_CHECKS.modules) : fail(LNET_CHECKS.modules, missingModulesReason(missing))
}

const nidFailure = (failed: LnetProbeFailed | TimedOut, timeout: Duration.Input): string => {
  if (failed._tag === "TimedOut") {
    return `listing LNet's NIDs did not finish within ${format(timeout)}: LNet may be stuck (check dmesg on the node for LNet errors)`
  }
  if (failed.notInstalled) {
    return `cannot list LNet's NIDs: ${failed.message}; the node plugin's image must include the Lustre client utilities`
  }
  return `cannot list LNet's NIDs: ${probeSaid(failed)}; LNet is loaded but not running or not configured ` +
    "(check `lnetctl net show` on the node and the Lustre client DaemonSet's logs)"
}

const NO_NID_BESIDES_LOOPBACK = "LNet has no NID besides 0@lo: it runs, but no network is configured " +
  "(`lnetctl net add --net tcp --if eth0` adds one; check the Lustre client DaemonSet's logs)"

/** The NI the other checks look at: the first that is not loopback, preferring one that is up. */
const chooseNi = (nis: ReadonlyArray<LocalNi>): LocalNi | undefined => {
  const candidates = nis.filter((ni) => !isLoopbackNid(ni.nid))
  return candidates.find((ni) => ni.status === "up") ?? candidates[0]
}

const selfPingFailure = (ni: LocalNi, failed: LnetProbeFailed | TimedOut, timeout: Duration.Input): string => {
  const what = failed._tag === "TimedOut"
    ? `LNet did not answer a ping of its own NID ${ni.nid} within ${format(timeout)}`
    : `LNet cannot reach its own NID ${ni.nid}: ${failed.message}`
  const down = ni.status === "down" ? " (lnetctl net show reports this NI down)" : ""
  return `${what}${down}; LNet's network does not work on this node (check \`lnetctl net show -v\` and dmesg for LNet errors)`
}

const stateProblem = (ni: LocalNi, name: string, state: Option.Option<InterfaceState>): string | undefined => {
  if (Option.isNone(state)) {
    return `network interface ${name} of NID ${ni.nid} does not exist on this node: LNet is configured for an interface ` +
      "the node no longer has (reconfigure it: `lnetctl net del --net tcp`, then `lnetctl net add --net tcp --if <interface>`)"
  }
  if (interfaceCarries(state.value)) return undefined
  if (state.value.operstate === "unknown") {
    return `network interface ${name} of NID ${ni.nid} is administratively down: bring it up (\`ip link set ${name} up\`)`
  }
  return `network interface ${name} of NID ${ni.nid} is not up (operstate ${state.value.operstate}): LNet cannot send ` +
    `over it (check \`ip link show ${name}\` and the node's network)`
}

/** The interface check's reason for failing, or undefined when every interface of the NI is up. */
const interfaceProblems = (probe: LnetProbe["Service"], ni: LocalNi) =>
  Effect.gen(function*() {
    let names = ni.interfaces
    if (names.length === 0) {
      const address = ipAddressOf(ni.nid)
      if (address === undefined) {
        return `cannot tell which network interface NID ${ni.nid} uses: LNet names none, and the NID holds no IP address`
      }
      const holder = yield* probe.interfaceWithAddress(address)
      if (Option.isNone(holder)) {
        return `no network interface that is up holds ${address}, the address of NID ${ni.nid}: its interface is down ` +
          "or lost the address (check `ip addr` on the node)"
      }
      names = [holder.value]
    }
    const problems: Array<string> = []
    for (const name of names) {
      const problem = stateProblem(ni, name, yield* probe.interfaceState(name))
      if (problem !== undefined) problems.push(problem)
    }
    return problems.length === 0 ? undefined : problems.join("; ")
  })

const interfaceFailure = (ni: LocalNi, failed: LnetProbeFailed | TimedOut, timeout: Duration.Input): string =>
  failed._tag === "TimedOut"
    ? `reading the state of the network interface of NID ${ni.nid} did not finish within ${format(timeout)}`
    : `cannot read the state of the network interface of NID ${ni.nid}: ${probeSaid(failed)}`

/** Every LNet check once, in order: modules, NID, then the self-ping and the interface, which need the NID. */
const runLnetChecks = (
  probe: LnetProbe["Service"],
  required: ReadonlyArray<string>,
  timeouts: Required<NonNullable<LnetCheckOptions["timeouts"]>>
): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.gen(function*() {
    const modules = yield* bounded(probe.loadedModules, timeouts.modules)
    const modulesResult = Result.match(modules, {
      onSuccess: (loaded) => checkModules(loaded, required),
      onFailure: (failed) =>
        fail(
          LNET_CHECKS.modules,
          failed._tag === "TimedOut"
            ? `reading the loaded kernel modules did not finish within ${format(timeouts.modules)}`
            : `cannot tell whether the Lustre client is loaded: ${probeSaid(failed)}`
        )
    })
    const withoutNid = (nidResult: CheckResult): ReadonlyArray<CheckResult> => [
      modulesResult,
      nidResult,
      fail(LNET_CHECKS.selfPing, `not checked: LNet has no NID to ping (see ${LNET_CHECKS.nid})`),
      fail(LNET_CHECKS.interface, `not checked: LNet has no NID whose interface to look at (see ${LNET_CHECKS.nid})`)
    ]

    // Without the lnet module, lnetctl would only fail in a way that says less.
    if (Result.isSuccess(modules) && !modules.success.has("lnet")) {
      return withoutNid(fail(LNET_CHECKS.nid, `not checked: kernel module lnet is not loaded (see ${LNET_CHECKS.modules})`))
    }
    const nis = yield* bounded(probe.localNis, timeouts.nid)
    if (Result.isFailure(nis)) return withoutNid(fail(LNET_CHECKS.nid, nidFailure(nis.failure, timeouts.nid)))
    const ni = chooseNi(nis.success)
    if (ni === undefined) return withoutNid(fail(LNET_CHECKS.nid, NO_NID_BESIDES_LOOPBACK))

    const [selfPing, iface] = yield* Effect.all([
      bounded(probe.pingNid(ni.nid), timeouts.selfPing),
      bounded(interfaceProblems(probe, ni), timeouts.interface)
    ], { concurrency: 2 })
    return [
      modulesResult,
      pass(LNET_CHECKS.nid),
      Result.match(selfPing, {
        onSuccess: () => pass(LNET_CHECKS.selfPing),
        onFailure: (failed) => fail(LNET_CHECKS.selfPing, selfPingFailure(ni, failed, timeouts.selfPing))
      }),
      Result.match(iface, {
        onSuccess: (problem) => problem === undefined ? pass(LNET_CHECKS.interface) : fail(LNET_CHECKS.interface, problem),
        onFailure: (failed) => fail(LNET_CHECKS.interface, interfaceFailure(ni, failed, timeouts.interface))
      })
    ]
  }).pipe(Effect.withSpan("lnetReadinessChecks"))

/**
 * The node's LNet readiness, as four checks: `lnet-modules` (the lnet and lustre kernel modules are
 * loaded), `lnet-nid` (LNet has a NID besides 0@lo), `lnet-self-ping` (LNet answers a ping of that
 * NID) and `lnet-interface` (the NID's network interface is up). A check that needs the NID and
 * has none says so rather than failing on its own account. Each check has its own timeout; one
 * run's results are reused for `cacheFor`, and callers that come while a run is on wait for it,
 * so probes never pile up lnetctl processes.
 */
export const lnetReadinessChecks = (
  probe: LnetProbe["Service"],
  options: LnetCheckOptions = {}
): Effect.Effect<ReadinessCheckGroup> =>
  Effect.map(
    Effect.cachedWithTTL(
      runLnetChecks(probe, options.requiredModules ?? lnetCheckDefaults.requiredModules, {
        ...lnetCheckDefaults.timeouts,
        ...options.timeouts
      }),
      options.cacheFor ?? lnetCheckDefaults.cacheFor
    ),
    (results) => ({ results })
  )
