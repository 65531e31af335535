import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A Kubernetes API call that did not succeed, through `Kube` or `KubeNode`. `operation` names
 * the API call (`readNode`, ...), `status` is the HTTP status the API server answered, or 0 when
 * there was no answer (the server was unreachable, the call timed out, the client could not be
 * configured).
 */
export class KubeError extends Schema.TaggedError<KubeError>()("KubeError", {
  operation: Schema.String,
  status: Schema.Number,
  message: Schema.String
}) {
  /** Worth trying again: no answer, a timeout, throttling or a server-side failure. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500
  }
}

/**
 * The object an Event is about: a PVC (the controller's Events), or a Pod (the node plugin's).
 * Without `uid`, the live layers look the object up to fill it in.
 */
export interface KubeEventSubject {
  readonly kind: "PersistentVolumeClaim" | "Pod"
  readonly namespace: string
  readonly name: string
  readonly uid?: string
}

/**
 * A Kubernetes Event (events.k8s.io/v1) about an object, e.g. the PVC a CreateVolume is for.
 * `reason` is a short UpperCamelCase word (`ProvisioningInProgress`), `action` what the driver
 * was doing (`Provisioning`, `Expanding`), `note` the human-readable detail (cut to 1 KiB, the API's limit).
 */
export interface KubeEvent {
  readonly regarding: KubeEventSubject
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly action: string
  readonly note: string
}

/** The controller that reports Events (`reportingController`) unless told the driver's name: the default driver name. */
export const REPORTING_CONTROLLER = "azurelustre.csi.azure.com"

/** The API server refuses an Event whose note is longer than 1024 bytes. */
export const MAX_EVENT_NOTE_BYTES = 1024
/** ... and whose reason, action or reportingInstance is longer than 128 characters. */
export const MAX_EVENT_FIELD_LENGTH = 128

/**
 * `note` cut to at most `maxBytes` bytes of UTF-8, never inside a character, ending with `...`
 * when it was cut. Shared by the live layer and the fake, so both record the same note.
 */
export const truncateNote = (note: string, maxBytes: number = MAX_EVENT_NOTE_BYTES): string => {
  const encoder = new TextEncoder()
  if (encoder.encode(note).length <= maxBytes) return note
  const marker = "..."
  let bytes = 0
  let kept = ""
  for (const char of note) {
    const size = encoder.encode(char).length
    if (bytes + size > maxBytes - marker.length) break
    bytes += size
    kept += char
  }
  return kept + marker
}

/**
 * What the controller reads from and writes to the Kubernetes API. The node plugin's calls are
 * `KubeNode`'s.
 */
export class Kube extends Context.Service<Kube, {
  /**
   * Records an Event (`POST /apis/events.k8s.io/v1/namespaces/<ns>/events`) about `regarding`,
   * reported by the driver's name (`--driver-name`) from this pod (POD_NAME, else the hostname).
   */
  readonly recordEvent: (event: KubeEvent) => Effect.Effect<void, KubeError>
  /**
   * The data of Secret `namespace/name`, decoded from base64 (`GET /api/v1/namespaces/<ns>/secrets/<name>`);
   * `Option.none()` when there is no such Secret.
   */
  readonly readSecret: (
    namespace: string,
    name: string
  ) => Effect.Effect<Option.Option<Readonly<Record<string, string>>>, KubeError>
}>()("azurelustre/kube/Kube") {}

/**
 * The message for an API server's refusal, shared by the live layer and the fake so that both
 * say the same thing. `subject` names the object, e.g. `node worker-1`; `detail` is the API
 * server's own message, if any.
 */
export const refusalMessage = (
  operation: string,
  status: number,
  subject: string,
  detail: string | undefined
): string => {
  const said = detail === undefined || detail === "" ? "" : ` (the API server said: ${detail})`
  switch (status) {
    case 401:
      return `${operation} ${subject}: the API server did not accept the driver's credentials (401): check its service account token${said}`
    case 403:
      return `${operation} ${subject}: the driver's service account may not ${verbOf(operation)}: check its ClusterRole${said}`
    case 404:
      return `${subject} not found`
    case 429:
      return `${operation} ${subject}: the API server is throttling the driver (429); it retries${said}`
    default:
      return `${operation} ${subject}: the API server answered HTTP ${status}${said}`
  }
}

/** The API server's own message, when the body of its answer is a `Status` object. */
export const decodeStatusBody = Schema.decodeUnknownOption(
  Schema.fromJsonString(Schema.Struct({ message: Schema.optional(Schema.String) }))
)

/**
 * Bounds one API call of a live layer by its request timeout: past it the call is interrupted
 * (which cancels its HTTP request) and fails with status 0, naming the server and the timeout.
 */
export const withinRequestTimeout =
  (operation: string, subject: string, server: string, requestTimeout: Duration.Duration) =>
  <A, R>(call: Effect.Effect<A, KubeError, R>): Effect.Effect<A, KubeError, R> =>
    call.pipe(
      Effect.timeoutOrElse({
        duration: requestTimeout,
        orElse: () =>
          Effect.fail(
            new KubeError({
              operation,
              status: 0,
              message: `${operation} ${subject}: the Kubernetes API server at ${server} did not answer within ${
                Duration.format(requestTimeout)
              }`
            })
          )
      })
    )

const verbs: Readonly<Record<string, string>> = {
  readNode: "read nodes",
  patchNode: "patch nodes",
  readCSINode: "read csinodes (storage.k8s.io)",
  createEvent: "create events (events.k8s.io)",
  readSecret: "read secrets",
  readPersistentVolumeClaim: "read persistentvolumeclaims",
  readPod: "read pods"
}
const verbOf = (operation: string): string => verbs[operation] ?? operation
