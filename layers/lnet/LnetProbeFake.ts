import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type InterfaceState, LnetProbe, LnetProbeFailed, type LocalNi, MgsUnreachable } from "./LnetProbe.js"

/** The LNet health operations of the probe, as the fake names them. */
export type LnetOperation = "loadedModules" | "localNis" | "pingNid" | "interfaceState" | "interfaceWithAddress"

/** A node whose LNet works: what the fake shows until a test says otherwise. */
export const healthyLnetNode: {
  readonly modules: ReadonlySet<string>
  readonly nis: ReadonlyArray<LocalNi>
  readonly interfaces: ReadonlyMap<string, InterfaceState>
  readonly addresses: ReadonlyMap<string, string>
} = {
  modules: new Set(["lnet", "lustre", "ksocklnd", "libcfs"]),
  nis: [
    { nid: "0@lo", status: "up", interfaces: [] },
    { nid: "10.0.0.5@tcp", status: "up", interfaces: ["eth0"] }
  ],
  interfaces: new Map([["eth0", { operstate: "up", administrativelyUp: true }]]),
  addresses: new Map([["10.0.0.5", "eth0"]])
}

/**
 * A deterministic LnetProbe for tests. Every MGS answers except the addresses in `unreachable`
 * (which fail at once) and in `hanging` (which never answer until interrupted); `pings` lists
 * every address pinged, in order. The node's LNet is `healthyLnetNode` until a test changes a
 * Ref: the modules loaded, the NIs, the NIDs whose self-ping fails, the interfaces and which
 * address each holds; `failing` makes an operation fail with a message, `stuck` makes it never
 * answer. `calls` lists every LNet health operation run, in order.
 */
export class LnetProbeFake extends Context.Service<LnetProbeFake, {
  readonly unreachable: Ref.Ref<ReadonlySet<string>>
  readonly hanging: Ref.Ref<ReadonlySet<string>>
  readonly pings: Ref.Ref<ReadonlyArray<string>>
  readonly modules: Ref.Ref<ReadonlySet<string>>
  readonly nis: Ref.Ref<ReadonlyArray<LocalNi>>
  readonly unreachableNids: Ref.Ref<ReadonlySet<string>>
  readonly interfaces: Ref.Ref<ReadonlyMap<string, InterfaceState>>
  readonly addresses: Ref.Ref<ReadonlyMap<string, string>>
  readonly failing: Ref.Ref<ReadonlyMap<LnetOperation, string>>
  readonly stuck: Ref.Ref<ReadonlySet<LnetOperation>>
  readonly calls: Ref.Ref<ReadonlyArray<string>>
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

        /** Records the call, then hangs, fails or answers as the test scripted. */
        const operation = <A>(name: LnetOperation, call: string, answer: Effect.Effect<A, LnetProbeFailed>) =>
          Effect.gen(function*() {
            yield* Ref.update(state.calls, (calls) => [...calls, call])
            if ((yield* Ref.get(state.stuck)).has(name)) return yield* Effect.never
            const failure = (yield* Ref.get(state.failing)).get(name)
            if (failure !== undefined) {
              return yield* new LnetProbeFailed({ operation: `${call} (fake)`, message: failure, notInstalled: false })
            }
            return yield* answer
          })

        return LnetProbe.of({
          pingMgs,
          loadedModules: operation("loadedModules", "loadedModules", Ref.get(state.modules)),
          localNis: operation("localNis", "localNis", Ref.get(state.nis)),
          pingNid: (nid) =>
            operation(
              "pingNid",
              `pingNid ${nid}`,
              Effect.flatMap(Ref.get(state.unreachableNids), (unreachable) =>
                unreachable.has(nid)
                  ? Effect.fail(
                    new LnetProbeFailed({
                      operation: `lnetctl ping ${nid} (fake)`,
                      message: `failed to ping ${nid}: Input/output error`,
                      notInstalled: false
                    })
                  )
                  : Effect.void)
            ),
          interfaceState: (name) =>
            operation(
              "interfaceState",
              `interfaceState ${name}`,
              Effect.map(Ref.get(state.interfaces), (interfaces) => Option.fromNullishOr(interfaces.get(name)))
            ),
          interfaceWithAddress: (address) =>
            operation(
              "interfaceWithAddress",
              `interfaceWithAddress ${address}`,
              Effect.map(Ref.get(state.addresses), (addresses) => Option.fromNullishOr(addresses.get(address)))
            )
        })
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      LnetProbeFake,
      Effect.gen(function*() {
        return LnetProbeFake.of({
          unreachable: yield* Ref.make<ReadonlySet<string>>(new Set(options.unreachable)),
          hanging: yield* Ref.make<ReadonlySet<string>>(new Set(options.hanging)),
          pings: yield* Ref.make<ReadonlyArray<string>>([]),
          modules: yield* Ref.make(healthyLnetNode.modules),
          nis: yield* Ref.make(healthyLnetNode.nis),
          unreachableNids: yield* Ref.make<ReadonlySet<string>>(new Set()),
          interfaces: yield* Ref.make(healthyLnetNode.interfaces),
          addresses: yield* Ref.make(healthyLnetNode.addresses),
          failing: yield* Ref.make<ReadonlyMap<LnetOperation, string>>(new Map()),
          stuck: yield* Ref.make<ReadonlySet<LnetOperation>>(new Set()),
          calls: yield* Ref.make<ReadonlyArray<string>>([])
        })
      })
    )))
}
