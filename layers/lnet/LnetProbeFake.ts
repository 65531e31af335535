import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { LnetProbe, MgsUnreachable } from "./LnetProbe.js"

/**
 * A deterministic LnetProbe for tests: every MGS answers except the addresses in `unreachable`
 * (which fail at once) and in `hanging` (which never answer until interrupted). Both sets are
 * Refs the test may change mid-test; `pings` lists every address pinged, in order.
 */
export class LnetProbeFake extends Context.Service<LnetProbeFake, {
  readonly unreachable: Ref.Ref<ReadonlySet<string>>
  readonly hanging: Ref.Ref<ReadonlySet<string>>
  readonly pings: Ref.Ref<ReadonlyArray<string>>
}>()("azurelustre/lnet/LnetProbeFake") {
  static readonly layer = (
    options: { readonly unreachable?: Iterable<string>; readonly hanging?: Iterable<string> } = {}
  ): Layer.Layer<LnetProbe | LnetProbeFake> =>
    Layer.effect(
      LnetProbe,
      Effect.gen(function*() {
        const state = yield* LnetProbeFake
        const pingMgs = Effect.fn("LnetProbeFake.pingMgs")(function*(mgsAddress: string) {
          yield* Ref.update(state.pings, (pings) => [...pings, mgsAddress])
          if ((yield* Ref.get(state.hanging)).has(mgsAddress)) return yield* Effect.never
          if ((yield* Ref.get(state.unreachable)).has(mgsAddress)) {
            return yield* new MgsUnreachable({ mgsAddress, message: `no route to ${mgsAddress}@tcp (fake)` })
          }
        })
        return LnetProbe.of({ pingMgs })
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      LnetProbeFake,
      Effect.gen(function*() {
        return LnetProbeFake.of({
          unreachable: yield* Ref.make<ReadonlySet<string>>(new Set(options.unreachable)),
          hanging: yield* Ref.make<ReadonlySet<string>>(new Set(options.hanging)),
          pings: yield* Ref.make<ReadonlyArray<string>>([])
        })
      })
    )))
}
