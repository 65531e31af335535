import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import { KubeError } from "../../layers/kube/Kube.js"
import { KubeNodeFake } from "../../layers/kube/KubeNodeFake.js"
import { STARTUP_TAINT_KEY } from "../../src/domain/KubernetesKeys.js"
import { NotReady, Readiness } from "../../src/health/Readiness.js"
import { removeStartupTaint } from "../../src/node/startupTaint.js"

const NODE = "aks-lustre-1"
const DRIVER = "azurelustre.csi.azure.com"
const startupTaints = [
  { key: STARTUP_TAINT_KEY, effect: "NoSchedule" },
  { key: STARTUP_TAINT_KEY, effect: "NoExecute" }
]
const otherTaint = { key: "sku", value: "gpu", effect: "NoSchedule" }

/** The node plugin's world: readiness switched by a Ref, the Node and its CSINode in the fake. */
const world = (options: { readonly registered: boolean; readonly failures?: ReadonlyArray<KubeError> }) => {
  const ready = Ref.makeUnsafe(false)
  const readiness = Readiness.layerFromChecks([{
    name: "lnet-nid",
    run: Effect.flatMap(Ref.get(ready), (ok) => ok ? Effect.void : Effect.fail(new NotReady({ reason: "no NID" })))
  }])
  const kube = KubeNodeFake.layer({
    nodes: { [NODE]: { taints: [...startupTaints, otherTaint] } },
    csiNodes: { [NODE]: options.registered ? [DRIVER] : [] },
    failures: options.failures ?? []
  })
  return { ready, layer: Layer.merge(readiness, kube) }
}

const taintsLeft = Effect.gen(function*() {
  return (yield* Ref.get((yield* KubeNodeFake).nodes)).get(NODE)?.taints ?? []
})
const removals = Effect.gen(function*() {
  return (yield* Ref.get((yield* KubeNodeFake).calls)).filter((call) => call._tag === "RemoveNodeTaint").length
})

const remover = removeStartupTaint({ nodeName: NODE, driverName: DRIVER, pollInterval: "2 seconds" })

describe("the start-up taint", () => {
  it.effect("stays while the node is not ready, and goes (every effect, only that key) once it is", () => {
    const { ready, layer } = world({ registered: true })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(remover)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* taintsLeft, [...startupTaints, otherTaint])
      assert.strictEqual(yield* removals, 0)

      yield* Ref.set(ready, true)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* taintsLeft, [otherTaint])
      assert.strictEqual(yield* removals, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("stays until kubelet has registered the driver on the node, even when ready", () => {
    const { ready, layer } = world({ registered: false })
    return Effect.gen(function*() {
      yield* Ref.set(ready, true)
      const fiber = yield* Effect.forkChild(remover)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* removals, 0)

      const fake = yield* KubeNodeFake
      yield* Ref.set(fake.csiNodes, new Map([[NODE, ["other.csi.example.com", DRIVER]]]))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* taintsLeft, [otherTaint])
    }).pipe(Effect.provide(layer))
  })

  it.effect("retries the Kubernetes API's failures with backoff until the taint is gone", () => {
    const failures = [
      new KubeError({ operation: "readCSINode", status: 503, message: "the API server answered HTTP 503" }),
      new KubeError({ operation: "readNode", status: 429, message: "throttled" }),
      new KubeError({ operation: "patchNode", status: 422, message: "the test operation failed: the taints changed" }),
      new KubeError({ operation: "patchNode", status: 403, message: "may not patch nodes" })
    ]
    const { ready, layer } = world({ registered: true, failures })
    return Effect.gen(function*() {
      yield* Ref.set(ready, true)
      const fiber = yield* Effect.forkChild(remover)
      // Backoff 1 s, 2 s, 4 s, 8 s: the fifth attempt, 15 s in, succeeds.
      yield* TestClock.adjust("14 seconds")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      assert.strictEqual((yield* taintsLeft).length, 3)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* taintsLeft, [otherTaint])
    }).pipe(Effect.provide(layer))
  })

  it.effect("finishes at once, sending no patch, when the node has no start-up taint", () => {
    const { ready, layer } = world({ registered: true })
    return Effect.gen(function*() {
      yield* Ref.set(ready, true)
      const fake = yield* KubeNodeFake
      yield* Ref.set(fake.nodes, new Map([[NODE, { labels: {}, taints: [otherTaint] }]]))
      yield* remover
      assert.deepStrictEqual(yield* taintsLeft, [otherTaint])
    }).pipe(Effect.provide(layer))
  })
})
