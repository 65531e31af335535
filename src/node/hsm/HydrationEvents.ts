import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { KubeEventSubject } from "../../../layers/kube/Kube.js"
import { KubeNode } from "../../../layers/kube/KubeNode.js"

export interface HydrationEvent {
  /** The PVC when the volume context names it (dynamic volumes), else the pod being started. */
  readonly regarding: KubeEventSubject
  readonly type: "Normal" | "Warning"
  readonly reason: "HydrationStarted" | "HydrationProgress" | "HydrationCompleted" | "HydrationFailed"
  readonly note: string
}

const PVC_NAME = "csi.storage.k8s.io/pvc/name"
const PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace"
const POD_NAME = "csi.storage.k8s.io/pod.name"
const POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace"

/** Whom a volume's hydration Events are about: its PVC, else its pod (podInfoOnMount), else nobody. */
export const eventSubjectOf = (volumeContext: Readonly<Record<string, string>>): KubeEventSubject | undefined => {
  const pvc = volumeContext[PVC_NAME]
  const pvcNamespace = volumeContext[PVC_NAMESPACE]
  if (pvc !== undefined && pvcNamespace !== undefined) return { kind: "PersistentVolumeClaim", namespace: pvcNamespace, name: pvc }
  const pod = volumeContext[POD_NAME]
  const podNamespace = volumeContext[POD_NAMESPACE]
  if (pod !== undefined && podNamespace !== undefined) return { kind: "Pod", namespace: podNamespace, name: pod }
  return undefined
}

const logFields = (event: HydrationEvent) => ({
  regarding: `${event.regarding.kind}/${event.regarding.namespace}/${event.regarding.name}`,
  eventType: event.type,
  eventReason: event.reason,
  eventNote: event.note
})

/**
 * Where a hydration tells its story: Events on the PVC (or pod) a user describes when a pod
 * waits in ContainerCreating. Recording one never fails the hydration.
 */
export class HydrationEvents extends Context.Service<HydrationEvents, {
  readonly record: (event: HydrationEvent) => Effect.Effect<void>
}>()("azurelustre/node/HydrationEvents") {
  /**
   * Through the node plugin's small Kubernetes client. Where there is none (outside a pod), or
   * an Event is refused, the Event is a log line.
   */
  static readonly layerKube = <E>(kube: Layer.Layer<KubeNode, E>) =>
    Layer.effect(
      HydrationEvents,
      Effect.gen(function*() {
        const client = yield* KubeNode
        return HydrationEvents.of({
          record: (event) =>
            client.recordEvent({ ...event, action: "Hydrating" }).pipe(
              Effect.catch((failed) =>
                Effect.logWarning(`cannot record an Event; the event was ${event.type} ${event.reason}: ${event.note}`).pipe(
                  Effect.annotateLogs({ ...logFields(event), reason: failed.message })
                )
              )
            )
        })
      })
    ).pipe(Layer.provide(kube), Layer.catchCause(() => HydrationEvents.layerLog))

  /** Without Kubernetes (the simulation): each Event is a log line. */
  static readonly layerLog = Layer.succeed(
    HydrationEvents,
    HydrationEvents.of({
      record: (event) =>
        Effect.logInfo(`event ${event.type} ${event.reason}: ${event.note}`).pipe(Effect.annotateLogs(logFields(event)))
    })
  )

  /** For tests: the Events recorded, in order. */
  static readonly layerRecording = (recorded: Ref.Ref<ReadonlyArray<HydrationEvent>>) =>
    Layer.succeed(
      HydrationEvents,
      HydrationEvents.of({ record: (event) => Ref.update(recorded, (all) => [...all, event]) })
    )
}
