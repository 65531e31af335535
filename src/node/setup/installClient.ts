import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import { type AptProblem, classifyAptFailure, repositoryFetchFailures } from "../../../layers/lustreClient/aptOutput.js"
import { commandText, hostCommands } from "../../../layers/lustreClient/hostCommands.js"
import type { LustreClientFailed } from "../../../layers/lustreClient/LustreClient.js"
import { lustreInUse } from "../../../layers/lustreClient/procModules.js"
import { count, lustreClientPackageOperations } from "../../observability/metrics.js"
import { NodeSetupFailed } from "./NodeSetupFailed.js"
import { INSTALL_TRIES, lustreClientInstallRetry } from "./setupSchedules.js"
import type { SetupPlan } from "./setupPlan.js"
import { bounded, type SetupContext, step } from "./setupStep.js"

/** One failed `apt-get install`: what apt said, and whether another try may do better. */
interface InstallTryFailed {
  readonly problem: AptProblem
  readonly retryable: boolean
}

/** Counts one package-manager command by operation (update, install, remove, configure) and outcome. */
const counted = <A, E, R>(operation: "update" | "install" | "remove" | "configure", effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.tap(() => count(lustreClientPackageOperations, { operation, outcome: "ok" })),
    Effect.tapError(() => count(lustreClientPackageOperations, { operation, outcome: "error" }))
  )

const WHAT_TO_DO_NO_VERSION = "upgrade the node image (az aks nodepool upgrade --node-image-only) to a kernel the client is built for, " +
  "or configure a client version built for this kernel (LUSTRE_VERSION and CLIENT_SHA_SUFFIX, node.lustreClient.versions)"

const unreachableReason = (plan: SetupPlan, detail: string) =>
  `cannot reach the AMLFS package repository ${plan.repository.url} (${detail}): the node needs outbound HTTPS to ` +
  "packages.microsoft.com; allow it in the cluster's egress rules (firewall, NSG, proxy)"

/** The reason a round failed on the install, from what apt said on the last try. */
export const installFailureReason = (plan: SetupPlan, problem: AptProblem, tries: number): NodeSetupFailed => {
  const reason = (() => {
    switch (problem._tag) {
      case "NoVersion":
        return `no ${plan.packageName} package for kernel ${plan.kernel} in ${plan.repository.url} (apt-get: ${problem.detail}): ` +
          `the client is built per kernel and none is published for this one yet; ${WHAT_TO_DO_NO_VERSION}`
      case "NoPackage":
        return `the repository ${plan.repository.url} has no ${plan.packageName} (apt-get: ${problem.detail}): client ` +
          `${plan.version.lustreVersion}-${plan.version.shaSuffix} is not published for ${plan.host.release.codename}; set LUSTRE_VERSION and ` +
          `CLIENT_SHA_SUFFIX for ${plan.host.release.codename} (node.lustreClient.versions.${plan.host.release.codename}) to one that is`
      case "Unreachable":
        return unreachableReason(plan, problem.detail)
      case "Interrupted":
        return `installing ${plan.describe} failed ${tries} times, the last with: ${problem.detail}; \`dpkg --configure -a\` ran after ` +
          "each try cut or refused as interrupted: the node's /var/log/dpkg.log names the package whose install does not finish"
      case "Busy":
        return `installing ${plan.describe} failed ${tries} times: another apt or dpkg held the package manager's lock ` +
          `(${problem.detail}); it is tried again later`
      case "Other":
        return `installing ${plan.describe} failed ${tries} times, the last with: ${problem.detail}; ` +
          "see the node plugin's log for apt-get's output, and the node's /var/log/apt/term.log"
    }
  })()
  return new NodeSetupFailed({ reason, permanent: false })
}

/**
 * After an install that dpkg refused (typically another client version owning the same files):
 * unload the Lustre modules unless Lustre is mounted (`lustre_rmmod`), then remove every other
 * Lustre client package, as the Go driver does before its next try. Nothing here fails the round:
 * the next try says whether it helped.
 */
const removeOtherClients = (context: SetupContext, plan: SetupPlan) =>
  Effect.gen(function*() {
    const { client, settings } = context
    const modules = yield* bounded("read /proc/modules", settings.timeouts.inspect, client.loadedModules)
    if (modules.names.has("lustre") || modules.names.has("lnet")) {
      if (lustreInUse(modules)) {
        yield* Effect.logWarning("the Lustre modules stay loaded: Lustre is mounted on this node; the old client keeps running until it is unmounted")
      } else {
        yield* step(context, "unloading the Lustre client modules (lustre_rmmod)", "lustre_rmmod", settings.timeouts.modules, client.unloadModules)
      }
    }
    const installed = yield* bounded("read /var/lib/dpkg/status", settings.timeouts.inspect, client.installedClientPackages)
    const others = installed.filter((found) => found.state !== "not-installed").map((found) => found.name)
    if (others.length > 0) {
      yield* Effect.logWarning("removing the node's other Lustre client packages before the next try").pipe(
        Effect.annotateLogs({ packages: others.join(" "), installing: plan.packageName })
      )
      yield* counted(
        "remove",
        step(context, `removing ${others.join(", ")} before the next try`, commandText(hostCommands.removePackages(others)), settings.timeouts.remove, client.removePackages(others))
      )
    }
  }).pipe(
    Effect.catch((failed: LustreClientFailed) =>
      Effect.logWarning("cannot clear the way for the next install try").pipe(Effect.annotateLogs({ reason: failed.message, output: failed.output }))
    )
  )

/**
 * After a try cut at its bound (dpkg killed with it), or refused by apt because an earlier apt-get
 * or dpkg was cut: `dpkg --configure -a`, as apt asks, before the next try. Nothing here fails the
 * round: the next try says whether it helped.
 */
const finishInterruptedWork = (context: SetupContext) =>
  counted(
    "configure",
    step(
      context,
      "finishing the package work an interrupted dpkg left (dpkg --configure -a)",
      commandText(hostCommands.configurePendingPackages),
      context.settings.timeouts.install,
      context.client.configurePendingPackages
    )
  ).pipe(
    Effect.catch((failed: LustreClientFailed) =>
      Effect.logWarning("dpkg --configure -a failed").pipe(Effect.annotateLogs({ reason: failed.message, output: failed.output }))
    )
  )

/**
 * Installs the plan's package: the repository (its list file and key), `apt-get update`, then
 * `apt-get install <package>=<kernel>` up to three times (lustreClientInstallRetry), each failed
 * try first clearing what it can (an old client in the way, an interrupted dpkg). A repository
 * apt could not read, or a package or kernel it does not have, fails at once: another try would
 * only say the same.
 */
export const installClient = (context: SetupContext, plan: SetupPlan) =>
  Effect.gen(function*() {
    const { client, settings } = context
    const commandFailed = (failed: LustreClientFailed) => new NodeSetupFailed({ reason: failed.message, permanent: false })

    yield* step(context, `adding the AMLFS package repository ${plan.repository.url}`, `write ${plan.repository.listFile}`, settings.timeouts.repository, client.addRepository(plan.repository)).pipe(
      Effect.mapError((failed) => new NodeSetupFailed({ reason: `cannot add the AMLFS package repository: ${failed.message}`, permanent: false }))
    )
    const lists = yield* counted(
      "update",
      step(context, "updating the package lists (apt-get update)", "apt-get update", settings.timeouts.updatePackageLists, client.updatePackageLists)
    ).pipe(
      Effect.mapError((failed) => {
        const problem = classifyAptFailure(failed.output)
        return problem._tag === "Unreachable" ? new NodeSetupFailed({ reason: unreachableReason(plan, problem.detail), permanent: false }) : commandFailed(failed)
      })
    )
    const unread = repositoryFetchFailures(`${lists.stdout}\n${lists.stderr}`, plan.repository.url)
    if (unread.length > 0) return yield* new NodeSetupFailed({ reason: unreachableReason(plan, unread.join("; ")), permanent: false })

    const tries = yield* Ref.make(0)
    const install = Effect.gen(function*() {
      const attempt = yield* Ref.updateAndGet(tries, (n) => n + 1)
      const says = `installing ${plan.describe}, try ${attempt} of ${INSTALL_TRIES}`
      yield* Effect.logInfo(says)
      yield* counted(
        "install",
        step(context, says, commandText(hostCommands.installPackage(plan.packageName, plan.kernel)), settings.timeouts.install, client.installPackage(plan.packageName, plan.kernel))
      ).pipe(
        Effect.mapError((failed): InstallTryFailed => {
          // Killed at its bound, apt-get took dpkg down with it: dpkg is left interrupted.
          const problem = failed.cutAtBound === true
            ? { _tag: "Interrupted" as const, detail: failed.message }
            : classifyAptFailure(failed.output === "" ? failed.message : failed.output)
          return { problem, retryable: problem._tag !== "NoVersion" && problem._tag !== "NoPackage" }
        }),
        Effect.tapError((failed) =>
          Effect.logWarning(`${says} failed`).pipe(Effect.annotateLogs({ reason: failed.problem.detail, kind: failed.problem._tag }))
        ),
        Effect.tapError((failed) =>
          failed.problem._tag === "Interrupted"
            ? finishInterruptedWork(context)
            : failed.problem._tag === "Other" && attempt < INSTALL_TRIES
            ? removeOtherClients(context, plan)
            : Effect.void
        )
      )
    })
    yield* install.pipe(
      Effect.retry(lustreClientInstallRetry(settings.installRetryBase)),
      Effect.catch((failed) => Effect.flatMap(Ref.get(tries), (n) => Effect.fail(installFailureReason(plan, failed.problem, n))))
    )
    yield* Effect.logInfo(`installed ${plan.describe}`)
  })
