import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import { KubeError, type KubeEvent, truncateNote } from "../../layers/kube/Kube.js"
import { KubeNode, type NodeTaint } from "../../layers/kube/KubeNode.js"
import { KubeNodeFake } from "../../layers/kube/KubeNodeFake.js"

const ZONE_LABEL = "topology.kubernetes.io/zone"
const STARTUP = "azurelustre.csi.azure.com/agent-not-ready"

const startupNoSchedule: NodeTaint = { key: STARTUP, effect: "NoSchedule" }
const startupNoExecute: NodeTaint = { key: STARTUP, value: "true", effect: "NoExecute" }
const gpu: NodeTaint = { key: "sku", value: "gpu", effect: "NoSchedule" }

const unavailable = (operation: string) => new KubeError({ operation, status: 503, message: `${operation}: the API server answered HTTP 503` })

const fakeLayer = KubeNodeFake.layer({
  nodes: {
    "worker-1": { labels: { [ZONE_LABEL]: "eastus-2" }, taints: [startupNoSchedule, gpu, startupNoExecute] },
    "worker-2": {}
  },
  csiNodes: { "worker-1": ["azurelustre.csi.azure.com", "disk.csi.azure.com"] }
})

describe("KubeNodeFake", () => {
  it.effect("answers labels from its nodes, fails with the queued errors first, and records every call", () =>
    Effect.gen(function*() {
      const fake = yield* KubeNodeFake
      const kube = yield* KubeNode
      yield* Ref.set(fake.failures, [unavailable("readNode")])
      yield* Ref.update(fake.nodes, (all) => new Map([...all, ["worker-3", { labels: { [ZONE_LABEL]: "eastus-3" }, taints: [] }]]))
      assert.strictEqual((yield* Effect.flip(kube.readNodeLabels("worker-3"))).status, 503)
      assert.deepStrictEqual(yield* kube.readNodeLabels("worker-3"), { [ZONE_LABEL]: "eastus-3" })
      assert.deepStrictEqual(yield* kube.readNodeLabels("worker-2"), {})
      const missing = yield* Effect.flip(kube.readNodeLabels("ghost"))
      assert.strictEqual(missing.operation, "readNode")
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.message, "node ghost not found")
      assert.deepStrictEqual(yield* Ref.get(fake.calls), [
        { _tag: "ReadNodeLabels", nodeName: "worker-3" },
        { _tag: "ReadNodeLabels", nodeName: "worker-3" },
        { _tag: "ReadNodeLabels", nodeName: "worker-2" },
        { _tag: "ReadNodeLabels", nodeName: "ghost" }
      ])
    }).pipe(Effect.provide(fakeLayer)))

  it.effect("CSINode drivers: those given, [] for a node without a CSINode, and a change mid-test is seen", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      const fake = yield* KubeNodeFake
      assert.deepStrictEqual(yield* kube.readCsiNodeDrivers("worker-1"), ["azurelustre.csi.azure.com", "disk.csi.azure.com"])
      assert.deepStrictEqual(yield* kube.readCsiNodeDrivers("worker-2"), [])
      yield* Ref.update(fake.csiNodes, (all) => new Map([...all, ["worker-2", ["azurelustre.csi.azure.com"]]]))
      assert.deepStrictEqual(yield* kube.readCsiNodeDrivers("worker-2"), ["azurelustre.csi.azure.com"])
      assert.deepStrictEqual((yield* Ref.get(fake.calls)).map((call) => call._tag), [
        "ReadCsiNodeDrivers",
        "ReadCsiNodeDrivers",
        "ReadCsiNodeDrivers"
      ])
    }).pipe(Effect.provide(fakeLayer)))

  it.effect("removeNodeTaint removes every taint with the key, whatever its effect, and only those", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      const fake = yield* KubeNodeFake
      assert.deepStrictEqual(yield* kube.removeNodeTaint("worker-1", STARTUP), [startupNoSchedule, startupNoExecute])
      assert.deepStrictEqual((yield* Ref.get(fake.nodes)).get("worker-1"), { labels: { [ZONE_LABEL]: "eastus-2" }, taints: [gpu] })
      assert.deepStrictEqual(yield* kube.removeNodeTaint("worker-1", STARTUP), [])
      assert.deepStrictEqual(yield* kube.removeNodeTaint("worker-2", STARTUP), [])
      assert.deepStrictEqual((yield* Ref.get(fake.nodes)).get("worker-1")?.taints, [gpu])
      assert.deepStrictEqual(yield* Ref.get(fake.calls), [
        { _tag: "RemoveNodeTaint", nodeName: "worker-1", key: STARTUP },
        { _tag: "RemoveNodeTaint", nodeName: "worker-1", key: STARTUP },
        { _tag: "RemoveNodeTaint", nodeName: "worker-2", key: STARTUP }
      ])
    }).pipe(Effect.provide(fakeLayer)))

  it.effect("a failed removal (a queued 422, an unknown node) changes nothing", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      const fake = yield* KubeNodeFake
      const conflict = new KubeError({ operation: "patchNode", status: 422, message: "the taints changed" })
      yield* Ref.set(fake.failures, [conflict])
      assert.strictEqual(yield* Effect.flip(kube.removeNodeTaint("worker-1", STARTUP)), conflict)
      assert.deepStrictEqual((yield* Ref.get(fake.nodes)).get("worker-1")?.taints, [startupNoSchedule, gpu, startupNoExecute])
      const missing = yield* Effect.flip(kube.removeNodeTaint("ghost", STARTUP))
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.message, "node ghost not found")
      assert.isFalse((yield* Ref.get(fake.nodes)).has("ghost"))
      // The queue is spent: the next call goes through.
      assert.deepStrictEqual(yield* kube.removeNodeTaint("worker-1", "sku"), [gpu])
    }).pipe(Effect.provide(fakeLayer)))
})

describe("KubeNodeFake: Events", () => {
  const podEvent = (note: string): KubeEvent => ({
    regarding: { kind: "Pod", namespace: "apps", name: "web-0" },
    type: "Warning",
    reason: "MountFailed",
    action: "Mounting",
    note
  })
  const refused = new KubeError({ operation: "createEvent", status: 403, message: "may not create events" })

  it.effect("records Events in order, cut as the live layer cuts them", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      const fake = yield* KubeNodeFake
      const long = "€".repeat(400)
      yield* kube.recordEvent(podEvent("first"))
      yield* kube.recordEvent({ ...podEvent(long), reason: "R".repeat(200) })
      const events = yield* Ref.get(fake.events)
      assert.deepStrictEqual(events.map((event) => event.note), ["first", truncateNote(long)])
      assert.isAtMost(Buffer.byteLength(events[1]?.note ?? "", "utf8"), 1024)
      assert.strictEqual(events[1]?.reason, "R".repeat(128))
      assert.deepStrictEqual(events[0], podEvent("first"))
      assert.deepStrictEqual((yield* Ref.get(fake.calls)).map((call) => call._tag), ["RecordEvent", "RecordEvent"])
    }).pipe(Effect.provide(fakeLayer)))

  it.effect("told to fail createEvent: every Event fails with the error and none is recorded, until cleared", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      const fake = yield* KubeNodeFake
      assert.strictEqual(yield* Effect.flip(kube.recordEvent(podEvent("lost"))), refused)
      assert.strictEqual(yield* Effect.flip(kube.recordEvent(podEvent("lost too"))), refused)
      assert.deepStrictEqual(yield* Ref.get(fake.events), [])
      yield* Ref.set(fake.eventFailure, Option.none())
      yield* kube.recordEvent(podEvent("kept"))
      assert.deepStrictEqual((yield* Ref.get(fake.events)).map((event) => event.note), ["kept"])
      assert.strictEqual((yield* Ref.get(fake.calls)).length, 3)
    }).pipe(Effect.provide(KubeNodeFake.layer({ eventFailure: refused }))))

  it.effect("an Event does not spend a failure queued for the other calls, and they do not spend its", () =>
    Effect.gen(function*() {
      const kube = yield* KubeNode
      const fake = yield* KubeNodeFake
      yield* Ref.set(fake.failures, [unavailable("readNode")])
      yield* kube.recordEvent(podEvent("sent"))
      assert.strictEqual((yield* Effect.flip(kube.readNodeLabels("worker-1"))).status, 503)
      yield* Ref.set(fake.eventFailure, Option.some(refused))
      assert.deepStrictEqual(yield* kube.readNodeLabels("worker-1"), { [ZONE_LABEL]: "eastus-2" })
      assert.strictEqual(yield* Effect.flip(kube.recordEvent(podEvent("refused"))), refused)
      assert.deepStrictEqual((yield* Ref.get(fake.events)).map((event) => event.note), ["sent"])
    }).pipe(Effect.provide(fakeLayer)))
})
