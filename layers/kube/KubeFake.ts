import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { Kube, type KubeError, type KubeEvent, truncateNote } from "./Kube.js"

/** One call the fake saw. */
export type KubeCall =
  | { readonly _tag: "RecordEvent"; readonly event: KubeEvent }
  | { readonly _tag: "ReadSecret"; readonly namespace: string; readonly name: string }

/** The key of a Secret in `KubeFake.secrets`: `<namespace>/<name>`. */
export const secretKey = (namespace: string, name: string): string => `${namespace}/${name}`

/**
 * A deterministic Kube for tests. `secrets` maps `<namespace>/<name>` to a Secret's (decoded)
 * data; `events` lists every Event recorded, in order, with its note cut as the live layer cuts
 * it. Every call first takes the next error queued in `failures`, if any, and fails with it:
 * queue three errors and the fourth call succeeds. All are Refs the test may change mid-test;
 * `calls` lists every call, in order.
 */
export class KubeFake extends Context.Service<KubeFake, {
  readonly secrets: Ref.Ref<ReadonlyMap<string, Readonly<Record<string, string>>>>
  readonly events: Ref.Ref<ReadonlyArray<KubeEvent>>
  readonly failures: Ref.Ref<ReadonlyArray<KubeError>>
  readonly calls: Ref.Ref<ReadonlyArray<KubeCall>>
}>()("azurelustre/kube/KubeFake") {
  static readonly layer = (
    options: {
      /** Secrets by `<namespace>/<name>` (see `secretKey`), each its decoded data. */
      readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>
      readonly failures?: ReadonlyArray<KubeError>
    } = {}
  ): Layer.Layer<Kube | KubeFake> =>
    Layer.effect(
      Kube,
      Effect.gen(function*() {
        const state = yield* KubeFake
        const record = (call: KubeCall) => Ref.update(state.calls, (calls) => [...calls, call])
        const nextFailure = Ref.modify(state.failures, (queued) => [queued[0], queued.slice(1)])

        const recordEvent = Effect.fn("KubeFake.recordEvent")(function*(event: KubeEvent) {
          yield* record({ _tag: "RecordEvent", event })
          const failure = yield* nextFailure
          if (failure !== undefined) return yield* failure
          yield* Ref.update(state.events, (events) => [...events, { ...event, note: truncateNote(event.note) }])
        })

        const readSecret = Effect.fn("KubeFake.readSecret")(function*(namespace: string, name: string) {
          yield* record({ _tag: "ReadSecret", namespace, name })
          const failure = yield* nextFailure
          if (failure !== undefined) return yield* failure
          return Option.fromUndefinedOr((yield* Ref.get(state.secrets)).get(secretKey(namespace, name)))
        })

        return Kube.of({ recordEvent, readSecret })
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      KubeFake,
      Effect.gen(function*() {
        return KubeFake.of({
          secrets: yield* Ref.make<ReadonlyMap<string, Readonly<Record<string, string>>>>(
            new Map(Object.entries(options.secrets ?? {}))
          ),
          events: yield* Ref.make<ReadonlyArray<KubeEvent>>([]),
          failures: yield* Ref.make<ReadonlyArray<KubeError>>(options.failures ?? []),
          calls: yield* Ref.make<ReadonlyArray<KubeCall>>([])
        })
      })
    )))
}
