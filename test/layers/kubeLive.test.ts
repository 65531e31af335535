import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Kube, type KubeError } from "../../layers/kube/Kube.js"
import { type KubeConfigOptions, KubeLive } from "../../layers/kube/KubeLive.js"
import { fakeKubeApiServer, type FakeKubeApiServer, type Reply, type SeenRequest, statusJson, waitFor } from "../support/fakeKubeApiServer.js"

/** PVCs by `<namespace>/<name>`, with their uids. */
const claims: Readonly<Record<string, string>> = { "apps/claim-1": "6f1a2b3c-0000-4000-8000-000000000001" }

/** Secrets by `<namespace>/<name>`, their data as the API server holds it (base64). */
const secrets: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "kube-system/azure-cloud-provider": {
    "cloud-config": Buffer.from(`{"subscriptionId":"sub-1","location":"eastus"}`).toString("base64"),
    "empty": ""
  },
  "kube-system/no-data": {}
}

const FORBIDDEN_NAMESPACE = "locked"

/**
 * A fake of the API server's routes the controller uses: PVCs and Secrets (GET), Events (POST,
 * answered with the Event and a generated name). Namespace `locked` is 403 everywhere; Secret
 * `slow` is never answered.
 */
const route = ({ method, url, body }: SeenRequest): Reply => {
  const path = url.split("?")[0] ?? ""
  const parts = path.split("/").slice(1).map(decodeURIComponent)
  const forbidden = (resource: string, name: string) =>
    [
      403,
      statusJson(
        403,
        "Forbidden",
        `${resource} "${name}" is forbidden: User "system:serviceaccount:kube-system:csi-azurelustre-controller-sa" cannot ${
          method === "POST" ? "create" : "get"
        } resource "${resource}"`,
        { name, kind: resource }
      )
    ] as const
  const notFound = (resource: string, name: string) =>
    [404, statusJson(404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource })] as const
  // GET /api/v1/namespaces/<ns>/<resource>/<name>
  if (method === "GET" && parts.length === 6 && parts[0] === "api" && parts[2] === "namespaces") {
    const [namespace = "", resource = "", name = ""] = parts.slice(3)
    if (namespace === FORBIDDEN_NAMESPACE) return forbidden(resource, name)
    if (resource === "secrets" && name === "slow") return "hang"
    const key = `${namespace}/${name}`
    if (resource === "persistentvolumeclaims" && key in claims) {
      return [200, {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name, namespace, uid: claims[key] },
        spec: {},
        status: {}
      }]
    }
    const secret = secrets[key]
    if (resource === "secrets" && secret !== undefined) {
      return [200, { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, type: "Opaque", data: secret }]
    }
    return notFound(resource, name)
  }
  // POST /apis/events.k8s.io/v1/namespaces/<ns>/events
  if (method === "POST" && parts.length === 6 && parts[0] === "apis" && parts[1] === "events.k8s.io" && parts[5] === "events") {
    const namespace = parts[4] ?? ""
    if (namespace === FORBIDDEN_NAMESPACE) return forbidden("events", "")
    const event = JSON.parse(body) as { metadata?: { generateName?: string } }
    return [201, {
      ...event,
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { ...event.metadata, name: `${event.metadata?.generateName ?? ""}x7k2p`, namespace }
    }]
  }
  return [405, statusJson(405, "MethodNotAllowed", "no", { name: "", kind: "" })]
}

/** A real HTTP server on loopback that answers like the API server, closed with the scope. */
const fakeApiServer = fakeKubeApiServer(route)

const configFor = (server: string, token = "t"): KubeConfigOptions => ({
  clusters: [{ name: "c", server, skipTLSVerify: true }],
  users: [{ name: "u", token }],
  contexts: [{ name: "x", cluster: "c", user: "u" }],
  currentContext: "x"
})

/** Runs `program` against a fresh fake API server, with KubeLive pointed at it. */
const withApiServer = <A, E>(
  program: (server: FakeKubeApiServer) => Effect.Effect<A, E, Kube>,
  layer: (server: FakeKubeApiServer) => Layer.Layer<Kube, KubeError> = (server) => KubeLive.layerFromConfig(configFor(server.url))
) =>
  Effect.gen(function*() {
    const server = yield* fakeApiServer
    return yield* program(server).pipe(Effect.provide(layer(server)))
  })

const readSecret = (namespace: string, name: string) =>
  Effect.gen(function*() {
    return yield* (yield* Kube).readSecret(namespace, name)
  })

describe("KubeLive against a fake API server", () => {
  it.live("a call the API server does not answer times out, and its HTTP request is cancelled", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          const failed = yield* Effect.flip(readSecret("kube-system", "slow"))
          assert.strictEqual(failed.status, 0)
          assert.match(
            failed.message,
            /^readSecret secret kube-system\/slow: the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+ did not answer within/
          )
          assert.isTrue(failed.retryable)
          yield* Effect.promise(() => waitFor(() => server.abandoned.length === 1))
          assert.deepStrictEqual(server.abandoned, ["/api/v1/namespaces/kube-system/secrets/slow"])
        }),
      (server) => KubeLive.layerFromConfig(configFor(server.url), { requestTimeout: "200 millis" })
    ))

  it.live("an API server nobody listens on is a retryable KubeError with status 0", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.scoped(fakeApiServer)
      const failed = yield* Effect.flip(
        readSecret("kube-system", "azure-cloud-provider").pipe(
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
        const secret = yield* readSecret("kube-system", "azure-cloud-provider").pipe(
          Effect.provide(KubeLive.layer)
        )
        assert.isTrue(Option.isSome(secret))
        assert.deepStrictEqual(server.seen.map((seen) => seen.authorization), ["Bearer from-kubeconfig"])
      })
  )
})

interface SentEvent {
  readonly metadata: { readonly generateName?: string; readonly name?: string; readonly namespace?: string }
  readonly eventTime: string
  readonly reportingController: string
  readonly reportingInstance: string
  readonly action: string
  readonly reason: string
  readonly type: string
  readonly note: string
  readonly regarding: Readonly<Record<string, string>>
}

const sentEvents = (server: FakeKubeApiServer): ReadonlyArray<SentEvent> =>
  server.seen.filter((seen) => seen.method === "POST").map((seen) => JSON.parse(seen.body) as SentEvent)

const withEventsServer = <A, E>(program: (server: FakeKubeApiServer) => Effect.Effect<A, E, Kube>) =>
  withApiServer(program, (server) => KubeLive.layerFromConfig(configFor(server.url), { reportingInstance: "csi-azurelustre-controller-7d9f-abcde" }))

describe("KubeLive Events (events.k8s.io/v1)", () => {
  it.live("records an Event about a PVC: the path, every field, and eventTime with microseconds", () =>
    withEventsServer((server) =>
      Effect.gen(function*() {
        const before = Date.now()
        yield* (yield* Kube).recordEvent({
          regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: "given-uid" },
          type: "Normal",
          reason: "ProvisioningInProgress",
          action: "CreateVolume",
          note: "AMLFS pvc-1234 is Creating (4 min)"
        })
        assert.deepStrictEqual(server.seen.map(({ method, url }) => `${method} ${url}`), [
          "POST /apis/events.k8s.io/v1/namespaces/apps/events"
        ])
        assert.include(server.seen[0]?.contentType ?? "", "application/json")
        const [event] = sentEvents(server)
        assert.isDefined(event)
        if (event === undefined) return
        assert.deepStrictEqual(event.metadata, { generateName: "claim-1.", namespace: "apps" })
        assert.strictEqual(event.reportingController, "azurelustre.csi.azure.com")
        assert.strictEqual(event.reportingInstance, "csi-azurelustre-controller-7d9f-abcde")
        assert.strictEqual(event.type, "Normal")
        assert.strictEqual(event.reason, "ProvisioningInProgress")
        assert.strictEqual(event.action, "CreateVolume")
        assert.strictEqual(event.note, "AMLFS pvc-1234 is Creating (4 min)")
        assert.deepStrictEqual(event.regarding, {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          namespace: "apps",
          name: "claim-1",
          uid: "given-uid"
        })
        // The API server's MicroTime: RFC 3339 with exactly 6 fractional digits.
        assert.match(event.eventTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
        const sentAt = Date.parse(event.eventTime)
        assert.isTrue(sentAt >= before - 1 && sentAt <= Date.now() + 1, `eventTime ${event.eventTime} is now`)
      })
    ))

  it.live("reports Events as the driver it runs as (reportingController from --driver-name), with the Event's own action", () =>
    withApiServer(
      (server) =>
        Effect.gen(function*() {
          yield* (yield* Kube).recordEvent({
            regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: "u" },
            type: "Normal",
            reason: "ExpansionStarted",
            action: "Expanding",
            note: "expanding"
          })
          const [event] = sentEvents(server)
          assert.deepStrictEqual([event?.reportingController, event?.action], ["lustre.example.com", "Expanding"])
        }),
      (server) => KubeLive.layerFromConfig(configFor(server.url), { reportingController: "lustre.example.com" })
    ))

  it.live("without a uid, looks the PVC up so that `kubectl describe pvc` shows the Event", () =>
    withEventsServer((server) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        yield* kube.recordEvent({
          regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1" },
          type: "Warning",
          reason: "ProvisioningFailed",
          action: "CreateVolume",
          note: "AMLFS pvc-1234 ended Failed"
        })
        // A PVC that cannot be read (gone already) still gets its Event, without a uid.
        yield* kube.recordEvent({
          regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "gone" },
          type: "Normal",
          reason: "Deleted",
          action: "DeleteVolume",
          note: "deleted"
        })
        assert.deepStrictEqual(server.seen.map(({ method, url }) => `${method} ${url}`), [
          "GET /api/v1/namespaces/apps/persistentvolumeclaims/claim-1",
          "POST /apis/events.k8s.io/v1/namespaces/apps/events",
          "GET /api/v1/namespaces/apps/persistentvolumeclaims/gone",
          "POST /apis/events.k8s.io/v1/namespaces/apps/events"
        ])
        const [failed, deleted] = sentEvents(server)
        assert.strictEqual(failed?.regarding["uid"], "6f1a2b3c-0000-4000-8000-000000000001")
        assert.strictEqual(failed?.type, "Warning")
        assert.deepStrictEqual(deleted?.regarding, {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          namespace: "apps",
          name: "gone"
        })
      })
    ))

  it.live("a note over 1 KiB is cut to 1024 bytes of UTF-8, never inside a character", () =>
    withEventsServer((server) =>
      Effect.gen(function*() {
        const note = "é".repeat(700) // 1400 bytes
        yield* (yield* Kube).recordEvent({
          regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: "u" },
          type: "Normal",
          reason: "ProvisioningInProgress",
          action: "CreateVolume",
          note
        })
        const sent = sentEvents(server)[0]?.note ?? ""
        assert.isAtMost(Buffer.byteLength(sent, "utf8"), 1024)
        assert.isAbove(Buffer.byteLength(sent, "utf8"), 1018)
        assert.isTrue(sent.endsWith("..."))
        assert.isTrue(note.startsWith(sent.slice(0, -3)))
      })
    ))

  it.live("a refused Event is a KubeError that points at the ClusterRole", () =>
    withEventsServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* Kube).recordEvent({
          regarding: { kind: "PersistentVolumeClaim", namespace: FORBIDDEN_NAMESPACE, name: "claim-1", uid: "u" },
          type: "Normal",
          reason: "ProvisioningInProgress",
          action: "CreateVolume",
          note: "n"
        }))
        assert.strictEqual(failed.operation, "createEvent")
        assert.strictEqual(failed.status, 403)
        assert.include(failed.message, "may not create events (events.k8s.io): check its ClusterRole")
        assert.include(failed.message, `cannot create resource "events"`)
      })
    ))

  it.live("reportingInstance defaults to $POD_NAME", () =>
    Effect.gen(function*() {
      const previous = process.env["POD_NAME"]
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.env["POD_NAME"] = "csi-azurelustre-controller-0"
        }),
        () =>
          Effect.sync(() => {
            if (previous === undefined) delete process.env["POD_NAME"]
            else process.env["POD_NAME"] = previous
          })
      )
      yield* withApiServer((server) =>
        Effect.gen(function*() {
          yield* (yield* Kube).recordEvent({
            regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1", uid: "u" },
            type: "Normal",
            reason: "R",
            action: "A",
            note: "n"
          })
          assert.strictEqual(sentEvents(server)[0]?.reportingInstance, "csi-azurelustre-controller-0")
        })
      )
    }))
})

describe("KubeLive Secrets", () => {
  it.live("reads a Secret's data, decoded from base64, with the user's token as a bearer token", () =>
    withApiServer((server) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const secret = yield* kube.readSecret("kube-system", "azure-cloud-provider")
        assert.deepStrictEqual(Option.getOrUndefined(secret), {
          "cloud-config": `{"subscriptionId":"sub-1","location":"eastus"}`,
          "empty": ""
        })
        assert.deepStrictEqual(Option.getOrUndefined(yield* kube.readSecret("kube-system", "no-data")), {})
        assert.deepStrictEqual(server.seen.map(({ method, url }) => `${method} ${url}`), [
          "GET /api/v1/namespaces/kube-system/secrets/azure-cloud-provider",
          "GET /api/v1/namespaces/kube-system/secrets/no-data"
        ])
        assert.deepStrictEqual(server.seen.map((seen) => seen.authorization), ["Bearer t", "Bearer t"])
      })
    ))

  it.live("an absent Secret is Option.none, not an error", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        assert.isTrue(Option.isNone(yield* (yield* Kube).readSecret("kube-system", "nothing-here")))
      })
    ))

  it.live("a Secret the driver may not read is a KubeError naming it", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip((yield* Kube).readSecret(FORBIDDEN_NAMESPACE, "azure-cloud-provider"))
        assert.strictEqual(failed.operation, "readSecret")
        assert.strictEqual(failed.status, 403)
        assert.include(failed.message, `readSecret secret ${FORBIDDEN_NAMESPACE}/azure-cloud-provider`)
        assert.include(failed.message, "may not read secrets: check its ClusterRole")
      })
    ))
})
