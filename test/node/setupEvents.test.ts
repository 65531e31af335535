import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import { KubeNode } from "../../layers/kube/KubeNode.js"
import { KubeNodeFake } from "../../layers/kube/KubeNodeFake.js"
import { KubeNodeLive } from "../../layers/kube/KubeNodeLive.js"
import { LnetProbe } from "../../layers/lnet/LnetProbe.js"
import { LnetProbeFake } from "../../layers/lnet/LnetProbeFake.js"
import { LustreClientFake } from "../../layers/lustreClient/LustreClientFake.js"
import { freshNode } from "../../layers/lustreClient/modelHost.js"
import { LNET_CHECKS, lnetReadinessChecks } from "../../src/health/lnetReadinessChecks.js"
import { Readiness } from "../../src/health/Readiness.js"
import { NodeSetup } from "../../src/node/setup/NodeSetup.js"
import { type NodeSetupEvent, NodeSetupEvents } from "../../src/node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings } from "../../src/node/setup/NodeSetupSettings.js"
import { gatedByNodeSetup } from "../../src/node/setup/nodeSetupReadiness.js"
import { fakeKubeApiServer, statusJson } from "../support/fakeKubeApiServer.js"

const NODE = "aks-lustre-1"
const INSTALLING = "installing amlfs-lustre-client-2.15.7-33-g79ddf99 for 5.15.0-1079-azure, try 1 of 3"


const world = (install: boolean) => {
  const events = Ref.makeUnsafe<ReadonlyArray<NodeSetupEvent>>([])
  const setup = NodeSetup.layer({ ...defaultNodeSetupSettings, install }).pipe(
    Layer.provideMerge(Layer.merge(LustreClientFake.layer(freshNode()), NodeSetupEvents.layerRecording(events)))
  )
  const readiness = Layer.effect(
    Readiness,
    Effect.gen(function*() {
      const lnet = yield* lnetReadinessChecks(yield* LnetProbe, { cacheFor: "1 millis" })
      return Readiness.fromChecks([gatedByNodeSetup(yield* NodeSetup, lnet, Object.values(LNET_CHECKS))])
    })
  )
  return readiness.pipe(Layer.provideMerge(Layer.merge(setup, LnetProbeFake.layer())))
}

const report = Effect.gen(function*() {
  return yield* (yield* Readiness).report
})

describe("readiness while the node is set up", () => {
  it.effect("lustre-client names the step (\"installing …, try 1 of 3\"); LNet is not probed until the setup is done, then all pass", () =>
    Effect.gen(function*() {
      const fake = yield* LustreClientFake
      const probe = yield* LnetProbeFake
      yield* Ref.set(fake.stuck, new Set(["apt-get install"]))
      yield* TestClock.adjust("1 millis")
      const installing = yield* report
      assert.isFalse(installing.ready)
      assert.deepStrictEqual(installing.checks, [
        { name: "lustre-client", ready: false, reason: INSTALLING },
        ...Object.values(LNET_CHECKS).map((name) => ({
          name,
          ready: false,
          reason: "not checked: the Lustre client is not set up yet (see lustre-client)"
        }))
      ])
      assert.deepStrictEqual(yield* Ref.get(probe.calls), [])
      yield* Ref.set(fake.stuck, new Set())
      // The stuck try is cut at 10 minutes; the next, 15 s later, installs.
      yield* TestClock.adjust("10 minutes")
      yield* TestClock.adjust("15 seconds")
      yield* (yield* NodeSetup).done
      const ready = yield* report
      assert.isTrue(ready.ready)
      assert.deepStrictEqual(ready.checks.map((check) => check.name), ["lustre-client", ...Object.values(LNET_CHECKS)])
    }).pipe(Effect.provide(world(true))))

  it.effect("without a setup (AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no) there is no lustre-client check", () =>
    Effect.gen(function*() {
      const checks = (yield* report).checks
      assert.deepStrictEqual(checks.map((check) => check.name), Object.values(LNET_CHECKS))
    }).pipe(Effect.provide(world(false))))
})

describe("Events on the Node", () => {
  it.effect("the fake keeps them by node, cut as the API server would", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      yield* kube.recordNodeEvent(NODE, { type: "Warning", reason: "LustreClientSetupFailed", action: "SettingUpLustreClient", note: "x".repeat(2000) })
      const [recorded] = yield* Ref.get((yield* KubeNodeFake).nodeEvents)
      assert.strictEqual(recorded?.nodeName, NODE)
      assert.isAtMost(Buffer.byteLength(recorded?.event.note ?? ""), 1024)
    }).pipe(Effect.provide(KubeNodeFake.layer())))

  it.effect("live: POSTed to namespace default, regarding the Node with its uid, reported by the driver from the node", () =>
    Effect.gen(function*() {
      const server = yield* fakeKubeApiServer((request) =>
        request.method === "GET" && request.url === `/api/v1/nodes/${NODE}`
          ? [200, { metadata: { name: NODE, uid: "node-uid-1" } }]
          : request.method === "POST" ? [201, {}] : [404, statusJson(404, "NotFound", "not found")]
      )
      const events = NodeSetupEvents.layerKube(
        NODE,
        KubeNodeLive.layerWith({ server: server.url, reportingController: "azurelustre.csi.azure.com", reportingInstance: NODE })
      )
      yield* Effect.gen(function*() {
        yield* (yield* NodeSetupEvents).record({ type: "Warning", reason: "LustreClientSetupFailed", note: "no package for kernel 5.15.0-1080-azure" })
      }).pipe(Effect.provide(events))
      const post = server.seen.find((request) => request.method === "POST")
      assert.strictEqual(post?.url, "/apis/events.k8s.io/v1/namespaces/default/events")
      const body = JSON.parse(post?.body ?? "{}")
      assert.deepStrictEqual(
        { ...body, eventTime: typeof body.eventTime },
        {
          metadata: { generateName: `${NODE}.`, namespace: "default" },
          eventTime: "string",
          reportingController: "azurelustre.csi.azure.com",
          reportingInstance: NODE,
          action: "SettingUpLustreClient",
          reason: "LustreClientSetupFailed",
          type: "Warning",
          note: "no package for kernel 5.15.0-1080-azure",
          regarding: { apiVersion: "v1", kind: "Node", name: NODE, uid: "node-uid-1" }
        }
      )
    }).pipe(Effect.scoped))

  it.effect("live: an Event the API server refuses is a log line; the setup goes on", () =>
    Effect.gen(function*() {
      const server = yield* fakeKubeApiServer(() => [403, statusJson(403, "Forbidden", "events.events.k8s.io is forbidden")])
      yield* Effect.gen(function*() {
        yield* (yield* NodeSetupEvents).record({ type: "Normal", reason: "LustreClientInstalled", note: "installed" })
      }).pipe(Effect.provide(NodeSetupEvents.layerKube(NODE, KubeNodeLive.layerWith({ server: server.url }))))
      assert.strictEqual(server.seen.filter((request) => request.method === "POST").length, 1)
    }).pipe(Effect.scoped))
})
