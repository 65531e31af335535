/**
 * Bench only: a minimal Kubernetes API server (plain HTTP on loopback, JSON) holding what the
 * controller's HSM loop and its Events need, and recording every request with the time it was
 * answered:
 *
 * - GET  /api/v1/persistentvolumes, GET /api/v1/persistentvolumeclaims (lists, all namespaces)
 * - GET  /api/v1/persistentvolumeclaims?watch=true: every PVC (ADDED), then each change
 *   (MODIFIED) as long as the client stays (a `resourceVersion` given is not replayed from)
 * - GET  /api/v1/namespaces/{ns}/persistentvolumeclaims/{name} (an Event's uid lookup)
 * - PATCH /api/v1/namespaces/{ns}/persistentvolumeclaims/{name}, application/merge-patch+json of
 *   metadata.annotations only (null removes a key), as KubeLive sends it
 * - GET/POST/PUT /apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}] (PUT with a stale
 *   resourceVersion and POST of an existing Lease: 409, as the API server answers)
 * - POST /apis/events.k8s.io/v1/namespaces/{ns}/events
 *
 * Anything else is 404 with a Status. The bench adds PVs and PVCs and writes annotations itself
 * (as the provisioner, the PV controller and a user would), through the methods below, not HTTP.
 */
import * as Http from "node:http"
import type * as Net from "node:net"

/** What a request did, in the words of RBAC: verb and resource. */
export type KubeRequestKind =
  | "list persistentvolumes"
  | "list persistentvolumeclaims"
  | "watch persistentvolumeclaims"
  | "get persistentvolumeclaim"
  | "patch persistentvolumeclaim"
  | "get lease"
  | "create lease"
  | "update lease"
  | "create event"
  | "other"

export interface KubeRequestRecord {
  readonly kind: KubeRequestKind
  readonly method: string
  readonly path: string
  readonly statusCode: number
  /** When it was answered (ms since the epoch). */
  readonly at: number
  /** The annotations a PATCH merged (patches only). */
  readonly annotations?: Readonly<Record<string, string | null>>
}

type Json = Record<string, unknown>

export interface PersistentVolumeSeed {
  readonly name: string
  readonly driver: string
  readonly volumeHandle: string
  readonly claim: { readonly namespace: string; readonly name: string; readonly uid: string }
}

export interface KubeApiServer {
  readonly url: string
  /** Every request, in the order answered. */
  readonly requests: ReadonlyArray<KubeRequestRecord>
  /** A Pending PVC (no volume yet). */
  readonly addClaim: (namespace: string, name: string, uid: string) => void
  /** A PV bound to its claim, and the claim bound to it (what the PV controller does after a provisioning). */
  readonly bind: (volume: PersistentVolumeSeed) => void
  /** Merges annotations into a PVC, as `kubectl annotate` does. */
  readonly annotate: (namespace: string, name: string, annotations: Readonly<Record<string, string>>) => void
  readonly annotationsOf: (namespace: string, name: string) => Readonly<Record<string, string>>
  /** Called after each PATCH of a PVC's annotations is answered, with the PVC's annotations now. */
  readonly onPatch: (listener: (namespace: string, name: string, annotations: Readonly<Record<string, string>>) => void) => void
  readonly close: () => Promise<void>
}

const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  code
})

const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/
const CLAIM = /^\/api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims\/([^/]+)$/
const EVENTS = /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events$/

export const startKubeApiServer = (): Promise<KubeApiServer> =>
  new Promise((resolve, reject) => {
    const requests: Array<KubeRequestRecord> = []
    const volumes = new Map<string, Json>()
    const claims = new Map<string, { metadata: { name: string; namespace: string; uid: string; resourceVersion: string; annotations: Record<string, string> }; spec: Json; status: Json }>()
    const leases = new Map<string, Json & { metadata: Json & { resourceVersion: string } }>()
    const listeners: Array<(namespace: string, name: string, annotations: Readonly<Record<string, string>>) => void> = []
    const watchers = new Set<Http.ServerResponse>()
    const sendToWatchers = (type: "ADDED" | "MODIFIED", object: unknown) => {
      for (const watcher of watchers) watcher.write(`${JSON.stringify({ type, object })}\n`)
    }
    let version = 1
    let eventNumber = 0
    const nextVersion = () => String(++version)
    const list = (kind: string, items: ReadonlyArray<unknown>) => ({ kind, apiVersion: "v1", metadata: { resourceVersion: String(version) }, items })

    type Answer = readonly [number, unknown, KubeRequestKind, Readonly<Record<string, string | null>>?]

    const answer = (method: string, path: string, body: string): Answer => {
      if (method === "GET" && path === "/api/v1/persistentvolumes") {
        return [200, list("PersistentVolumeList", [...volumes.values()]), "list persistentvolumes"]
      }
      if (method === "GET" && path === "/api/v1/persistentvolumeclaims") {
        return [200, list("PersistentVolumeClaimList", [...claims.values()]), "list persistentvolumeclaims"]
      }
      const claimPath = CLAIM.exec(path)
      if (claimPath !== null) {
        const key = `${decodeURIComponent(claimPath[1]!)}/${decodeURIComponent(claimPath[2]!)}`
        const claim = claims.get(key)
        const kind = method === "PATCH" ? "patch persistentvolumeclaim" : "get persistentvolumeclaim"
        if (claim === undefined) return [404, status(404, "NotFound", `persistentvolumeclaims "${key}" not found`), kind]
        if (method === "GET") return [200, claim, kind]
        if (method === "PATCH") {
          const patch = JSON.parse(body) as { metadata?: { annotations?: Record<string, string | null> } }
          const annotations = patch.metadata?.annotations ?? {}
          for (const [name, value] of Object.entries(annotations)) {
            if (value === null) delete claim.metadata.annotations[name]
            else claim.metadata.annotations[name] = value
          }
          claim.metadata.resourceVersion = nextVersion()
          return [200, claim, kind, annotations]
        }
      }
      const leasePath = LEASES.exec(path)
      if (leasePath !== null) {
        const namespace = decodeURIComponent(leasePath[1]!)
        const name = leasePath[2] === undefined ? undefined : decodeURIComponent(leasePath[2])
        if (method === "GET" && name !== undefined) {
          const lease = leases.get(`${namespace}/${name}`)
          return lease === undefined
            ? [404, status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`), "get lease"]
            : [200, lease, "get lease"]
        }
        if (method === "POST" && name === undefined) {
          const lease = JSON.parse(body) as Json & { metadata: Json & { name: string } }
          const key = `${namespace}/${lease.metadata.name}`
          if (leases.has(key)) return [409, status(409, "AlreadyExists", `leases.coordination.k8s.io "${lease.metadata.name}" already exists`), "create lease"]
          const created = { ...lease, metadata: { ...lease.metadata, namespace, resourceVersion: nextVersion() } }
          leases.set(key, created)
          return [201, created, "create lease"]
        }
        if (method === "PUT" && name !== undefined) {
          const lease = JSON.parse(body) as Json & { metadata: Json & { resourceVersion?: string } }
          const current = leases.get(`${namespace}/${name}`)
          if (current === undefined) return [404, status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`), "update lease"]
          if (lease.metadata.resourceVersion !== current.metadata.resourceVersion) {
            return [409, status(409, "Conflict", `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified`), "update lease"]
          }
          const replaced = { ...lease, metadata: { ...lease.metadata, namespace, name, resourceVersion: nextVersion() } }
          leases.set(`${namespace}/${name}`, replaced)
          return [200, replaced, "update lease"]
        }
      }
      const eventsPath = EVENTS.exec(path)
      if (eventsPath !== null && method === "POST") {
        const event = JSON.parse(body) as Json & { metadata?: Json & { generateName?: string } }
        const name = `${event.metadata?.generateName ?? "event."}${(++eventNumber).toString(36)}`
        return [201, { ...event, metadata: { ...event.metadata, name, resourceVersion: nextVersion() } }, "create event"]
      }
      return [404, status(404, "NotFound", `the bench's API server has no ${method} ${path}`), "other"]
    }

    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const method = request.method ?? ""
        const path = (request.url ?? "").split("?")[0] ?? ""
        if (method === "GET" && path === "/api/v1/persistentvolumeclaims" && new URL(request.url ?? "", "http://x").searchParams.get("watch") === "true") {
          response.writeHead(200, { "content-type": "application/json" })
          for (const claim of claims.values()) response.write(`${JSON.stringify({ type: "ADDED", object: claim })}\n`)
          watchers.add(response)
          response.on("close", () => watchers.delete(response))
          requests.push({ kind: "watch persistentvolumeclaims", method, path, statusCode: 200, at: Date.now() })
          return
        }
        let reply: Answer
        try {
          reply = answer(method, path, Buffer.concat(chunks).toString("utf8"))
        } catch (error) {
          reply = [400, status(400, "BadRequest", error instanceof Error ? error.message : String(error)), "other"]
        }
        const [statusCode, body, kind, annotations] = reply
        response.writeHead(statusCode, { "content-type": "application/json" })
        response.end(JSON.stringify(body))
        requests.push({ kind, method, path, statusCode, at: Date.now(), ...(annotations === undefined ? {} : { annotations }) })
        const patched = CLAIM.exec(path)
        if (kind === "patch persistentvolumeclaim" && statusCode === 200 && patched !== null) {
          const namespace = decodeURIComponent(patched[1]!)
          const name = decodeURIComponent(patched[2]!)
          const now = claims.get(`${namespace}/${name}`)?.metadata.annotations ?? {}
          sendToWatchers("MODIFIED", claims.get(`${namespace}/${name}`))
          for (const listener of listeners) listener(namespace, name, { ...now })
        }
      })
    })

    const claimOf = (namespace: string, name: string) => {
      const claim = claims.get(`${namespace}/${name}`)
      if (claim === undefined) throw new Error(`the bench's API server has no PVC ${namespace}/${name}`)
      return claim
    }

    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        addClaim: (namespace, name, uid) => {
          const claim = {
            metadata: { name, namespace, uid, resourceVersion: nextVersion(), annotations: {} },
            spec: { accessModes: ["ReadWriteMany"], storageClassName: "azurelustre-blob" },
            status: { phase: "Pending" }
          }
          claims.set(`${namespace}/${name}`, claim)
          sendToWatchers("ADDED", claim)
        },
        bind: (volume) => {
          volumes.set(volume.name, {
            metadata: { name: volume.name, resourceVersion: nextVersion() },
            spec: {
              csi: { driver: volume.driver, volumeHandle: volume.volumeHandle },
              claimRef: { kind: "PersistentVolumeClaim", namespace: volume.claim.namespace, name: volume.claim.name, uid: volume.claim.uid }
            },
            status: { phase: "Bound" }
          })
          const claim = claimOf(volume.claim.namespace, volume.claim.name)
          claim.spec = { ...claim.spec, volumeName: volume.name }
          claim.status = { phase: "Bound" }
          claim.metadata.resourceVersion = nextVersion()
          sendToWatchers("MODIFIED", claim)
        },
        annotate: (namespace, name, annotations) => {
          const claim = claimOf(namespace, name)
          Object.assign(claim.metadata.annotations, annotations)
          claim.metadata.resourceVersion = nextVersion()
          sendToWatchers("MODIFIED", claim)
        },
        annotationsOf: (namespace, name) => ({ ...claimOf(namespace, name).metadata.annotations }),
        onPatch: (listener) => void listeners.push(listener),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** A kubeconfig (JSON is YAML) naming this server; client-node takes plain http only with TLS verification skipped. */
export const kubeconfigFor = (server: KubeApiServer): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "bench", cluster: { server: server.url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "bench", user: { token: "bench" } }],
    contexts: [{ name: "bench", context: { cluster: "bench", user: "bench" } }],
    "current-context": "bench"
  })
