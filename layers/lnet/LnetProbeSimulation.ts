import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { SimulationFaults } from "../simulation/SimulationFaults.js"
import { LnetProbe, LnetProbeFailed, type LocalNi, MgsUnreachable } from "./LnetProbe.js"

/** The simulated node's LNet NID and the interface it uses (192.0.2.0/24 is for documentation, never routed). */
export const SIMULATED_NID = "192.0.2.10@tcp"
export const SIMULATED_INTERFACE = "sim0"
const SIMULATED_ADDRESS = "192.0.2.10"

const words = (text: string): ReadonlyArray<string> => text.split(/[\s,]+/).filter((word) => word !== "")

/**
 * LNet in `azurelustre-csi sim`: a node whose Lustre client is loaded and whose LNet works, with
 * NID 192.0.2.10@tcp on interface sim0, unless a fault file in the faults directory says otherwise
 * (read at every call, so `touch` and `rm` take effect on the next probe):
 *
 *   mgs-unreachable        pinging an MGS fails; the text, if any, limits it to one MGS address
 *   mgs-ping-hang          pinging an MGS never returns (until interrupted); the text, if any,
 *                          limits it to one MGS address
 *   lnet-modules-missing   kernel modules lnet and lustre are not loaded; the text, if any, names
 *                          the modules missing instead (e.g. "lustre")
 *   lnet-no-nid            LNet has no NID but 0@lo
 *   lnet-ping-fails        the self-ping of the node's NID fails; the text, if any, is the error
 *   lnet-ping-hang         the self-ping never returns (until interrupted)
 *   lnet-interface-down    sim0 is down; the text, if any, is the operstate shown instead (e.g.
 *                          "lowerlayerdown")
 */
export const LnetProbeSimulation = {
  layer: Layer.effect(
    LnetProbe,
    Effect.gen(function*() {
      const faults = yield* SimulationFaults
      const switchedOnFor = (fault: string, mgsAddress: string) =>
        Effect.map(faults.read(fault), Option.match({ onNone: () => false, onSome: (text) => text === "" || text === mgsAddress }))
      const pingMgs = Effect.fn("LnetProbeSimulation.pingMgs")(function*(mgsAddress: string) {
        if (yield* switchedOnFor("mgs-ping-hang", mgsAddress)) return yield* Effect.never
        if (yield* switchedOnFor("mgs-unreachable", mgsAddress)) {
          return yield* new MgsUnreachable({ mgsAddress, message: `no route to ${mgsAddress}@tcp (simulated)` })
        }
      })

      const loadedModules = Effect.map(faults.read("lnet-modules-missing"), (missing) => {
        const absent: ReadonlyArray<string> = Option.match(missing, {
          onNone: () => [],
          onSome: (text) => (text === "" ? ["lnet", "lustre"] : words(text))
        })
        return new Set(["libcfs", "lnet", "ksocklnd", "lustre"].filter((module) => !absent.includes(module)))
      })

      const localNis = Effect.map(faults.read("lnet-no-nid"), (noNid): ReadonlyArray<LocalNi> => [
        { nid: "0@lo", status: "up", interfaces: [] },
        ...(Option.isSome(noNid) ? [] : [{ nid: SIMULATED_NID, status: "up", interfaces: [SIMULATED_INTERFACE] }])
      ])

      const pingNid = Effect.fn("LnetProbeSimulation.pingNid")(function*(nid: string) {
        if (Option.isSome(yield* faults.read("lnet-ping-hang"))) return yield* Effect.never
        const fails = yield* faults.read("lnet-ping-fails")
        if (Option.isSome(fails) || nid !== SIMULATED_NID) {
          return yield* new LnetProbeFailed({
            operation: `lnetctl ping ${nid}`,
            message: Option.isSome(fails) && fails.value !== "" ? fails.value : `failed to ping ${nid}: Input/output error (simulated)`,
            notInstalled: false
          })
        }
      })

      const interfaceState = (name: string) =>
        Effect.map(faults.read("lnet-interface-down"), (down) =>
          name !== SIMULATED_INTERFACE ? Option.none() : Option.some({
            operstate: Option.match(down, { onNone: () => "up", onSome: (text) => (text === "" ? "down" : text) }),
            administrativelyUp: true
          }))

      const interfaceWithAddress = (address: string) =>
        Effect.succeed(address === SIMULATED_ADDRESS ? Option.some(SIMULATED_INTERFACE) : Option.none())

      return LnetProbe.of({ pingMgs, loadedModules, localNis, pingNid, interfaceState, interfaceWithAddress })
    })
  )
} as const
