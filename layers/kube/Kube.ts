import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"

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

/** A PersistentVolume, as far as the controller reads it. */
export interface KubePersistentVolume {
  readonly name: string
  /** spec.csi.driver; undefined for a volume that is not CSI. */
  readonly driver: string | undefined
  /** spec.csi.volumeHandle: the CSI volume id. */
  readonly volumeHandle: string | undefined
  /** spec.claimRef: the PVC it is bound to (or reserved for). */
  readonly claim: { readonly namespace: string; readonly name: string; readonly uid: string | undefined } | undefined
}

/** A PersistentVolumeClaim, as far as the controller reads it. */
export interface KubePersistentVolumeClaim {
  readonly namespace: string
  readonly name: string
  readonly uid: string | undefined
  /** spec.volumeName: the PV it is bound to, once bound. */
  readonly volumeName: string | undefined
  readonly annotations: Readonly<Record<string, string>>
}

/** A coordination.k8s.io/v1 Lease, as leader election reads and writes it. */
export interface KubeLease {
  readonly namespace: string
  readonly name: string
  readonly holderIdentity: string | undefined
  readonly leaseDurationSeconds: number | undefined
  readonly acquireTime: Date | undefined
  readonly renewTime: Date | undefined
  readonly leaseTransitions: number | undefined
  /** The version read; a replace with an older one fails with 409 (someone else wrote it). */
  readonly resourceVersion: string | undefined
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
  /** Every PersistentVolume (`GET /api/v1/persistentvolumes`). */
  readonly listPersistentVolumes: Effect.Effect<ReadonlyArray<KubePersistentVolume>, KubeError>
  /** Every PersistentVolumeClaim of every namespace (`GET /api/v1/persistentvolumeclaims`). */
  readonly listPersistentVolumeClaims: Effect.Effect<ReadonlyArray<KubePersistentVolumeClaim>, KubeError>
  /**
   * PVCs as they are added or changed (`GET /api/v1/persistentvolumeclaims?watch=true`): first
   * every PVC there is, then each change, without end; a watch the API server or the client
   * closes is resumed where it stopped. Fails when a watch cannot be made (the caller watches
   * again later).
   */
  readonly watchPersistentVolumeClaims: Stream.Stream<KubePersistentVolumeClaim, KubeError>
  /**
   * Merges `annotations` into PVC `namespace/name`'s (a JSON merge patch: `null` removes one);
   * other annotations are left as they are.
   */
  readonly patchPersistentVolumeClaimAnnotations: (
    namespace: string,
    name: string,
    annotations: Readonly<Record<string, string | null>>
  ) => Effect.Effect<void, KubeError>
  /** Lease `namespace/name` (coordination.k8s.io/v1); `Option.none()` when there is none. */
  readonly readLease: (namespace: string, name: string) => Effect.Effect<Option.Option<KubeLease>, KubeError>
  /** Creates the Lease; fails with status 409 when it exists (another replica created it first). */
  readonly createLease: (lease: KubeLease) => Effect.Effect<KubeLease, KubeError>
  /** Replaces the Lease at its `resourceVersion`; fails with status 409 when someone else wrote it since. */
  readonly replaceLease: (lease: KubeLease) => Effect.Effect<KubeLease, KubeError>
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
  readPod: "read pods",
  listPersistentVolumes: "list persistentvolumes",
  listPersistentVolumeClaims: "list persistentvolumeclaims",
  watchPersistentVolumeClaims: "watch persistentvolumeclaims",
  patchPersistentVolumeClaim: "patch persistentvolumeclaims",
  readLease: "get leases (coordination.k8s.io)",
  createLease: "create leases (coordination.k8s.io)",
  replaceLease: "update leases (coordination.k8s.io)"
}
const verbOf = (operation: string): string => verbs[operation] ?? operation
