import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, type Layer, Option, Schema, type Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Util from "node:util"
import { microTime } from "../../layers/kube/eventsV1.js"
import { type KubeError, type KubeEvent, truncateNote } from "../../layers/kube/Kube.js"
import { KubeNode } from "../../layers/kube/KubeNode.js"
import { KubeNodeLive } from "../../layers/kube/KubeNodeLive.js"
import { fakeKubeApiServer, type FakeKubeApiServer, type Reply, type SeenRequest, statusJson, waitFor } from "../support/fakeKubeApiServer.js"

const STARTUP = "azurelustre.csi.azure.com/agent-not-ready"
const DRIVER = "azurelustre.csi.azure.com"

/** A self-signed certificate for 127.0.0.1 (valid 2000-2100), its own CA. */
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBZjCCAQygAwIBAgIBATAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5mYWtlLWFw
aXNlcnZlcjAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowGTEXMBUG
A1UEAwwOZmFrZS1hcGlzZXJ2ZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATi
lvSuJqcm5QX7VJcAJcDaptf3beb1m0/KYuPfYh87Ll6Br3PYWRDONlGo37k92Vuh
FJtC36tEMD8FQqKOAZAHo0MwQTAPBgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaH
BH8AAAEwHQYDVR0OBBYEFKJrQ4ptXKSQAAGLFGWw2cET0kN/MAoGCCqGSM49BAMC
A0gAMEUCIQDFyyjMdUuxrboUqKMheKyVjZQwgOvTfPSNAhAWd9R7RwIgE66gqfia
mATsBkCAWgkRcSDBQ8mb9/nEjztylghtDK0=
-----END CERTIFICATE-----
`
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnfdc5oIZ788yELdx
H2uDdG7hLkoUd+zvPs8PpB8TdRehRANCAATilvSuJqcm5QX7VJcAJcDaptf3beb1
m0/KYuPfYh87Ll6Br3PYWRDONlGo37k92VuhFJtC36tEMD8FQqKOAZAH
-----END PRIVATE KEY-----
`

interface FakeNode {
  labels?: Record<string, string>
  taints?: Array<unknown>
}

/** What the fake API server holds. */
interface ClusterState {
  /** The Nodes as the server holds them; PATCH changes them. */
  readonly nodes: Map<string, FakeNode>
  /** The drivers of each CSINode (`null` as Go serialises an empty list); no entry: no CSINode. */
  readonly csiNodes: Map<string, Array<string> | null>
  /** The uids of the PVCs and Pods, by `<resource>/<namespace>/<name>`. */
  readonly uids: Map<string, string>
}

type FakeApiServer = FakeKubeApiServer & ClusterState

const NO_EXECUTE_ADDED = "2026-03-01T10:00:00Z"

const initialNodes = (): Map<string, FakeNode> =>
  new Map<string, FakeNode>([
    ["worker-1", {
      labels: { "kubernetes.io/hostname": "worker-1", "topology.kubernetes.io/zone": "eastus-2" },
      taints: [
        { key: STARTUP, effect: "NoSchedule" },
        { key: "sku", value: "gpu", effect: "NoSchedule" },
        { key: STARTUP, value: "true", effect: "NoExecute", timeAdded: NO_EXECUTE_ADDED },
        { key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: NO_EXECUTE_ADDED }
      ]
    }],
    ["bare", {}],
    ["only-startup", { taints: [{ key: STARTUP, effect: "NoSchedule" }] }],
    // Another writer changes its taints right after the driver reads them.
    ["racing", { taints: [{ key: STARTUP, effect: "NoSchedule" }] }],
    ["patch-forbidden", { taints: [{ key: STARTUP, effect: "NoSchedule" }] }]
  ])

const forbidden = (verb: string, resource: string, name: string, group: string) =>
  [
    403,
    statusJson(
      403,
      "Forbidden",
      `${resource} "${name}" is forbidden: User "system:serviceaccount:kube-system:csi-azurelustre-node-sa" cannot ${verb} resource "${resource}" in API group "${group}" at the cluster scope`
    )
  ] as const

const PatchOperation = Schema.Struct({ op: Schema.String, path: Schema.String, value: Schema.optionalKey(Schema.Unknown) })
type PatchOperation = typeof PatchOperation.Type
const decodePatch = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Array(PatchOperation)))

/** A request's JSON body, to compare with what it should be. */
const sentJson = (body: string | undefined): unknown => JSON.parse(body ?? "null")

/** Field `key` of a JSON object sent. */
const at = (json: unknown, key: string): unknown =>
  json !== null && typeof json === "object" && key in json ? (json as Record<string, unknown>)[key] : undefined

/** RFC 6902 as the API server applies it, for the one path the driver patches: all or nothing. */
const applyTaintPatch = (node: FakeNode, operations: ReadonlyArray<PatchOperation>): string | undefined => {
  let taints = node.taints
  for (const { op, path, value } of operations) {
    if (path !== "/spec/taints") return `unsupported path ${path}`
    if (op === "test") {
      if (!Util.isDeepStrictEqual(taints, value)) return "testing value /spec/taints failed: test failed"
    } else if (op === "replace" && Array.isArray(value)) {
      taints = value
    } else if (op === "remove") {
      taints = undefined
    } else {
      return `unsupported operation ${op}`
    }
  }
  if (taints === undefined) delete node.taints
  else node.taints = taints
  return undefined
}

const CLAIM_UID = "6f1a2b3c-0000-4000-8000-000000000001"
const POD_UID = "0c9d8e7f-0000-4000-8000-000000000002"
/** A namespace where every object and Event is refused (403). */
const LOCKED = "locked"

/**
 * GET of a PVC or Pod (`/api/v1/namespaces/<ns>/<resource>/<name>`): its uid from `uids`. Name
 * `forbidden` and namespace `locked` are 403, name `garbled` answers a uid that is not a string,
 * name `slow` is never answered.
 */
const routeNamespacedObject = (server: ClusterState, resource: string, namespace: string, name: string): Reply => {
  const kind = resource === "pods" ? "Pod" : "PersistentVolumeClaim"
  if (name === "slow") return "hang"
  if (name === "forbidden" || namespace === LOCKED) return forbidden("get", resource, name, "")
  if (name === "garbled") return [200, { apiVersion: "v1", kind, metadata: { name, namespace, uid: 7 } }]
  const uid = server.uids.get(`${resource}/${namespace}/${name}`)
  if (uid === undefined) return [404, statusJson(404, "NotFound", `${resource} "${name}" not found`)]
  return [200, { apiVersion: "v1", kind, metadata: { name, namespace, uid }, spec: {}, status: {} }]
}

/** POST of an Event: answered with it, named from its generateName, as the API server does. */
const routeEvent = (namespace: string, contentType: string | undefined, body: string): Reply => {
  if (namespace === LOCKED) return forbidden("create", "events", "", "events.k8s.io")
  if (contentType !== "application/json") return [415, statusJson(415, "UnsupportedMediaType", "not JSON")]
  const event = JSON.parse(body) as { metadata?: { generateName?: string } }
  return [201, {
    ...event,
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { ...event.metadata, name: `${event.metadata?.generateName ?? ""}x7k2p`, namespace }
  }]
}

const route = (server: ClusterState, { method, url, contentType, body }: SeenRequest): Reply => {
  const parts = (url.split("?")[0] ?? "").split("/").slice(1).map(decodeURIComponent)
  const name = parts.at(-1) ?? ""
  if (method === "GET" && parts.length === 6 && parts[0] === "api" && parts[2] === "namespaces") {
    const [namespace = "", resource = ""] = parts.slice(3)
    if (resource === "persistentvolumeclaims" || resource === "pods") return routeNamespacedObject(server, resource, namespace, name)
  }
  if (method === "POST" && parts.length === 6 && parts[1] === "events.k8s.io" && parts[3] === "namespaces" && name === "events") {
    return routeEvent(parts[4] ?? "", contentType, body)
  }
  const isNode = parts.length === 4 && parts[0] === "api" && parts[1] === "v1" && parts[2] === "nodes"
  const isCsiNode = parts.length === 5 && parts[0] === "apis" && parts[1] === "storage.k8s.io" && parts[3] === "csinodes"
  if (method === "GET" && isNode) {
    if (name === "slow") return "hang"
    if (name === "forbidden") return forbidden("get", "nodes", name, "")
    if (name === "garbled") return [200, { kind: "Node", metadata: { name, labels: "zone=eastus-2" } }]
    const node = server.nodes.get(name)
    if (node === undefined) return [404, statusJson(404, "NotFound", `nodes "${name}" not found`)]
    const answer = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, resourceVersion: "7", ...(node.labels === undefined ? {} : { labels: node.labels }) },
      spec: node.taints === undefined ? {} : { taints: node.taints },
      status: {}
    }
    if (name === "racing") node.taints = [...(node.taints ?? []), { key: "other-writer", effect: "NoSchedule" }]
    return [200, answer]
  }
  if (method === "PATCH" && isNode) {
    if (name === "patch-forbidden") return forbidden("patch", "nodes", name, "")
    if (contentType !== "application/json-patch+json") {
      return [415, statusJson(415, "UnsupportedMediaType", `the body of the request was in an unknown format`)]
    }
    const node = server.nodes.get(name)
    if (node === undefined) return [404, statusJson(404, "NotFound", `nodes "${name}" not found`)]
    const operations = decodePatch(body)
    if (Option.isNone(operations)) return [400, statusJson(400, "BadRequest", "not a JSON patch")]
    const failed = applyTaintPatch(node, operations.value)
    if (failed !== undefined) return [422, statusJson(422, "Invalid", failed)]
    return [200, { apiVersion: "v1", kind: "Node", metadata: { name }, spec: { taints: node.taints } }]
  }
  if (method === "GET" && isCsiNode) {
    if (name === "forbidden") return forbidden("get", "csinodes", name, "storage.k8s.io")
    const drivers = server.csiNodes.get(name)
    if (drivers === undefined) return [404, statusJson(404, "NotFound", `csinodes.storage.k8s.io "${name}" not found`)]
    return [200, {
      apiVersion: "storage.k8s.io/v1",
      kind: "CSINode",
      metadata: { name },
      spec: { drivers: drivers === null ? null : drivers.map((driver) => ({ name: driver, nodeID: name, topologyKeys: null })) }
    }]
  }
  return [405, statusJson(405, "MethodNotAllowed", "no")]
}

/** A real HTTP(S) server on loopback that answers like the API server, closed with the scope. */
const fakeApiServer = (tls = false): Effect.Effect<FakeApiServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state: ClusterState = {
      nodes: initialNodes(),
      csiNodes: new Map([["worker-1", [DRIVER, "disk.csi.azure.com"]], ["empty", null]]),
      uids: new Map([["persistentvolumeclaims/apps/claim-1", CLAIM_UID], ["pods/apps/web-0", POD_UID]])
    }
    const server = yield* fakeKubeApiServer((request) => route(state, request), tls ? { cert: TLS_CERT, key: TLS_KEY } : undefined)
    return { ...server, ...state }
  })

/** A scratch directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "kube-node-test-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const writeFile = (file: string, text: string) => Effect.promise(() => Fs.writeFile(file, text))

/** Runs `program` against a fresh fake API server, with KubeNodeLive pointed at it. */
const withApiServer = <A, E>(
  program: (server: FakeApiServer) => Effect.Effect<A, E, KubeNode>,
  layer: (server: FakeApiServer) => Layer.Layer<KubeNode, KubeError> = (server) => KubeNodeLive.layerWith({ server: server.url })
) =>
  Effect.gen(function*() {
    const server = yield* fakeApiServer()
    return yield* program(server).pipe(Effect.provide(layer(server)))
  })

const requests = (server: FakeApiServer) => server.seen.map(({ method, url }) => `${method} ${url}`)

/** Sets (or, with undefined, unsets) environment variables for the scope. */
const withEnv = (values: Readonly<Record<string, string | undefined>>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]))
      for (const [name, value] of Object.entries(values)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return previous
    }),
    (previous) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

describe("KubeNodeLive: Node labels", () => {
  it.live("reads a node's labels; {} when it has none; the name is one path segment", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const kube = yield* KubeNode
        assert.deepStrictEqual(yield* kube.readNodeLabels("worker-1"), {
          "kubernetes.io/hostname": "worker-1",
          "topology.kubernetes.io/zone": "eastus-2"
        })
        assert.deepStrictEqual(yield* kube.readNodeLabels("bare"), {})
        assert.strictEqual((yield* Effect.flip(kube.readNodeLabels("a/b"))).status, 404)
        assert.deepStrictEqual(requests(server), [
          "GET /api/v1/nodes/worker-1",
          "GET /api/v1/nodes/bare",
          "GET /api/v1/nodes/a%2Fb"
        ])
        assert.deepStrictEqual(server.seen.map((seen) => seen.authorization), [undefined, undefined, undefined])
      })
    ))

  it.live("404 is a KubeError naming the node", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).readNodeLabels("ghost"))
        assert.strictEqual(failed._tag, "KubeError")
        assert.strictEqual(failed.operation, "readNode")
        assert.strictEqual(failed.status, 404)
        assert.strictEqual(failed.message, "node ghost not found")
        assert.isFalse(failed.retryable)
      })
    ))

  it.live("403 is a KubeError that points at the ClusterRole, with the API server's reason", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).readNodeLabels("forbidden"))
        assert.strictEqual(failed.status, 403)
        assert.include(failed.message, "readNode node forbidden: the driver's service account may not read nodes: check its ClusterRole")
        assert.include(failed.message, `cannot get resource "nodes"`)
        assert.isFalse(failed.retryable)
      })
    ))

  it.live("an answer that is not a Node is a KubeError with its status, not retried", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).readNodeLabels("garbled"))
        assert.strictEqual(failed.operation, "readNode")
        assert.strictEqual(failed.status, 200)
        assert.include(failed.message, "readNode node garbled: the API server's answer is not a Node")
        assert.isFalse(failed.retryable)
      })
    ))
})

describe("KubeNodeLive: CSINode drivers", () => {
  it.live("the names in spec.drivers; [] for no CSINode (404) and for a null list", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const kube = yield* KubeNode
        assert.deepStrictEqual(yield* kube.readCsiNodeDrivers("worker-1"), [DRIVER, "disk.csi.azure.com"])
        assert.deepStrictEqual(yield* kube.readCsiNodeDrivers("new-node"), [])
        assert.deepStrictEqual(yield* kube.readCsiNodeDrivers("empty"), [])
        assert.deepStrictEqual(requests(server), [
          "GET /apis/storage.k8s.io/v1/csinodes/worker-1",
          "GET /apis/storage.k8s.io/v1/csinodes/new-node",
          "GET /apis/storage.k8s.io/v1/csinodes/empty"
        ])
      })
    ))

  it.live("403 names the ClusterRole permission", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).readCsiNodeDrivers("forbidden"))
        assert.strictEqual(failed.operation, "readCSINode")
        assert.strictEqual(failed.status, 403)
        assert.include(failed.message, "readCSINode csinode forbidden: the driver's service account may not read csinodes (storage.k8s.io): check its ClusterRole")
        assert.include(failed.message, `cannot get resource "csinodes"`)
      })
    ))
})

describe("KubeNodeLive: removing a taint", () => {
  it.live("removes every taint with the key, whatever its effect, with a JSON patch that tests the taints as read", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const asRead = server.nodes.get("worker-1")?.taints
        const removed = yield* (yield* KubeNode).removeNodeTaint("worker-1", STARTUP)
        assert.deepStrictEqual(removed, [
          { key: STARTUP, effect: "NoSchedule" },
          { key: STARTUP, value: "true", effect: "NoExecute" }
        ])
        assert.deepStrictEqual(requests(server), ["GET /api/v1/nodes/worker-1", "PATCH /api/v1/nodes/worker-1"])
        const patch = server.seen[1]
        assert.strictEqual(patch?.contentType, "application/json-patch+json")
        const remaining = [
          { key: "sku", value: "gpu", effect: "NoSchedule" },
          { key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: NO_EXECUTE_ADDED }
        ]
        // timeAdded is kept: without it the test op could never match a NoExecute taint.
        assert.deepStrictEqual(sentJson(patch?.body), [
          { op: "test", path: "/spec/taints", value: asRead },
          { op: "replace", path: "/spec/taints", value: remaining }
        ])
        assert.deepStrictEqual(server.nodes.get("worker-1")?.taints, remaining)
      })
    ))

  it.live("the last taint removed leaves an empty list", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* (yield* KubeNode).removeNodeTaint("only-startup", STARTUP), [{ key: STARTUP, effect: "NoSchedule" }])
        assert.deepStrictEqual(sentJson(server.seen[1]?.body), [
          { op: "test", path: "/spec/taints", value: [{ key: STARTUP, effect: "NoSchedule" }] },
          { op: "replace", path: "/spec/taints", value: [] }
        ])
        assert.deepStrictEqual(server.nodes.get("only-startup")?.taints, [])
      })
    ))

  it.live("no taint with the key: [] and no PATCH sent", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const kube = yield* KubeNode
        assert.deepStrictEqual(yield* kube.removeNodeTaint("bare", STARTUP), [])
        assert.deepStrictEqual(yield* kube.removeNodeTaint("worker-1", "no-such-key"), [])
        assert.deepStrictEqual(requests(server), ["GET /api/v1/nodes/bare", "GET /api/v1/nodes/worker-1"])
        assert.strictEqual(server.nodes.get("worker-1")?.taints?.length, 4)
      })
    ))

  it.live("taints changed since they were read: the test op fails, a KubeError with status 422, nothing overwritten", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).removeNodeTaint("racing", STARTUP))
        assert.strictEqual(failed.operation, "patchNode")
        assert.strictEqual(failed.status, 422)
        assert.include(failed.message, "testing value /spec/taints failed")
        assert.deepStrictEqual(requests(server), ["GET /api/v1/nodes/racing", "PATCH /api/v1/nodes/racing"])
        assert.deepStrictEqual(server.nodes.get("racing")?.taints, [
          { key: STARTUP, effect: "NoSchedule" },
          { key: "other-writer", effect: "NoSchedule" }
        ])
      })
    ))

  it.live("a refused PATCH (403) names the ClusterRole permission", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).removeNodeTaint("patch-forbidden", STARTUP))
        assert.strictEqual(failed.operation, "patchNode")
        assert.strictEqual(failed.status, 403)
        assert.include(failed.message, "patchNode node patch-forbidden: the driver's service account may not patch nodes: check its ClusterRole")
        assert.include(failed.message, `cannot patch resource "nodes"`)
      })
    ))

  it.live("an unknown node is a 404 from reading it; nothing is patched", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* KubeNode).removeNodeTaint("ghost", STARTUP))
        assert.strictEqual(failed.operation, "readNode")
        assert.strictEqual(failed.status, 404)
        assert.deepStrictEqual(requests(server), ["GET /api/v1/nodes/ghost"])
      })
    ))
})

const claimEvent = (overrides: Partial<KubeEvent> = {}): KubeEvent => ({
  regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1" },
  type: "Warning",
  reason: "MountFailed",
  action: "Mounting",
  note: "the MGS 10.0.0.4@tcp did not answer within 2m",
  ...overrides
})

const recordEvent = (event: KubeEvent) =>
  Effect.gen(function*() {
    return yield* (yield* KubeNode).recordEvent(event)
  })

/** The Events the fake API server was sent, as JSON. */
const sentEvents = (server: FakeApiServer) => server.seen.filter((seen) => seen.method === "POST").map((seen) => sentJson(seen.body))

/** KubeNodeLive against the fake, reporting as driver `lustre.example.com` on node `worker-1`. */
const reportingFrom = (reportingInstance = "worker-1") => (server: FakeApiServer) =>
  KubeNodeLive.layerWith({ server: server.url, reportingController: "lustre.example.com", reportingInstance })

describe("KubeNodeLive: Events", () => {
  it.effect("about a PVC: reads its uid, then POSTs the events.k8s.io/v1 Event, its time in microseconds", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(Date.parse("2026-03-01T10:00:00.123Z"))
          yield* recordEvent(claimEvent())
          assert.deepStrictEqual(requests(server), [
            "GET /api/v1/namespaces/apps/persistentvolumeclaims/claim-1",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events"
          ])
          assert.strictEqual(server.seen[1]?.contentType, "application/json")
          assert.deepStrictEqual(sentEvents(server), [{
            metadata: { generateName: "claim-1.", namespace: "apps" },
            eventTime: "2026-03-01T10:00:00.123000Z",
            reportingController: "lustre.example.com",
            reportingInstance: "worker-1",
            action: "Mounting",
            reason: "MountFailed",
            type: "Warning",
            note: "the MGS 10.0.0.4@tcp did not answer within 2m",
            regarding: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: CLAIM_UID }
          }])
        }),
      reportingFrom()
    ))

  it.live("about a Pod: reads the Pod's uid; a uid given is not looked up", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const pod = { kind: "Pod", namespace: "apps", name: "web-0" } as const
          yield* recordEvent(claimEvent({ regarding: pod, type: "Normal", reason: "Mounted" }))
          yield* recordEvent(claimEvent({ regarding: { ...pod, uid: "given-uid" } }))
          assert.deepStrictEqual(requests(server), [
            "GET /api/v1/namespaces/apps/pods/web-0",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events"
          ])
          const [first, second] = sentEvents(server)
          assert.deepStrictEqual(at(first, "regarding"), { apiVersion: "v1", kind: "Pod", namespace: "apps", name: "web-0", uid: POD_UID })
          assert.deepStrictEqual(at(first, "metadata"), { generateName: "web-0.", namespace: "apps" })
          assert.strictEqual(at(first, "type"), "Normal")
          assert.deepStrictEqual(at(second, "regarding"), { apiVersion: "v1", kind: "Pod", namespace: "apps", name: "web-0", uid: "given-uid" })
        }),
      reportingFrom()
    ))

  it.live("eventTime is the wall clock's, with microseconds", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const before = Date.now()
          yield* recordEvent(claimEvent({ regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: "u" } }))
          const eventTime = String(at(sentEvents(server)[0], "eventTime"))
          assert.match(eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
          assert.isAtLeast(Date.parse(eventTime), before)
          assert.isAtMost(Date.parse(eventTime), Date.now())
        }),
      reportingFrom()
    ))

  it.live("the note is cut to the API's 1 KiB, never inside a character; reason, action and instance to 128 characters", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const note = "€".repeat(400) // 3 bytes each: 1200 bytes
          yield* recordEvent(claimEvent({ note, reason: "R".repeat(200), action: "A".repeat(129) }))
          const sent = sentEvents(server)[0]
          const cut = String(at(sent, "note"))
          assert.strictEqual(cut, truncateNote(note))
          assert.isAtMost(Buffer.byteLength(cut, "utf8"), 1024)
          assert.isTrue(cut.endsWith("..."))
          assert.strictEqual(cut.slice(0, -3), "€".repeat(340))
          assert.strictEqual(at(sent, "reason"), "R".repeat(128))
          assert.strictEqual(at(sent, "action"), "A".repeat(128))
          assert.strictEqual(at(sent, "reportingInstance"), "n".repeat(128))
          assert.strictEqual(at(sent, "reportingController"), "lustre.example.com")
        }),
      reportingFrom("n".repeat(300))
    ))

  it.live("a uid that cannot be read (404, 403, not a string) leaves the Event without one; it is still sent", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          for (const name of ["ghost", "forbidden", "garbled"]) {
            yield* recordEvent(claimEvent({ regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name } }))
          }
          assert.deepStrictEqual(requests(server), [
            "GET /api/v1/namespaces/apps/persistentvolumeclaims/ghost",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events",
            "GET /api/v1/namespaces/apps/persistentvolumeclaims/forbidden",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events",
            "GET /api/v1/namespaces/apps/persistentvolumeclaims/garbled",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events"
          ])
          assert.deepStrictEqual(sentEvents(server).map((sent) => at(sent, "regarding")), [
            { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "apps", name: "ghost" },
            { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "apps", name: "forbidden" },
            { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "apps", name: "garbled" }
          ])
        }),
      reportingFrom()
    ))

  it.live("a uid read that gets no answer within the timeout does not hold the Event back for longer", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          yield* recordEvent(claimEvent({ regarding: { kind: "Pod", namespace: "apps", name: "slow" } }))
          assert.deepStrictEqual(requests(server), [
            "GET /api/v1/namespaces/apps/pods/slow",
            "POST /apis/events.k8s.io/v1/namespaces/apps/events"
          ])
          assert.deepStrictEqual(at(sentEvents(server)[0], "regarding"), { apiVersion: "v1", kind: "Pod", namespace: "apps", name: "slow" })
        }),
      (server) => KubeNodeLive.layerWith({ server: server.url, requestTimeout: "200 millis" })
    ))

  it.live("a refused Event is a KubeError (createEvent) that names the permission", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const failed = yield* Effect.flip(
            recordEvent(claimEvent({ regarding: { kind: "Pod", namespace: LOCKED, name: "web-0", uid: POD_UID } }))
          )
          assert.strictEqual(failed.operation, "createEvent")
          assert.strictEqual(failed.status, 403)
          assert.include(
            failed.message,
            "createEvent event about pod locked/web-0: the driver's service account may not create events (events.k8s.io): check its ClusterRole"
          )
          assert.include(failed.message, `cannot create resource "events"`)
          assert.deepStrictEqual(requests(server), ["POST /apis/events.k8s.io/v1/namespaces/locked/events"])
        }),
      reportingFrom()
    ))

  it.live("without reporting options: the default driver name, from the hostname", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        yield* recordEvent(claimEvent({ regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: "u" } }))
        const sent = sentEvents(server)[0]
        assert.strictEqual(at(sent, "reportingController"), DRIVER)
        assert.strictEqual(at(sent, "reportingInstance"), Os.hostname().slice(0, 128))
      })
    ))

  it.prop(
    "microTime: six fractional digits, the same instant",
    [Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Date.parse("2100-01-01T00:00:00Z") }))],
    ([millis]) => {
      const time = microTime(millis)
      assert.match(time, /\.\d{3}000Z$/)
      assert.strictEqual(Date.parse(time), millis)
    }
  )
})

describe("KubeNodeLive: credentials, TLS and configuration", () => {
  it.live("reads the token file at every request: a rotated token is used from the next one on", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const tokenFile = Path.join(dir, "token")
      yield* writeFile(tokenFile, "first-token\n")
      yield* withApiServer(
        (server) =>
          Effect.gen(function*() {
            const kube = yield* KubeNode
            yield* kube.readNodeLabels("worker-1")
            yield* writeFile(tokenFile, "second-token")
            yield* kube.readCsiNodeDrivers("worker-1")
            assert.deepStrictEqual(server.seen.map((seen) => seen.authorization), ["Bearer first-token", "Bearer second-token"])
          }),
        (server) => KubeNodeLive.layerWith({ server: server.url, tokenFile })
      )
    }))

  it.live("a token file that cannot be read is a KubeError with status 0 naming it; nothing is sent", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const tokenFile = Path.join(dir, "missing")
      yield* withApiServer(
        (server) =>
          Effect.gen(function*() {
            const failed = yield* Effect.flip((yield* KubeNode).readNodeLabels("worker-1"))
            assert.strictEqual(failed.status, 0)
            assert.include(failed.message, `readNode node worker-1: cannot read the service account token ${tokenFile}`)
            assert.include(failed.message, "ENOENT")
            assert.deepStrictEqual(server.seen, [])
          }),
        (server) => KubeNodeLive.layerWith({ server: server.url, tokenFile })
      )
    }))

  it.live("over HTTPS, verifies the server with the CA file; without it the server is not trusted", () =>
    Effect.gen(function*() {
      const server = yield* fakeApiServer(true)
      const dir = yield* tempDir
      const caFile = Path.join(dir, "ca.crt")
      yield* writeFile(caFile, TLS_CERT)
      const readZone = Effect.gen(function*() {
        return (yield* (yield* KubeNode).readNodeLabels("worker-1"))["topology.kubernetes.io/zone"]
      })
      assert.strictEqual(yield* readZone.pipe(Effect.provide(KubeNodeLive.layerWith({ server: server.url, caFile }))), "eastus-2")
      const untrusted = yield* Effect.flip(readZone.pipe(Effect.provide(KubeNodeLive.layerWith({ server: server.url }))))
      assert.strictEqual(untrusted.status, 0)
      assert.include(untrusted.message, `cannot reach the Kubernetes API server at ${server.url}`)
      assert.include(untrusted.message, "self-signed certificate")
      assert.deepStrictEqual(requests(server), ["GET /api/v1/nodes/worker-1"])
    }))

  it.live("a CA file that cannot be read fails the layer with status 0", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const caFile = Path.join(dir, "missing.crt")
      const failed = yield* Effect.flip(
        Effect.gen(function*() {
          return yield* (yield* KubeNode).readNodeLabels("worker-1")
        }).pipe(Effect.provide(KubeNodeLive.layerWith({ server: "https://127.0.0.1:6443", caFile })))
      )
      assert.strictEqual(failed.operation, "loadConfig")
      assert.strictEqual(failed.status, 0)
      assert.include(failed.message, `cannot read the Kubernetes API server's CA ${caFile}`)
    }))

  it.live("KubeNodeLive.layer outside a pod fails with status 0 and says why", () =>
    Effect.gen(function*() {
      yield* withEnv({ KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined })
      const failed = yield* Effect.flip(
        Effect.gen(function*() {
          return yield* (yield* KubeNode).readNodeLabels("worker-1")
        }).pipe(Effect.provide(KubeNodeLive.layer))
      )
      assert.strictEqual(failed.operation, "loadConfig")
      assert.strictEqual(failed.status, 0)
      assert.include(failed.message, "not running in a Kubernetes pod ($KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT are not set)")
    }))
})

describe("KubeNodeLive: no answer", () => {
  it.live("a call the API server does not answer times out, and its HTTP request is aborted", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const failed = yield* Effect.flip((yield* KubeNode).readNodeLabels("slow"))
          assert.strictEqual(failed.operation, "readNode")
          assert.strictEqual(failed.status, 0)
          assert.match(failed.message, /^readNode node slow: the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+ did not answer within/)
          assert.isTrue(failed.retryable)
          yield* Effect.promise(() => waitFor(() => server.abandoned.length === 1))
          assert.deepStrictEqual(server.abandoned, ["/api/v1/nodes/slow"])
        }),
      (server) => KubeNodeLive.layerWith({ server: server.url, requestTimeout: "200 millis" })
    ))

  it.live("an interrupted call aborts its HTTP request", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild((yield* KubeNode).readNodeLabels("slow"))
        yield* Effect.promise(() => waitFor(() => server.seen.length === 1))
        assert.deepStrictEqual(server.abandoned, [])
        yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => waitFor(() => server.abandoned.length === 1))
        assert.deepStrictEqual(server.abandoned, ["/api/v1/nodes/slow"])
      })
    ))

  it.live("an API server nobody listens on is a retryable KubeError with status 0 naming it", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.scoped(fakeApiServer())
      const failed = yield* Effect.flip(
        Effect.gen(function*() {
          return yield* (yield* KubeNode).readCsiNodeDrivers("worker-1")
        }).pipe(Effect.provide(KubeNodeLive.layerWith({ server: closed.url })))
      )
      assert.strictEqual(failed.operation, "readCSINode")
      assert.strictEqual(failed.status, 0)
      assert.include(failed.message, `readCSINode csinode worker-1: cannot reach the Kubernetes API server at ${closed.url}`)
      assert.include(failed.message, "ECONNREFUSED")
      assert.isTrue(failed.retryable)
    }))
})
