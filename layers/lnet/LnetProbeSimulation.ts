import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { SimulationFaults } from "../simulation/SimulationFaults.js"
import { LnetProbe, MgsUnreachable } from "./LnetProbe.js"

/**
 * LNet in `azurelustre-csi sim`: every MGS answers, unless a fault file in the faults directory
 * says otherwise (read at every ping):
 *
 *   mgs-unreachable   the ping fails; the text, if any, limits it to one MGS address
 *   mgs-ping-hang     the ping never returns (until interrupted); the text, if any, limits it to one MGS address
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
      return LnetProbe.of({ pingMgs })
    })
  )
} as const
