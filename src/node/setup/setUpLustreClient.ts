import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { commandText, hostCommands } from "../../../layers/lustreClient/hostCommands.js"
import { isModuleOf, moduleVersionOf } from "../../../layers/lustreClient/clientPackage.js"
import { isInstalled } from "../../../layers/lustreClient/dpkgStatus.js"
import { describeRelease } from "../../../layers/lustreClient/hostRelease.js"
import { lustreInUse } from "../../../layers/lustreClient/procModules.js"
import { configureLnet } from "./configureLnet.js"
import { installClient } from "./installClient.js"
import { NodeSetupFailed } from "./NodeSetupFailed.js"
import { planSetup, type SetupPlan } from "./setupPlan.js"
import { type SetupContext, step } from "./setupStep.js"

/** What a round did: the plan, whether it installed anything, the interfaces LNet uses. */
export interface SetupOutcome {
  readonly plan: SetupPlan
  readonly installed: boolean
  readonly interfaces: ReadonlyArray<string>
}

const failed = (what: string) => (error: { readonly message: string }) => new NodeSetupFailed({ reason: `${what}: ${error.message}`, permanent: false })

/**
 * A Lustre module of another client version still loaded (the node's previous client): unloaded
 * when nothing is mounted, so that the one installed loads; while Lustre is mounted it cannot be,
 * and the round fails until the node's Lustre filesystems are unmounted.
 */
const replaceOtherLoadedClient = (context: SetupContext, plan: SetupPlan) =>
  Effect.gen(function*() {
    const { client, settings } = context
    const modules = yield* step(context, "reading the loaded kernel modules", "read /proc/modules", settings.timeouts.inspect, client.loadedModules).pipe(
      Effect.mapError(failed("cannot read the loaded kernel modules"))
    )
    const loaded = modules.lustreVersion
    if (loaded === undefined || isModuleOf(loaded, plan.version)) return
    if (lustreInUse(modules)) {
      return yield* new NodeSetupFailed({
        reason: `Lustre client ${loaded.replaceAll("_", "-")} is loaded and in use (${modules.useCounts.get("lustre")} mounted filesystem(s)), ` +
          `so ${plan.packageName} (${moduleVersionOf(plan.version)}) cannot be loaded until they are unmounted: drain the node ` +
          "(kubectl drain) or reboot it; the node setup tries again on its own",
        permanent: false
      })
    }
    yield* step(context, `unloading Lustre client ${loaded} (lustre_rmmod)`, commandText(hostCommands.unloadModules), settings.timeouts.modules, client.unloadModules).pipe(
      Effect.mapError(failed(`cannot unload Lustre client ${loaded}`))
    )
  })

/**
 * One round of the node setup: what the host is, which client it gets, the install when that
 * package at this kernel is not installed yet, LNet, then the mgc and lustre modules. Every step
 * is idempotent: on a node already set up a round reads three files and runs lnetctl, ip and
 * modprobe, and no package manager.
 */
export const setUpLustreClient = (context: SetupContext): Effect.Effect<SetupOutcome, NodeSetupFailed> =>
  Effect.gen(function*() {
    const { client, settings } = context
    const host = yield* step(context, "reading the node's release and kernel", "read /etc/os-release", settings.timeouts.inspect, client.host).pipe(
      Effect.mapError((error) =>
        new NodeSetupFailed({
          reason: `cannot read the node's release: ${error.message}; the node plugin needs the node's root filesystem mounted (deploy/node.yaml: host-root)`,
          permanent: false
        })
      )
    )
    const plan = yield* Result.match(planSetup(host, settings.versions, settings.repositoryFor), {
      onFailure: Effect.fail,
      onSuccess: Effect.succeed
    })
    yield* Effect.logInfo(`node setup: ${describeRelease(host.release)}, kernel ${host.kernelRelease}, ${host.machine}: ${plan.packageName}`)
    const packages = yield* step(context, "reading the installed packages", "read /var/lib/dpkg/status", settings.timeouts.inspect, client.installedClientPackages).pipe(
      Effect.mapError(failed("cannot read the installed packages"))
    )
    const needsInstall = !isInstalled(packages, plan.packageName, plan.kernel)
    if (needsInstall) yield* installClient(context, plan)
    else yield* Effect.logInfo(`${plan.describe} is installed already`)
    yield* replaceOtherLoadedClient(context, plan)
    const interfaces = yield* configureLnet(context)
    for (const module of ["mgc", "lustre"]) {
      yield* step(context, `loading ${module}`, commandText(hostCommands.loadModule(module, [])), settings.timeouts.modules, client.loadModule(module, [])).pipe(
        Effect.mapError(failed(`cannot load kernel module ${module}`))
      )
    }
    return { plan, installed: needsInstall, interfaces }
  })
