import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { KubeNode } from "../../../layers/kube/KubeNode.js"

export interface NodeSetupEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: "LustreClientInstalled" | "LustreClientSetupFailed"
  readonly note: string
}

const logFields = (event: NodeSetupEvent) => ({ eventType: event.type, eventReason: event.reason, eventNote: event.note })

/**
 * Where the node setup tells its story to whoever runs `kubectl describe node`: Events on this
 * Node. Recording one never fails the setup.
 */
export class NodeSetupEvents extends Context.Service<NodeSetupEvents, {
  readonly record: (event: NodeSetupEvent) => Effect.Effect<void>
}>()("azurelustre/node/NodeSetupEvents") {
  /** Through the node plugin's small Kubernetes client; outside a pod, or when refused, a log line. */
  static readonly layerKube = <E>(nodeName: string, kube: Layer.Layer<KubeNode, E>) =>
    Layer.effect(
      NodeSetupEvents,
      Effect.gen(function*() {
        const client = yield* KubeNode
        return NodeSetupEvents.of({
          record: (event) =>
            client.recordNodeEvent(nodeName, { ...event, action: "SettingUpLustreClient" }).pipe(
              Effect.catch((failed) =>
                Effect.logWarning(`cannot record an Event on the Node; the event was ${event.type} ${event.reason}: ${event.note}`).pipe(
                  Effect.annotateLogs({ ...logFields(event), reason: failed.message })
                )
              )
            )
        })
      })
    ).pipe(Layer.provide(kube), Layer.catchCause(() => NodeSetupEvents.layerLog))

  /** Without Kubernetes (the simulation): each Event is a log line. */
  static readonly layerLog = Layer.succeed(
    NodeSetupEvents,
    NodeSetupEvents.of({
      record: (event) => Effect.logInfo(`event ${event.type} ${event.reason}: ${event.note}`).pipe(Effect.annotateLogs(logFields(event)))
    })
  )

  /** For tests: the Events recorded, in order. */
  static readonly layerRecording = (recorded: Ref.Ref<ReadonlyArray<NodeSetupEvent>>) =>
    Layer.succeed(NodeSetupEvents, NodeSetupEvents.of({ record: (event) => Ref.update(recorded, (all) => [...all, event]) }))
}
