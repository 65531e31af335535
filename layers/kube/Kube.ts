import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A Kubernetes API call that did not succeed. `operation` names the API call (`readNode`, ...),
 * `status` is the HTTP status the API server answered, or 0 when there was no answer (the server
 * was unreachable, the call timed out, the client could not be configured).
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

/** What the driver reads from and writes to the Kubernetes API. */
export class Kube extends Context.Service<Kube, {
  /** The labels of Node `nodeName` (`GET /api/v1/nodes/<name>`); `{}` when it has none. */
  readonly readNodeLabels: (nodeName: string) => Effect.Effect<Readonly<Record<string, string>>, KubeError>
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

const verbs: Readonly<Record<string, string>> = {
  readNode: "read nodes"
}
const verbOf = (operation: string): string => verbs[operation] ?? operation
