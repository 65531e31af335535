import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Kube, type KubeError } from "../../layers/kube/Kube.js"
import { type KubeConfigOptions, KubeLive } from "../../layers/kube/KubeLive.js"

interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
}

interface FakeApiServer {
  readonly url: string
  /** Every request, in order. */
  readonly seen: Array<SeenRequest>
  /** URLs of requests the client gave up on before they were answered. */
  readonly abandoned: Array<string>
}

const nodeJson = (name: string, labels: Readonly<Record<string, string>> | undefined) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, uid: `uid-${name}`, resourceVersion: "1", ...(labels === undefined ? {} : { labels }) },
  spec: {},
  status: {}
})

const statusJson = (code: number, reason: string, message: string, name: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  details: { name, kind: "nodes" },
  code
})

const nodes: Readonly<Record<string, Readonly<Record<string, string>> | undefined>> = {
  "worker-1": { "kubernetes.io/hostname": "worker-1", "topology.kubernetes.io/zone": "eastus-2" },
  "bare": undefined
}

/** GET /api/v1/nodes/<name>: a Node, 403 for `forbidden`, no answer at all for `slow`, else 404. */
const handle = (server: FakeApiServer) => (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  const url = request.url ?? ""
  server.seen.push({ method: request.method ?? "", url, authorization: request.headers.authorization })
  const send = (code: number, body: unknown) => {
    response.writeHead(code, { "content-type": "application/json" })
    response.end(JSON.stringify(body))
  }
  const match = /^\/api\/v1\/nodes\/([^/?]+)/.exec(url)
  const name = match?.[1] === undefined ? undefined : decodeURIComponent(match[1])
  if (request.method !== "GET" || name === undefined) return send(405, statusJson(405, "MethodNotAllowed", "no", ""))
  if (name === "slow") {
    response.on("close", () => {
      if (!response.writableEnded) server.abandoned.push(url)
    })
    return
  }
  if (name === "forbidden") {
    return send(
      403,
      statusJson(
        403,
        "Forbidden",
        `nodes "forbidden" is forbidden: User "system:serviceaccount:kube-system:csi-azurelustre-node-sa" cannot get resource "nodes" in API group "" at the cluster scope`,
        name
      )
    )
  }
  if (name in nodes) return send(200, nodeJson(name, nodes[name]))
  return send(404, statusJson(404, "NotFound", `nodes "${name}" not found`, name))
}

/** A real HTTP server on loopback that answers like the API server, closed with the scope. */
const fakeApiServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly api: FakeApiServer; readonly http: Http.Server }>((resolve) => {
      const api: { url: string; seen: Array<SeenRequest>; abandoned: Array<string> } = { url: "", seen: [], abandoned: [] }
      const http = Http.createServer(handle(api))
      http.listen(0, "127.0.0.1", () => {
        api.url = `http://127.0.0.1:${(http.address() as Net.AddressInfo).port}`
        resolve({ api, http })
      })
    })
  ),
  ({ http }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      })
    )
).pipe(Effect.map(({ api }) => api))

const configFor = (server: string, token = "t"): KubeConfigOptions => ({
  clusters: [{ name: "c", server, skipTLSVerify: true }],
  users: [{ name: "u", token }],
  contexts: [{ name: "x", cluster: "c", user: "u" }],
  currentContext: "x"
})

/** Runs `program` against a fresh fake API server, with KubeLive pointed at it. */
const withApiServer = <A, E>(
  program: (server: FakeApiServer) => Effect.Effect<A, E, Kube>,
  layer: (server: FakeApiServer) => Layer.Layer<Kube, KubeError> = (server) => KubeLive.layerFromConfig(configFor(server.url))
) =>
  Effect.gen(function*() {
    const server = yield* fakeApiServer
    return yield* program(server).pipe(Effect.provide(layer(server)))
  })

const readNodeLabels = (nodeName: string) =>
  Effect.gen(function*() {
    return yield* (yield* Kube).readNodeLabels(nodeName)
  })

describe("KubeLive against a fake API server", () => {
  it.live("reads a node's labels, with the user's token as a bearer token", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        assert.deepStrictEqual(yield* kube.readNodeLabels("worker-1"), {
          "kubernetes.io/hostname": "worker-1",
          "topology.kubernetes.io/zone": "eastus-2"
        })
        assert.deepStrictEqual(yield* kube.readNodeLabels("bare"), {})
        assert.deepStrictEqual(server.seen.map(({ method, url }) => `${method} ${url}`), [
          "GET /api/v1/nodes/worker-1",
          "GET /api/v1/nodes/bare"
        ])
        assert.deepStrictEqual(server.seen.map((seen) => seen.authorization), ["Bearer t", "Bearer t"])
      })
    ))

  it.live("404 is a KubeError naming the node", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* Kube).readNodeLabels("ghost"))
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
        const failed = yield* Effect.flip((yield* Kube).readNodeLabels("forbidden"))
        assert.strictEqual(failed.status, 403)
        assert.include(failed.message, "the driver's service account may not read nodes: check its ClusterRole")
        assert.include(failed.message, `cannot get resource "nodes"`)
        assert.isFalse(failed.retryable)
      })
    ))

  it.live("a call the API server does not answer times out, and its HTTP request is cancelled", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const failed = yield* Effect.flip((yield* Kube).readNodeLabels("slow"))
          assert.strictEqual(failed.status, 0)
          assert.match(failed.message, /^readNode node slow: the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+ did not answer within/)
          assert.isTrue(failed.retryable)
          yield* Effect.promise(() => waitFor(() => server.abandoned.length === 1))
          assert.deepStrictEqual(server.abandoned, ["/api/v1/nodes/slow"])
        }),
      (server) => KubeLive.layerFromConfig(configFor(server.url), { requestTimeout: "200 millis" })
    ))

  it.live("an API server nobody listens on is a retryable KubeError with status 0", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.scoped(fakeApiServer)
      const failed = yield* Effect.flip(
        readNodeLabels("worker-1").pipe(
          Effect.provide(KubeLive.layerFromConfig(configFor(closed.url)))
        )
      )
      assert.strictEqual(failed.status, 0)
      assert.include(failed.message, `cannot reach the Kubernetes API server at ${closed.url}`)
      assert.include(failed.message, "ECONNREFUSED")
      assert.isTrue(failed.retryable)
    }))

  it.live.skipIf(process.env["KUBERNETES_SERVICE_HOST"] !== undefined)(
    "KubeLive.layer, outside a cluster, reads $KUBECONFIG",
    () =>
      Effect.gen(function*() {
        const server = yield* fakeApiServer
        const dir = yield* Effect.acquireRelease(
          Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "kubeconfig-test-"))),
          (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
        )
        const file = Path.join(dir, "config")
        yield* Effect.promise(() =>
          Fs.writeFile(
            file,
            JSON.stringify({
              apiVersion: "v1",
              kind: "Config",
              clusters: [{ name: "c", cluster: { server: server.url, "insecure-skip-tls-verify": true } }],
              users: [{ name: "u", user: { token: "from-kubeconfig" } }],
              contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
              "current-context": "x"
            })
          )
        )
        const previous = process.env["KUBECONFIG"]
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            process.env["KUBECONFIG"] = file
          }),
          () =>
            Effect.sync(() => {
              if (previous === undefined) delete process.env["KUBECONFIG"]
              else process.env["KUBECONFIG"] = previous
            })
        )
        const labels = yield* readNodeLabels("worker-1").pipe(
          Effect.provide(KubeLive.layer)
        )
        assert.strictEqual(labels["topology.kubernetes.io/zone"], "eastus-2")
        assert.deepStrictEqual(server.seen.map((seen) => seen.authorization), ["Bearer from-kubeconfig"])
      })
  )
})

const waitFor = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
}
