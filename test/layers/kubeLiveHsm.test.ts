import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import { Kube } from "../../layers/kube/Kube.js"
import { KubeLive } from "../../layers/kube/KubeLive.js"
import { fakeKubeApiServer, type Reply, type SeenRequest, statusJson } from "../support/fakeKubeApiServer.js"

/**
 * A fake of the API server's routes the controller's HSM loop uses: PVs and PVCs (list), a PVC's
 * merge patch, and Leases (get, create, replace at a resourceVersion, as the API server checks it).
 */
const makeRoute = () => {
  const leases = new Map<string, { metadata: { name: string; namespace: string; resourceVersion: string }; spec: unknown }>()
  let version = 10
  const route = ({ method, url, body }: SeenRequest): Reply => {
    const path = url.split("?")[0] ?? ""
    if (method === "GET" && path === "/api/v1/persistentvolumes") {
      return [200, {
        apiVersion: "v1",
        kind: "PersistentVolumeList",
        metadata: {},
        items: [
          {
            metadata: { name: "pvc-1" },
            spec: {
              csi: { driver: "azurelustre.csi.azure.com", volumeHandle: "amlfs-1#lustrefs#10.0.0.4##t#rg-1" },
              claimRef: { namespace: "apps", name: "data", uid: "u-1" }
            }
          },
          { metadata: { name: "nfs-1" }, spec: { nfs: { server: "x", path: "/" } } }
        ]
      }]
    }
    if (method === "GET" && path === "/api/v1/persistentvolumeclaims") {
      return [200, {
        apiVersion: "v1",
        kind: "PersistentVolumeClaimList",
        metadata: {},
        items: [{
          metadata: { name: "data", namespace: "apps", uid: "u-1", annotations: { "azurelustre.csi.azure.com/import": "r1:/data" } },
          spec: { volumeName: "pvc-1" }
        }, { metadata: { name: "pending", namespace: "apps" }, spec: {} }]
      }]
    }
    if (method === "PATCH" && path === "/api/v1/namespaces/apps/persistentvolumeclaims/data") {
      return [200, { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "apps" }, spec: {} }]
    }
    const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(path)
    if (lease !== null) {
      const namespace = lease[1] ?? ""
      const name = lease[2]
      if (method === "GET" && name !== undefined) {
        const found = leases.get(name)
        return found === undefined
          ? [404, statusJson(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`, { name, kind: "leases" })]
          : [200, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", ...found }]
      }
      const sent = JSON.parse(body) as { metadata: { name: string; resourceVersion?: string }; spec: unknown }
      if (method === "POST") {
        if (leases.has(sent.metadata.name)) return [409, statusJson(409, "AlreadyExists", "already exists")]
      } else if (method === "PUT") {
        if (leases.get(name ?? "")?.metadata.resourceVersion !== sent.metadata.resourceVersion) {
          return [409, statusJson(409, "Conflict", "the object has been modified; please apply your changes to the latest version")]
        }
      } else return [405, statusJson(405, "MethodNotAllowed", "no")]
      version++
      const stored = { metadata: { name: sent.metadata.name, namespace, resourceVersion: String(version) }, spec: sent.spec }
      leases.set(sent.metadata.name, stored)
      return [method === "POST" ? 201 : 200, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", ...stored }]
    }
    return [405, statusJson(405, "MethodNotAllowed", "no")]
  }
  return route
}

/** `program` through KubeLive against a fake API server answering as `route` says. */
const onApiServer = <A, E>(route: (request: SeenRequest) => Reply, program: (seen: ReadonlyArray<SeenRequest>) => Effect.Effect<A, E, Kube>) =>
  Effect.gen(function*() {
    const server = yield* fakeKubeApiServer(route)
    return yield* program(server.seen).pipe(Effect.provide(KubeLive.layerFromConfig({
      clusters: [{ name: "c", server: server.url, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x"
    })))
  })

const withApiServer = <A, E>(program: (seen: ReadonlyArray<SeenRequest>) => Effect.Effect<A, E, Kube>) => onApiServer(makeRoute(), program)

describe("KubeLive: what the HSM loop reads and writes", () => {
  it.live("lists PersistentVolumes with their CSI driver, volume id and claim, and PVCs with their annotations", () =>
    withApiServer(() =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const volumes = yield* kube.listPersistentVolumes
        assert.deepStrictEqual(volumes, [
          {
            name: "pvc-1",
            driver: "azurelustre.csi.azure.com",
            volumeHandle: "amlfs-1#lustrefs#10.0.0.4##t#rg-1",
            claim: { namespace: "apps", name: "data", uid: "u-1" }
          },
          { name: "nfs-1", driver: undefined, volumeHandle: undefined, claim: undefined }
        ])
        const claims = yield* kube.listPersistentVolumeClaims
        assert.deepStrictEqual(claims, [
          { namespace: "apps", name: "data", uid: "u-1", volumeName: "pvc-1", annotations: { "azurelustre.csi.azure.com/import": "r1:/data" } },
          { namespace: "apps", name: "pending", uid: undefined, volumeName: undefined, annotations: {} }
        ])
      })
    ))

  it.live("patches a PVC's annotations as a JSON merge patch", () =>
    withApiServer((seen) =>
      Effect.gen(function*() {
        yield* (yield* Kube).patchPersistentVolumeClaimAnnotations("apps", "data", { "a/b": "1", "a/c": null })
        const patch = seen.find((request) => request.method === "PATCH")
        assert.strictEqual(patch?.contentType, "application/merge-patch+json")
        assert.deepStrictEqual(JSON.parse(patch?.body ?? ""), { metadata: { annotations: { "a/b": "1", "a/c": null } } })
      })
    ))

  it.live("creates a Lease, reads it back, replaces it at its version, and a stale replace is a 409", () =>
    withApiServer((seen) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        assert.isTrue(Option.isNone(yield* kube.readLease("kube-system", "azurelustre-csi-hsm")))
        const renewTime = new Date("2026-01-01T00:00:00.123Z")
        const created = yield* kube.createLease({
          namespace: "kube-system",
          name: "azurelustre-csi-hsm",
          holderIdentity: "controller-a",
          leaseDurationSeconds: 15,
          acquireTime: renewTime,
          renewTime,
          leaseTransitions: 0,
          resourceVersion: undefined
        })
        const sent = JSON.parse(seen.find((request) => request.method === "POST")?.body ?? "{}") as { spec: { renewTime: string } }
        assert.strictEqual(sent.spec.renewTime, "2026-01-01T00:00:00.123000Z")
        const read = Option.getOrThrow(yield* kube.readLease("kube-system", "azurelustre-csi-hsm"))
        assert.strictEqual(read.holderIdentity, "controller-a")
        assert.strictEqual(read.leaseDurationSeconds, 15)
        assert.strictEqual(read.renewTime?.getTime(), renewTime.getTime())
        assert.strictEqual(read.resourceVersion, created.resourceVersion)
        const renewed = yield* kube.replaceLease({ ...read, renewTime: new Date(renewTime.getTime() + 5_000) })
        assert.notStrictEqual(renewed.resourceVersion, read.resourceVersion)
        const stale = yield* Effect.flip(kube.replaceLease({ ...read, holderIdentity: "controller-b" }))
        assert.strictEqual(stale.status, 409)
        const twice = yield* Effect.flip(kube.createLease(read))
        assert.strictEqual(twice.status, 409)
      })
    ))
})

const pvc = (name: string, resourceVersion: string, annotations: Record<string, string> = {}) => ({
  metadata: { name, namespace: "apps", uid: `u-${name}`, resourceVersion, annotations },
  spec: { volumeName: `pv-${name}` }
})

describe("KubeLive: the watch of PVCs", () => {
  it.live("sends every PVC, then each change; a closed watch resumes at the last resourceVersion, an expired one (410) from the start", () => {
    let watches = 0
    const route = ({ url }: SeenRequest): Reply => {
      if (!url.startsWith("/api/v1/persistentvolumeclaims?")) return [404, statusJson(404, "NotFound", "no")]
      watches++
      if (watches === 1) {
        return { watchEvents: [{ type: "ADDED", object: pvc("data", "5") }, { type: "MODIFIED", object: pvc("data", "6", { "a/b": "1" }) }] }
      }
      if (watches === 2) return { watchEvents: [{ type: "ERROR", object: statusJson(410, "Expired", "too old resource version: 6 (9)") }] }
      return { watchEvents: [{ type: "DELETED", object: pvc("gone", "8") }, { type: "ADDED", object: pvc("more", "9") }], open: true }
    }
    return onApiServer(route, (seen) =>
      Effect.gen(function*() {
        const claims = yield* (yield* Kube).watchPersistentVolumeClaims.pipe(Stream.take(3), Stream.runCollect)
        assert.deepStrictEqual(claims.map((claim) => `${claim.name} ${JSON.stringify(claim.annotations)}`), ["data {}", "data {\"a/b\":\"1\"}", "more {}"])
        const query = (at: number) => new URL(`http://x${seen[at]?.url ?? ""}`).searchParams
        assert.deepStrictEqual([0, 1, 2].map((at) => [query(at).get("watch"), query(at).get("resourceVersion")]), [
          ["true", null],
          ["true", "6"],
          ["true", null]
        ])
      }))
  })

  it.live("a watch that cannot even be sent (plain HTTP without skipTLSVerify) fails as a KubeError, nothing thrown", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(Stream.runDrain((yield* Kube).watchPersistentVolumeClaims))
      assert.strictEqual(failure.status, 0)
      assert.match(failure.message, /^watchPersistentVolumeClaims persistentvolumeclaims: cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:9: .*HTTP protocol is not allowed/)
    }).pipe(Effect.provide(KubeLive.layerFromConfig({
      clusters: [{ name: "c", server: "http://127.0.0.1:9", skipTLSVerify: false }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x"
    }))))

  it.live("a watch the API server refuses fails, naming the permission to grant", () =>
    onApiServer(() => [403, statusJson(403, "Forbidden", "persistentvolumeclaims is forbidden")], () =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(Stream.runDrain((yield* Kube).watchPersistentVolumeClaims))
        assert.strictEqual(failure.status, 403)
        assert.match(failure.message, /may not watch persistentvolumeclaims: check its ClusterRole/)
      })))
})
