import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { Kube, KubeError, refusalMessage } from "./Kube.js"

/** One call the fake saw. */
export type KubeCall = { readonly _tag: "ReadNodeLabels"; readonly nodeName: string }

/**
 * A deterministic Kube for tests. `nodes` maps each node's name to its labels (an unknown name
 * is a 404, worded as the live layer words it). Every call first takes the next error queued in
 * `failures`, if any, and fails with it: queue three errors and the fourth call succeeds. All
 * are Refs the test may change mid-test; `calls` lists every call, in order.
 */
export class KubeFake extends Context.Service<KubeFake, {
  readonly nodes: Ref.Ref<ReadonlyMap<string, Readonly<Record<string, string>>>>
  readonly failures: Ref.Ref<ReadonlyArray<KubeError>>
  readonly calls: Ref.Ref<ReadonlyArray<KubeCall>>
}>()("azurelustre/kube/KubeFake") {
  static readonly layer = (
    options: {
      readonly nodes?: Readonly<Record<string, Readonly<Record<string, string>>>>
      readonly failures?: ReadonlyArray<KubeError>
    } = {}
  ): Layer.Layer<Kube | KubeFake> =>
    Layer.effect(
      Kube,
      Effect.gen(function*() {
        const state = yield* KubeFake
        const record = (call: KubeCall) => Ref.update(state.calls, (calls) => [...calls, call])
        const nextFailure = Ref.modify(state.failures, (queued) => [queued[0], queued.slice(1)])

        const readNodeLabels = Effect.fn("KubeFake.readNodeLabels")(function*(nodeName: string) {
          yield* record({ _tag: "ReadNodeLabels", nodeName })
          const failure = yield* nextFailure
          if (failure !== undefined) return yield* failure
          const labels = (yield* Ref.get(state.nodes)).get(nodeName)
          if (labels === undefined) {
            return yield* new KubeError({
              operation: "readNode",
              status: 404,
              message: refusalMessage("readNode", 404, `node ${nodeName}`, undefined)
            })
          }
          return labels
        })

        return Kube.of({ readNodeLabels })
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      KubeFake,
      Effect.gen(function*() {
        return KubeFake.of({
          nodes: yield* Ref.make<ReadonlyMap<string, Readonly<Record<string, string>>>>(
            new Map(Object.entries(options.nodes ?? {}))
          ),
          failures: yield* Ref.make<ReadonlyArray<KubeError>>(options.failures ?? []),
          calls: yield* Ref.make<ReadonlyArray<KubeCall>>([])
        })
      })
    )))
}
