import * as Effect from "effect/Effect"
import { commandText, hostCommands } from "../../../layers/lustreClient/hostCommands.js"
import { chooseLnetInterfaces, includedInterfaces, type InterfaceChoice } from "../../../layers/lustreClient/ipOutput.js"
import type { LocalNi } from "../../../layers/lnet/LnetProbe.js"
import { NodeSetupFailed } from "./NodeSetupFailed.js"
import { type SetupContext, step } from "./setupStep.js"

/** A NI of LNet's `tcp` network (`tcp0` is the same network). */
const isTcp = (ni: LocalNi) => /@tcp0?$/.test(ni.nid)

const leftOut = (choices: ReadonlyArray<InterfaceChoice>) =>
  choices.flatMap((choice) => (choice.included ? [] : [`${choice.name} (${choice.why})`])).join(", ")

const failed = (reason: string) => new NodeSetupFailed({ reason, permanent: false })
const commandFailed = (what: string) => (error: { readonly message: string }) => failed(`${what}: ${error.message}`)

/** LNet's tcp NIs now; a LNet that is loaded but not configured has none. */
const tcpNis = (context: SetupContext) =>
  step(context, "reading LNet's networks (lnetctl net show)", commandText(hostCommands.lnetNis), context.settings.timeouts.lnet, context.client.lnetNis).pipe(
    Effect.map((nis) => nis.filter(isTcp)),
    Effect.catch((error) =>
      Effect.logDebug("LNet has no network configured yet").pipe(Effect.annotateLogs({ reason: error.message }), Effect.as([]))
    )
  )

/**
 * Every ethernet interface of the routing table into `--net tcp` (the Go driver's
 * add_net_interfaces): those LNet has already are skipped. None at all fails the round: LNet
 * would have nothing to send over.
 */
const addInterfaces = (context: SetupContext) =>
  Effect.gen(function*() {
    const { client, settings } = context
    const { links, routeDevices } = yield* step(context, "listing the node's network interfaces (ip link, ip route)", "ip -o link show; ip route show", settings.timeouts.lnet, client.networkInterfaces).pipe(
      Effect.mapError(commandFailed("cannot list the node's network interfaces"))
    )
    const choices = chooseLnetInterfaces(links, routeDevices)
    const chosen = includedInterfaces(choices)
    yield* Effect.logInfo("LNet's interfaces").pipe(Effect.annotateLogs({ included: chosen.join(" "), leftOut: leftOut(choices) }))
    if (chosen.length === 0) {
      return yield* failed(
        `no ethernet interface of the routing table can carry LNet (routes use: ${routeDevices.join(", ") || "none"}; left out: ` +
          `${leftOut(choices) || "none"}): check the node's network (ip link, ip route)`
      )
    }
    const present = new Set((yield* tcpNis(context)).flatMap((ni) => ni.interfaces))
    for (const name of chosen.filter((name) => !present.has(name))) {
      yield* step(context, `adding ${name} to LNet's tcp network`, commandText(hostCommands.addTcpInterface(name)), settings.timeouts.lnet, client.addTcpInterface(name)).pipe(
        Effect.mapError(commandFailed(`cannot add ${name} to LNet`))
      )
    }
    return chosen
  })

/**
 * LNet as the Go driver leaves it: when lnet is loaded and its tcp network has interfaces, only
 * the missing interfaces are added; a tcp network without interfaces (an old driver's default)
 * is deleted first; otherwise `modprobe lnet`, `modprobe ksocklnd skip_mr_route_setup=1` (no
 * route per interface: LNet's traffic follows the node's routing table), `lnetctl lnet configure`
 * and the interfaces. Answers the interfaces LNet uses.
 */
export const configureLnet = (context: SetupContext) =>
  Effect.gen(function*() {
    const { client, settings } = context
    const modules = yield* step(context, "reading the loaded kernel modules", "read /proc/modules", settings.timeouts.inspect, client.loadedModules).pipe(
      Effect.mapError(commandFailed("cannot read the loaded kernel modules"))
    )
    if (modules.names.has("lnet")) {
      const tcp = yield* tcpNis(context)
      if (tcp.some((ni) => ni.interfaces.length > 0)) return yield* addInterfaces(context)
      if (tcp.length > 0) {
        yield* step(context, "deleting LNet's tcp network without interfaces", commandText(hostCommands.deleteTcpNet), settings.timeouts.lnet, client.deleteTcpNet).pipe(
          Effect.mapError(commandFailed("cannot delete LNet's tcp network without interfaces"))
        )
      }
    }
    for (const [module, parameters] of [["lnet", []], ["ksocklnd", ["skip_mr_route_setup=1"]]] as const) {
      yield* step(context, `loading ${module}`, commandText(hostCommands.loadModule(module, parameters)), settings.timeouts.modules, client.loadModule(module, parameters)).pipe(
        Effect.mapError(commandFailed(`cannot load kernel module ${module}`))
      )
    }
    yield* step(context, "configuring LNet (lnetctl lnet configure)", commandText(hostCommands.configureLnet), settings.timeouts.lnet, client.configureLnet).pipe(
      Effect.mapError(commandFailed("cannot configure LNet"))
    )
    return yield* addInterfaces(context)
  })
