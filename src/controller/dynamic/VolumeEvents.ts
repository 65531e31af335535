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

export interface VolumeEvent {
  readonly pvc: PvcRef
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly note: string
}

/**
 * Progress of slow operations, where users look: Kubernetes Events on their PVC. Recording one
 * never fails the operation; a refused Event is logged instead.
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
            action: "Provisioning",
            note: event.note
          }).pipe(
            Effect.catch((failed) =>
              Effect.logWarning("cannot record an Event on the PVC").pipe(
                Effect.annotateLogs({ pvc: `${event.pvc.namespace}/${event.pvc.name}`, reason: failed.message })
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
          Effect.annotateLogs({ pvc: `${event.pvc.namespace}/${event.pvc.name}` })
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
  type: VolumeEvent["type"],
  reason: string,
  note: string
): Effect.Effect<void> => (pvc === undefined ? Effect.void : events.record({ pvc, type, reason, note }))
