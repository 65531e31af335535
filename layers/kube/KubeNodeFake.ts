import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { limitEventField } from "./eventsV1.js"
import { KubeError, type KubeEvent, refusalMessage, truncateNote } from "./Kube.js"
import { KubeNode, type NodeEvent, type NodeTaint } from "./KubeNode.js"

/** A Node as the fake holds it. */
export interface FakeNode {
  readonly labels: Readonly<Record<string, string>>
  readonly taints: ReadonlyArray<NodeTaint>
}

/** One call the fake saw. */
export type KubeNodeCall =
  | { readonly _tag: "ReadNodeLabels"; readonly nodeName: string }
  | { readonly _tag: "ReadCsiNodeDrivers"; readonly nodeName: string }
  | { readonly _tag: "RemoveNodeTaint"; readonly nodeName: string; readonly key: string }
  | { readonly _tag: "RecordEvent"; readonly event: KubeEvent }
  | { readonly _tag: "RecordNodeEvent"; readonly nodeName: string; readonly event: NodeEvent }

/**
 * A deterministic KubeNode for tests. `nodes` maps each node's name to its labels and taints (an
 * unknown name is a 404, worded as the live layer words it); `csiNodes` maps a node's name to
 * the drivers its CSINode lists (an unknown name has no CSINode: `[]`, as live). `removeNodeTaint`
 * takes the taints with that key out of `nodes`. Every call first takes the next error queued in
 * `failures`, if any, and fails with it, changing nothing: queue three errors and the fourth call
 * succeeds. All are Refs the test may change mid-test; `calls` lists every call, in order.
 *
 * `events` lists every Event recorded, in order, cut as the live layer cuts it (note, reason,
 * action). `recordEvent` does not take from `failures`: the plugin reports Events in between its
 * other calls, and an error queued for those must not be spent on an Event. While `eventFailure`
 * holds an error instead, every `recordEvent` fails with it and records nothing.
 */
export class KubeNodeFake extends Context.Service<KubeNodeFake, {
  readonly nodes: Ref.Ref<ReadonlyMap<string, FakeNode>>
  readonly csiNodes: Ref.Ref<ReadonlyMap<string, ReadonlyArray<string>>>
  readonly failures: Ref.Ref<ReadonlyArray<KubeError>>
  readonly calls: Ref.Ref<ReadonlyArray<KubeNodeCall>>
  readonly events: Ref.Ref<ReadonlyArray<KubeEvent>>
  /** Every Event recorded about a Node, with the Node's name, in order (cut as `events`; `eventFailure` applies). */
  readonly nodeEvents: Ref.Ref<ReadonlyArray<{ readonly nodeName: string; readonly event: NodeEvent }>>
  readonly eventFailure: Ref.Ref<Option.Option<KubeError>>
}>()("azurelustre/kube/KubeNodeFake") {
  static readonly layer = (
    options: {
      /** Nodes by name; a missing `labels` or `taints` is none. */
      readonly nodes?: Readonly<
        Record<string, { readonly labels?: Readonly<Record<string, string>>; readonly taints?: ReadonlyArray<NodeTaint> }>
      >
      /** The drivers each node's CSINode lists, by node name. */
      readonly csiNodes?: Readonly<Record<string, ReadonlyArray<string>>>
      readonly failures?: ReadonlyArray<KubeError>
      /** Every `recordEvent` fails with this (operation `createEvent`, say) until the test clears it. */
      readonly eventFailure?: KubeError
    } = {}
  ): Layer.Layer<KubeNode | KubeNodeFake> =>
    Layer.effect(
      KubeNode,
      Effect.gen(function*() {
        const state = yield* KubeNodeFake
        const record = (call: KubeNodeCall) => Ref.update(state.calls, (calls) => [...calls, call])
        const nextFailure = Ref.modify(state.failures, (queued) => [queued[0], queued.slice(1)])

        const readNode = Effect.fnUntraced(function*(nodeName: string) {
          const node = (yield* Ref.get(state.nodes)).get(nodeName)
          if (node === undefined) {
            return yield* new KubeError({
              operation: "readNode",
              status: 404,
              message: refusalMessage("readNode", 404, `node ${nodeName}`, undefined)
            })
          }
          return node
        })

        const readNodeLabels = Effect.fn("KubeNodeFake.readNodeLabels")(function*(nodeName: string) {
          yield* record({ _tag: "ReadNodeLabels", nodeName })
          const failure = yield* nextFailure
          if (failure !== undefined) return yield* failure
          return (yield* readNode(nodeName)).labels
        })

        const readCsiNodeDrivers = Effect.fn("KubeNodeFake.readCsiNodeDrivers")(function*(nodeName: string) {
          yield* record({ _tag: "ReadCsiNodeDrivers", nodeName })
          const failure = yield* nextFailure
          if (failure !== undefined) return yield* failure
          return (yield* Ref.get(state.csiNodes)).get(nodeName) ?? []
        })

        const removeNodeTaint = Effect.fn("KubeNodeFake.removeNodeTaint")(function*(nodeName: string, key: string) {
          yield* record({ _tag: "RemoveNodeTaint", nodeName, key })
          const failure = yield* nextFailure
          if (failure !== undefined) return yield* failure
          yield* readNode(nodeName)
          return yield* Ref.modify(state.nodes, (nodes): [ReadonlyArray<NodeTaint>, ReadonlyMap<string, FakeNode>] => {
            const node = nodes.get(nodeName)
            const removed = node?.taints.filter((taint) => taint.key === key) ?? []
            if (node === undefined || removed.length === 0) return [removed, nodes]
            const kept = node.taints.filter((taint) => taint.key !== key)
            return [removed, new Map([...nodes, [nodeName, { ...node, taints: kept }]])]
          })
        })

        const recordEvent = Effect.fn("KubeNodeFake.recordEvent")(function*(event: KubeEvent) {
          yield* record({ _tag: "RecordEvent", event })
          const failure = yield* Ref.get(state.eventFailure)
          if (Option.isSome(failure)) return yield* failure.value
          const sent: KubeEvent = {
            ...event,
            reason: limitEventField(event.reason),
            action: limitEventField(event.action),
            note: truncateNote(event.note)
          }
          yield* Ref.update(state.events, (events) => [...events, sent])
        })

        const recordNodeEvent = Effect.fn("KubeNodeFake.recordNodeEvent")(function*(nodeName: string, event: NodeEvent) {
          yield* record({ _tag: "RecordNodeEvent", nodeName, event })
          const failure = yield* Ref.get(state.eventFailure)
          if (Option.isSome(failure)) return yield* failure.value
          const sent: NodeEvent = {
            ...event,
            reason: limitEventField(event.reason),
            action: limitEventField(event.action),
            note: truncateNote(event.note)
          }
          yield* Ref.update(state.nodeEvents, (events) => [...events, { nodeName, event: sent }])
        })

        return KubeNode.of({ readNodeLabels, readCsiNodeDrivers, removeNodeTaint, recordEvent, recordNodeEvent })
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      KubeNodeFake,
      Effect.gen(function*() {
        const nodes = Object.entries(options.nodes ?? {}).map(([name, node]): [string, FakeNode] => [
          name,
          { labels: node.labels ?? {}, taints: node.taints ?? [] }
        ])
        return KubeNodeFake.of({
          nodes: yield* Ref.make<ReadonlyMap<string, FakeNode>>(new Map(nodes)),
          csiNodes: yield* Ref.make<ReadonlyMap<string, ReadonlyArray<string>>>(
            new Map(Object.entries(options.csiNodes ?? {}))
          ),
          failures: yield* Ref.make<ReadonlyArray<KubeError>>(options.failures ?? []),
          calls: yield* Ref.make<ReadonlyArray<KubeNodeCall>>([]),
          events: yield* Ref.make<ReadonlyArray<KubeEvent>>([]),
          nodeEvents: yield* Ref.make<ReadonlyArray<{ readonly nodeName: string; readonly event: NodeEvent }>>([]),
          eventFailure: yield* Ref.make(Option.fromUndefinedOr(options.eventFailure))
        })
      })
    )))
}
