import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs/promises"
import type * as NodeHttp from "node:http"
import * as Https from "node:https"
import * as Os from "node:os"
import { Http } from "../node/nodeHttp.js"
import { eventsV1Body, eventSubject, limitEventField, microTime, subjectPath, subjectReadOperation } from "./eventsV1.js"
import {
  decodeStatusBody,
  KubeError,
  type KubeEvent,
  type KubeEventSubject,
  refusalMessage,
  REPORTING_CONTROLLER,
  truncateNote,
  withinRequestTimeout
} from "./Kube.js"
import { KubeNode, type NodeEvent, type NodeTaint } from "./KubeNode.js"

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
/** Where kubelet mounts the pod's service account token (projected: rotated about hourly). */
export const IN_CLUSTER_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`
/** ... and the cluster's CA bundle, which the API server's certificate chains to. */
export const IN_CLUSTER_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`

/** Who the node plugin's Events say reported them. */
export interface KubeNodeReporting {
  /** `reportingController`: the driver's name (`--driver-name`), default azurelustre.csi.azure.com. */
  readonly reportingController?: string
  /** `reportingInstance`: the node's name (`--node-id`), default the hostname (the plugin runs on the host's network). */
  readonly reportingInstance?: string
}

export interface KubeNodeLiveOptions extends KubeNodeReporting {
  /** The API server: `https://host:port`, or `http://` for a test's server on loopback. */
  readonly server: string
  /**
   * The file holding the bearer token, read again at every request: a projected token is
   * replaced on disk before it expires. Without one, requests carry no Authorization header.
   */
  readonly tokenFile?: string
  /** The file holding the CA bundle (PEM) to verify the server with, read once; default the system's CAs. */
  readonly caFile?: string
  /** Each API call gives up after this long, as a KubeError with status 0 (default 10 s). */
  readonly requestTimeout?: Duration.Input
}

const defaultRequestTimeout = Duration.seconds(10)

/**
 * The parts of a Node the driver reads. Taints stay as the API server sent them: the JSON patch
 * `test`s them, and a taint decoded to known fields only (dropping `timeAdded`, which NoExecute
 * taints carry) would never compare equal.
 */
const NodeJson = Schema.Struct({
  metadata: Schema.optionalKey(Schema.Struct({
    uid: Schema.optionalKey(Schema.String),
    labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
  })),
  spec: Schema.optionalKey(Schema.Struct({
    taints: Schema.optionalKey(Schema.Array(Schema.Unknown))
  }))
})
const decodeNode = Schema.decodeUnknownEffect(Schema.fromJsonString(NodeJson))

const TaintJson = Schema.Struct({
  key: Schema.String,
  value: Schema.optionalKey(Schema.String),
  effect: Schema.String
})
const decodeTaint = Schema.decodeUnknownEffect(TaintJson)

/** A CSINode's drivers; Go serialises an empty list as `null`. */
const CsiNodeJson = Schema.Struct({
  spec: Schema.optionalKey(Schema.Struct({
    drivers: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String }))))
  }))
})
const decodeCsiNode = Schema.decodeUnknownEffect(Schema.fromJsonString(CsiNodeJson))

/** The one field of a PVC or Pod an Event needs: its uid. */
const SubjectJson = Schema.Struct({
  metadata: Schema.optionalKey(Schema.Struct({ uid: Schema.optionalKey(Schema.String) }))
})
const decodeSubject = Schema.decodeUnknownEffect(Schema.fromJsonString(SubjectJson))

const reasonOf = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  // Connecting to a name with several addresses fails with an AggregateError whose message is empty.
  if (cause.message !== "") return cause.message
  return "code" in cause ? String(cause.code) : cause.name
}

interface Answer {
  readonly status: number
  readonly body: string
}

interface Request {
  readonly method: "GET" | "PATCH" | "POST"
  readonly path: string
  readonly body?: { readonly contentType: string; readonly text: string }
}

interface Exchange {
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
}

/** One HTTP exchange; `signal` destroys the request (and its socket) when aborted. */
const exchange = (url: URL, request: Exchange, ca: string | undefined, signal: AbortSignal): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const onResponse = (response: NodeHttp.IncomingMessage) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("error", reject)
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
    }
    const { method, headers } = request
    const sent = url.protocol === "http:"
      ? Http.request(url, { method, headers, signal }, onResponse)
      : Https.request(url, { method, headers, signal, ...(ca === undefined ? {} : { ca }) }, onResponse)
    sent.on("error", reject)
    sent.end(request.body)
  })

const make = (options: KubeNodeLiveOptions) =>
  Effect.gen(function*() {
    const server = options.server.replace(/\/+$/, "")
    yield* Effect.try({
      try: () => new URL(server),
      catch: (cause) =>
        new KubeError({
          operation: "loadConfig",
          status: 0,
          message: `the Kubernetes API server ${server} is not a URL: ${reasonOf(cause)}`
        })
    })
    const { caFile, tokenFile } = options
    const ca = caFile === undefined ? undefined : yield* Effect.tryPromise({
      try: () => Fs.readFile(caFile, "utf8"),
      catch: (cause) =>
        new KubeError({
          operation: "loadConfig",
          status: 0,
          message: `cannot read the Kubernetes API server's CA ${caFile}: ${reasonOf(cause)}`
        })
    })
    const requestTimeout = options.requestTimeout === undefined
      ? defaultRequestTimeout
      : Duration.fromInputUnsafe(options.requestTimeout)

    const readToken = (operation: string, subject: string): Effect.Effect<string | undefined, KubeError> =>
      tokenFile === undefined ? Effect.succeed(undefined) : Effect.tryPromise({
        try: () => Fs.readFile(tokenFile, "utf8"),
        catch: (cause) =>
          new KubeError({
            operation,
            status: 0,
            message: `${operation} ${subject}: cannot read the service account token ${tokenFile}: ${reasonOf(cause)}`
          })
      }).pipe(Effect.map((token) => token.trim()))

    /** One API call: bounded by the request timeout, cancelled when interrupted; a non-2xx answer fails. */
    const call = (operation: string, subject: string, request: Request): Effect.Effect<Answer, KubeError> =>
      Effect.gen(function*() {
        const token = yield* readToken(operation, subject)
        const headers: Record<string, string> = {
          accept: "application/json",
          "user-agent": "azurelustre-csi-node",
          ...(token === undefined || token === "" ? {} : { authorization: `Bearer ${token}` }),
          ...(request.body === undefined ? {} : { "content-type": request.body.contentType })
        }
        const answer = yield* Effect.tryPromise({
          try: (signal) =>
            exchange(
              new URL(`${server}${request.path}`),
              { method: request.method, headers, body: request.body?.text },
              ca,
              signal
            ),
          catch: (cause) =>
            new KubeError({
              operation,
              status: 0,
              message: `${operation} ${subject}: cannot reach the Kubernetes API server at ${server}: ${reasonOf(cause)}`
            })
        })
        if (answer.status >= 200 && answer.status < 300) return answer
        const detail = Option.getOrUndefined(decodeStatusBody(answer.body))?.message
        return yield* new KubeError({
          operation,
          status: answer.status,
          message: refusalMessage(operation, answer.status, subject, detail)
        })
      }).pipe(withinRequestTimeout(operation, subject, server, requestTimeout))

    /** An answer that is not what the API promises: the HTTP status it came with, not retryable. */
    const unexpected = (operation: string, subject: string, status: number, kind: string) =>
    (error: { readonly message: string }) =>
      new KubeError({
        operation,
        status,
        message: `${operation} ${subject}: the API server's answer is not a ${kind}: ${error.message}`
      })

    const nodePath = (nodeName: string) => `/api/v1/nodes/${encodeURIComponent(nodeName)}`

    const readNode = (nodeName: string) => {
      const subject = `node ${nodeName}`
      return call("readNode", subject, { method: "GET", path: nodePath(nodeName) }).pipe(
        Effect.flatMap((answer) =>
          decodeNode(answer.body).pipe(Effect.mapError(unexpected("readNode", subject, answer.status, "Node")))
        )
      )
    }

    const readNodeLabels = Effect.fn("KubeNode.readNodeLabels")(function*(nodeName: string) {
      const node = yield* readNode(nodeName)
      const labels: Readonly<Record<string, string>> = node.metadata?.labels ?? {}
      return labels
    })

    const readCsiNodeDrivers = Effect.fn("KubeNode.readCsiNodeDrivers")(function*(nodeName: string) {
      const subject = `csinode ${nodeName}`
      const found = yield* call("readCSINode", subject, {
        method: "GET",
        path: `/apis/storage.k8s.io/v1/csinodes/${encodeURIComponent(nodeName)}`
      }).pipe(
        Effect.map(Option.some),
        Effect.catchIf((error) => error.status === 404, () => Effect.succeed(Option.none<Answer>()))
      )
      if (Option.isNone(found)) return []
      const csiNode = yield* decodeCsiNode(found.value.body).pipe(
        Effect.mapError(unexpected("readCSINode", subject, found.value.status, "CSINode"))
      )
      const drivers: ReadonlyArray<string> = (csiNode.spec?.drivers ?? []).map((driver) => driver.name)
      return drivers
    })

    const removeNodeTaint = Effect.fn("KubeNode.removeNodeTaint")(function*(nodeName: string, key: string) {
      const subject = `node ${nodeName}`
      const read = (yield* readNode(nodeName)).spec?.taints ?? []
      const taints = yield* Effect.forEach(read, (raw) =>
        decodeTaint(raw).pipe(
          Effect.map((taint): { readonly raw: unknown; readonly taint: NodeTaint } => ({ raw, taint })),
          Effect.mapError(unexpected("readNode", subject, 200, "Node with well-formed taints"))
        ))
      const removed = taints.filter(({ taint }) => taint.key === key).map(({ taint }) => taint)
      if (removed.length === 0) return removed
      const patch = [
        { op: "test", path: "/spec/taints", value: read },
        { op: "replace", path: "/spec/taints", value: taints.filter(({ taint }) => taint.key !== key).map(({ raw }) => raw) }
      ]
      yield* call("patchNode", subject, {
        method: "PATCH",
        path: nodePath(nodeName),
        body: { contentType: "application/json-patch+json", text: JSON.stringify(patch) }
      })
      return removed
    })

    const reporter = {
      reportingController: options.reportingController ?? REPORTING_CONTROLLER,
      reportingInstance: options.reportingInstance ?? Os.hostname()
    }

    /** The object's uid, which `kubectl describe` matches Events on; undefined when it cannot be read. */
    const uidOf = (regarding: KubeEventSubject) => {
      const operation = subjectReadOperation(regarding.kind)
      const subject = `${regarding.kind.toLowerCase()} ${regarding.namespace}/${regarding.name}`
      return call(operation, subject, { method: "GET", path: subjectPath(regarding) }).pipe(
        Effect.flatMap((answer) => decodeSubject(answer.body)),
        Effect.map((object) => object.metadata?.uid),
        Effect.catch((failed) =>
          Effect.logDebug("an Event goes without its object's uid").pipe(
            Effect.annotateLogs({ reason: failed.message }),
            Effect.as(undefined)
          )
        )
      )
    }

    const recordEvent = Effect.fn("KubeNode.recordEvent")(function*(event: KubeEvent) {
      const uid = event.regarding.uid ?? (yield* uidOf(event.regarding))
      const body = eventsV1Body(event, reporter, microTime(yield* Clock.currentTimeMillis), uid)
      yield* call("createEvent", eventSubject(event.regarding), {
        method: "POST",
        path: `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(event.regarding.namespace)}/events`,
        body: { contentType: "application/json", text: JSON.stringify(body) }
      })
    })

    /** Node Events go to namespace default, as kubelet's; regarding the Node by name and uid. */
    const recordNodeEvent = Effect.fn("KubeNode.recordNodeEvent")(function*(nodeName: string, event: NodeEvent) {
      const uid = yield* readNode(nodeName).pipe(
        Effect.map((node) => node.metadata?.uid),
        Effect.catch((failed) =>
          Effect.logDebug("a Node Event goes without the Node's uid").pipe(Effect.annotateLogs({ reason: failed.message }), Effect.as(undefined))
        )
      )
      const body = {
        metadata: { generateName: `${nodeName}.`, namespace: "default" },
        eventTime: microTime(yield* Clock.currentTimeMillis),
        reportingController: limitEventField(reporter.reportingController),
        reportingInstance: limitEventField(reporter.reportingInstance),
        action: limitEventField(event.action),
        reason: limitEventField(event.reason),
        type: event.type,
        note: truncateNote(event.note),
        regarding: { apiVersion: "v1", kind: "Node", name: nodeName, ...(uid === undefined ? {} : { uid }) }
      }
      yield* call("createEvent", `event about node ${nodeName}`, {
        method: "POST",
        path: "/apis/events.k8s.io/v1/namespaces/default/events",
        body: { contentType: "application/json", text: JSON.stringify(body) }
      })
    })

    return KubeNode.of({ readNodeLabels, readCsiNodeDrivers, removeNodeTaint, recordEvent, recordNodeEvent })
  })

/** In a pod: the API server from the environment Kubernetes gives every pod, the service account's token and CA. */
const inCluster = (reporting: KubeNodeReporting) => Effect.suspend(() => {
  const host = process.env["KUBERNETES_SERVICE_HOST"]
  const port = process.env["KUBERNETES_SERVICE_PORT"]
  if (host === undefined || host === "" || port === undefined || port === "") {
    return Effect.fail(
      new KubeError({
        operation: "loadConfig",
        status: 0,
        message: "not running in a Kubernetes pod ($KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT are not set): " +
          "there is no API server to ask"
      })
    )
  }
  return make({
    ...reporting,
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tokenFile: IN_CLUSTER_TOKEN_FILE,
    caFile: IN_CLUSTER_CA_FILE
  })
})

/**
 * The node plugin's Kubernetes API client: a few REST calls over node:https, so that the plugin,
 * which runs on every node, does not load @kubernetes/client-node (~90 MB resident).
 */
export const KubeNodeLive = {
  /**
   * In a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, with the service
   * account's token and CA; Events reported by the default driver name from the hostname. Fails
   * with a KubeError (status 0) outside a pod.
   */
  layer: Layer.effect(KubeNode, inCluster({})) satisfies Layer.Layer<KubeNode, KubeError>,
  /** `layer`, with Events reported by the driver's name (`--driver-name`) from the node (`--node-id`). */
  layerInCluster: (reporting: KubeNodeReporting): Layer.Layer<KubeNode, KubeError> =>
    Layer.effect(KubeNode, inCluster(reporting)),
  /** A given API server, e.g. a test's fake on loopback. */
  layerWith: (options: KubeNodeLiveOptions): Layer.Layer<KubeNode, KubeError> => Layer.effect(KubeNode, make(options))
} as const
