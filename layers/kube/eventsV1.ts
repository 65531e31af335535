import { type KubeEvent, type KubeEventSubject, MAX_EVENT_FIELD_LENGTH, truncateNote } from "./Kube.js"

/** Who reports an Event: the driver's name and the pod or node it runs as. */
export interface EventReporter {
  readonly reportingController: string
  readonly reportingInstance: string
}

/** A field the API server bounds to 128 characters (reason, action, reportingController, reportingInstance), cut to fit. */
export const limitEventField = (text: string): string =>
  text.length <= MAX_EVENT_FIELD_LENGTH ? text : text.slice(0, MAX_EVENT_FIELD_LENGTH)

/**
 * `millis` as a MicroTime, what `eventTime` must be: RFC 3339 with six fractional digits. The
 * API server refuses a Date's three (`2026-03-01T10:00:00.123Z`).
 */
export const microTime = (millis: number): string => new Date(millis).toISOString().replace(/Z$/, "000Z")

/** Where the object an Event is about is read, for its uid (`GET`): a PVC or a Pod. */
export const subjectPath = ({ kind, namespace, name }: KubeEventSubject): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/${kind === "Pod" ? "pods" : "persistentvolumeclaims"}/${
    encodeURIComponent(name)
  }`

/** The operation that reads the object an Event is about, as a KubeError names it. */
export const subjectReadOperation = (kind: KubeEventSubject["kind"]): string =>
  kind === "Pod" ? "readPod" : "readPersistentVolumeClaim"

/** The subject of a createEvent call in messages: `event about persistentvolumeclaim apps/claim-1`. */
export const eventSubject = ({ kind, namespace, name }: KubeEventSubject): string =>
  `event about ${kind.toLowerCase()} ${namespace}/${name}`

/**
 * The events.k8s.io/v1 Event to create (`POST /apis/events.k8s.io/v1/namespaces/<ns>/events`):
 * named by the server from `<name>.`, the note cut to 1 KiB and the bounded fields to 128
 * characters, `regarding` with the object's uid when known (`kubectl describe` matches Events on
 * it). `eventTime` is given by the caller in the form its client serialises as a MicroTime.
 */
export const eventsV1Body = <Time>(
  event: KubeEvent,
  reporter: EventReporter,
  eventTime: Time,
  uid: string | undefined
) => {
  const { kind, namespace, name } = event.regarding
  return {
    metadata: { generateName: `${name}.`, namespace },
    eventTime,
    reportingController: limitEventField(reporter.reportingController),
    reportingInstance: limitEventField(reporter.reportingInstance),
    action: limitEventField(event.action),
    reason: limitEventField(event.reason),
    type: event.type,
    note: truncateNote(event.note),
    regarding: { apiVersion: "v1", kind, namespace, name, ...(uid === undefined ? {} : { uid }) }
  }
}
