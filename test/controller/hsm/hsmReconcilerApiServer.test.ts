import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AmlfsApiFake } from "../../../layers/azure/AmlfsApiFake.js"
import { KubeLive } from "../../../layers/kube/KubeLive.js"
import { hsmAnnotations } from "../../../src/controller/hsm/HsmAnnotations.js"
import { reconcileHsmOnce } from "../../../src/controller/hsm/HsmReconciler.js"
import { fakeKubeApiServer, type Reply, type SeenRequest, statusJson } from "../../support/fakeKubeApiServer.js"

const DRIVER = "azurelustre.csi.azure.com"
const hsm = {
  container: "/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default/containers/data",
  loggingContainer: "/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default/containers/logs",
  importPrefixesInitial: ["/"]
}

/** An API server holding one PV of this driver, one of another driver, and their PVCs; PATCH merges annotations. */
const makeApiServer = () => {
  const annotations: Record<string, string> = { [hsmAnnotations.import]: "r1:/data", [hsmAnnotations.archive]: "a1:/" }
  const route = ({ method, url, body }: SeenRequest): Reply => {
    const path = url.split("?")[0] ?? ""
    if (method === "GET" && path === "/api/v1/persistentvolumes") {
      return [200, {
        kind: "PersistentVolumeList",
        metadata: {},
        items: [
          {
            metadata: { name: "pv-data" },
            spec: { csi: { driver: DRIVER, volumeHandle: "amlfs-1#lustrefs#10.0.0.4##t#rg-1" }, claimRef: { namespace: "apps", name: "data" } }
          },
          {
            metadata: { name: "pv-other" },
            spec: { csi: { driver: "disk.csi.azure.com", volumeHandle: "x" }, claimRef: { namespace: "apps", name: "other" } }
          }
        ]
      }]
    }
    if (method === "GET" && path === "/api/v1/persistentvolumeclaims") {
      return [200, {
        kind: "PersistentVolumeClaimList",
        metadata: {},
        items: [
          { metadata: { name: "data", namespace: "apps", uid: "u-data", annotations }, spec: { volumeName: "pv-data" } },
          { metadata: { name: "other", namespace: "apps", uid: "u-other", annotations }, spec: { volumeName: "pv-other" } }
        ]
      }]
    }
    if (method === "PATCH" && path === "/api/v1/namespaces/apps/persistentvolumeclaims/data") {
      const patch = JSON.parse(body) as { metadata: { annotations: Record<string, string> } }
      Object.assign(annotations, patch.metadata.annotations)
      return [200, { kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "apps", annotations }, spec: {} }]
    }
    if (method === "POST" && path === "/apis/events.k8s.io/v1/namespaces/apps/events") return [201, JSON.parse(body)]
    return [404, statusJson(404, "NotFound", `${path} not found`)]
  }
  return { route, annotations }
}

describe("the HSM reconciler through KubeLive against a fake API server", () => {
  it.live("starts the import and the archive of this driver's PVC once, writes their state and records Events", () =>
    Effect.gen(function*() {
      const { route, annotations } = makeApiServer()
      const server = yield* fakeKubeApiServer(route)
      const kube = KubeLive.layerFromConfig({
        clusters: [{ name: "c", server: server.url, skipTLSVerify: true }],
        users: [{ name: "u", token: "t" }],
        contexts: [{ name: "x", cluster: "c", user: "u" }],
        currentContext: "x"
      })
      const arm = AmlfsApiFake.layer({ filesystems: [{ resourceGroup: "rg-1", name: "amlfs-1", spec: { hsm } }] })
      yield* Effect.gen(function*() {
        yield* reconcileHsmOnce(DRIVER)
        yield* reconcileHsmOnce(DRIVER)
        const fake = yield* AmlfsApiFake
        assert.strictEqual(yield* fake.count("beginImportJob"), 1)
        assert.strictEqual(yield* fake.count("archive"), 1)
      }).pipe(Effect.provide(Layer.merge(kube, arm)))
      assert.include(annotations[hsmAnnotations.importState] ?? "", `"job":"import-r1"`)
      assert.include(annotations[hsmAnnotations.archiveState] ?? "", `"request":"a1"`)
      const patches = server.seen.filter((request) => request.method === "PATCH")
      assert.isTrue(patches.every((request) => request.contentType === "application/merge-patch+json"))
      assert.isTrue(patches.every((request) => request.url.includes("/persistentvolumeclaims/data")))
      const events = server.seen
        .filter((request) => request.method === "POST")
        .map((request) => JSON.parse(request.body) as { reason: string; regarding: { name: string; uid: string } })
      assert.deepStrictEqual(events.map((event) => `${event.regarding.name}/${event.regarding.uid}:${event.reason}`), [
        "data/u-data:ImportStarted",
        "data/u-data:ArchiveStarted"
      ])
    }))
})
