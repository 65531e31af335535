import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Logger, Ref, References } from "effect"
import { TestClock } from "effect/testing"
import { KubeError } from "../../layers/kube/Kube.js"
import { KubeNodeFake } from "../../layers/kube/KubeNodeFake.js"
import { resolveNodeZone, ZONE_LABEL } from "../../src/node/nodeZone.js"

interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** The log lines written while `program` runs, alongside its result. */
const withLogs = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    const capture = Logger.make(({ fiber, logLevel, message }) => {
      lines.push({
        level: logLevel,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        annotations: fiber.getRef(References.CurrentLogAnnotations)
      })
    })
    const result = yield* program.pipe(Effect.provide(Logger.layer([capture])))
    return { result, lines } as const
  })

const unavailable = (n: number) =>
  Array.from({ length: n }, () =>
    new KubeError({
      operation: "readNode",
      status: 503,
      message: "readNode node worker-1: the API server answered HTTP 503"
    }))

const calls = Effect.gen(function*() {
  return (yield* Ref.get((yield* KubeNodeFake).calls)).length
})

const nodes = {
  "worker-1": { labels: { [ZONE_LABEL]: "eastus-2", "kubernetes.io/hostname": "worker-1" } },
  "worker-2": { labels: { "kubernetes.io/hostname": "worker-2" } }
}

describe("resolveNodeZone", () => {
  it.effect("a zone given by flag wins, without asking Kubernetes", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* resolveNodeZone("westeurope-1", "worker-1"), "westeurope-1")
      assert.strictEqual(yield* calls, 0)
    }).pipe(Effect.provide(KubeNodeFake.layer({ nodes }))))

  it.effect("otherwise the node's topology.kubernetes.io/zone label; undefined when it has none", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* resolveNodeZone(undefined, "worker-1"), "eastus-2")
      assert.strictEqual(yield* resolveNodeZone("", "worker-1"), "eastus-2")
      const { result, lines } = yield* withLogs(resolveNodeZone(undefined, "worker-2"))
      assert.strictEqual(result, undefined)
      assert.deepStrictEqual(lines, [])
      assert.deepStrictEqual(yield* Ref.get((yield* KubeNodeFake).calls), [
        { _tag: "ReadNodeLabels", nodeName: "worker-1" },
        { _tag: "ReadNodeLabels", nodeName: "worker-1" },
        { _tag: "ReadNodeLabels", nodeName: "worker-2" }
      ])
    }).pipe(Effect.provide(KubeNodeFake.layer({ nodes }))))

  it.effect("retries after 500 ms, then 1 s: two failures, then the label", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(resolveNodeZone(undefined, "worker-1"))
      yield* TestClock.adjust("499 millis")
      assert.strictEqual(yield* calls, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* calls, 2)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* calls, 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "eastus-2")
      assert.strictEqual(yield* calls, 3)
    }).pipe(Effect.provide(KubeNodeFake.layer({ nodes, failures: unavailable(2) }))))

  it.effect("gives up after 5 retries (0.5 + 1 + 2 + 4 + 8 s): logs why and reports no zone", () =>
    Effect.gen(function*() {
      const { result, lines } = yield* withLogs(
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(resolveNodeZone(undefined, "worker-1"))
          yield* TestClock.adjust("15499 millis")
          assert.strictEqual(yield* calls, 5)
          yield* TestClock.adjust("1 millis")
          return yield* Fiber.join(fiber)
        })
      )
      assert.strictEqual(result, undefined)
      assert.strictEqual(yield* calls, 6)
      assert.strictEqual(lines.length, 1)
      assert.strictEqual(lines[0]?.level, "Warn")
      assert.strictEqual(lines[0]?.message, "cannot read the node's zone label; reporting no zone")
      assert.deepStrictEqual(lines[0]?.annotations, {
        nodeName: "worker-1",
        label: ZONE_LABEL,
        status: 503,
        reason: "readNode node worker-1: the API server answered HTTP 503"
      })
      // The seventh answer would have succeeded: the schedule, not the fake, stopped it.
      assert.strictEqual((yield* Ref.get((yield* KubeNodeFake).failures)).length, 4)
    }).pipe(Effect.provide(KubeNodeFake.layer({ nodes, failures: unavailable(10) }))))

  it.effect("a refusal that retrying cannot heal (404, 403) is reported at once", () =>
    Effect.gen(function*() {
      const { result, lines } = yield* withLogs(resolveNodeZone(undefined, "ghost"))
      assert.strictEqual(result, undefined)
      assert.strictEqual(yield* calls, 1)
      assert.strictEqual(lines[0]?.annotations["reason"], "node ghost not found")
      assert.strictEqual(lines[0]?.annotations["status"], 404)
      const forbidden = new KubeError({
        operation: "readNode",
        status: 403,
        message: "readNode node worker-1: the driver's service account may not read nodes: check its ClusterRole"
      })
      yield* Ref.set((yield* KubeNodeFake).failures, [forbidden])
      const refused = yield* withLogs(resolveNodeZone(undefined, "worker-1"))
      assert.strictEqual(refused.result, undefined)
      assert.strictEqual(yield* calls, 2)
      assert.strictEqual(refused.lines[0]?.annotations["reason"], forbidden.message)
    }).pipe(Effect.provide(KubeNodeFake.layer({ nodes }))))
})
