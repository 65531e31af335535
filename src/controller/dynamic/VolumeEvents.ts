import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { Kube } from "../../../layers/kube/Kube.js"

/** The PVC a volume is provisioned for, when the provisioner passed --extra-create-metadata. */
export interface PvcRef {
  readonly namespace: string
  readonly name: string
}

/** What the driver was doing when it recorded an Event (the Event's `action`). */
export type VolumeAction = "Provisioning" | "Expanding" | "Importing" | "Archiving"

export interface VolumeEvent {
  readonly pvc: PvcRef
  readonly type: "Normal" | "Warning"
  readonly action: VolumeAction
  readonly reason: string
  readonly note: string
}

/** The fields of an Event for a log line: what `kubectl describe pvc` would have shown. */
const logFields = (event: VolumeEvent) => ({
  pvc: `${event.pvc.namespace}/${event.pvc.name}`,
  eventType: event.type,
  eventAction: event.action,
  eventReason: event.reason,
  eventNote: event.note
})

/**
 * Progress of slow operations, where users look: Kubernetes Events on their PVC. Recording one
 * never fails the operation; an Event the API server refuses or never gets (a controller run
 * without a Kubernetes API) is logged instead, whole.
 */
export class VolumeEvents extends Context.Service<VolumeEvents, {
  readonly record: (event: VolumeEvent) => Effect.Effect<void>
}>()("azurelustre/controller/VolumeEvents") {

  static readonly layerKube = Layer.effect(
    VolumeEvents,
    Effect.gen(function*() {
      const kube = yield* Kube
      return VolumeEvents.of({
        record: (event) =>
          kube.recordEvent({
            regarding: { kind: "PersistentVolumeClaim", namespace: event.pvc.namespace, name: event.pvc.name },
            type: event.type,
            reason: event.reason,
            action: event.action,
            note: event.note
          }).pipe(
            Effect.catch((failed) =>
              Effect.logWarning(`cannot record an Event on the PVC; the event was ${event.type} ${event.reason}: ${event.note}`).pipe(
                Effect.annotateLogs({ ...logFields(event), reason: failed.message })
              )
            )
          )
      })
    })
  )

  /** Without Kubernetes (the simulation): each Event is a log line. */
  static readonly layerLog = Layer.succeed(
    VolumeEvents,
    VolumeEvents.of({
      record: (event) =>
        Effect.logInfo(`event ${event.type} ${event.reason}: ${event.note}`).pipe(
          Effect.annotateLogs(logFields(event))
        )
    })
  )

  /** For tests: the Events recorded, in order. */
  static readonly layerRecording = (recorded: Ref.Ref<ReadonlyArray<VolumeEvent>>) =>
    Layer.succeed(
      VolumeEvents,
      VolumeEvents.of({ record: (event) => Ref.update(recorded, (all) => [...all, event]) })
    )
}

/** An Event on the volume's PVC when it is known (--extra-create-metadata), nothing otherwise. */
export const recordOnPvc = (
  events: VolumeEvents["Service"],
  pvc: PvcRef | undefined,
  action: VolumeAction,
  type: VolumeEvent["type"],
  reason: string,
  note: string
): Effect.Effect<void> => (pvc === undefined ? Effect.void : events.record({ pvc, type, action, reason, note }))
