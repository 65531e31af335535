/**
 * ClusterExpander across controller restarts, in virtual time against one fake ARM: a new
 * process (an empty in-memory registry) finds the job the previous one started by its
 * deterministic name and waits for it instead of starting another, and refuses to start a job
 * while someone else's runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake } from "../../layers/azure/AmlfsApiFake.js"
import { ClusterExpander } from "../../src/controller/dynamic/ClusterExpander.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { SkuCatalog } from "../../src/controller/dynamic/SkuCatalog.js"
import { VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { TIB } from "../../src/domain/SkuCapacity.js"
import { testClusterSpec, testControllerDefaults } from "../support/clusterFixtures.js"

const MINUTE = 60_000
const dependencies = Layer.mergeAll(
  AmlfsApiFake.layer({
    filesystems: [{ resourceGroup: "rg-test", name: "fs-1", spec: testClusterSpec }],
    expansionDurationMillis: 20 * MINUTE
  }),
  Layer.succeed(ControllerConfig, testControllerDefaults),
  Layer.succeed(VolumeEvents, VolumeEvents.of({ record: () => Effect.void }))
)

/** One controller process: its own ClusterExpander (and registry), over the shared fake ARM. */
const startProcess = (shared: Context.Context<AmlfsApi | AmlfsApiFake | ControllerConfig | VolumeEvents>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = Layer.fresh(ClusterExpander.layer.pipe(Layer.provideMerge(SkuCatalog.layer)))
    const context = yield* Layer.buildWithScope(layer.pipe(Layer.provide(Layer.succeedContext(shared))), scope)
    return { scope, expander: Context.get(context, ClusterExpander) }
  })

const toTiB = (tib: bigint) => ({ requiredBytes: tib * TIB, limitBytes: 0n })

const puts = AmlfsApiFake.use((fake) => fake.count("beginExpansion"))

describe("ClusterExpander after a restart", () => {
  it.effect("resumes the running job instead of starting another, and answers its capacity", () =>
    Effect.gen(function*() {
      const shared = yield* Layer.build(dependencies)
      const first = yield* startProcess(shared)
      const caller = yield* Effect.forkChild(first.expander.ensureExpanded("rg-test", "fs-1", toTiB(40n)))
      yield* TestClock.adjust(Duration.minutes(1))
      assert.strictEqual(yield* Effect.provideContext(puts, shared), 1)
      // The process dies mid-expansion: its caller and its own fiber are gone, ARM goes on.
      yield* Fiber.interrupt(caller)
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* startProcess(shared)
      const resumed = yield* Effect.forkChild(second.expander.ensureExpanded("rg-test", "fs-1", toTiB(40n)))
      yield* TestClock.adjust(Duration.minutes(20))
      const exit = yield* Fiber.await(resumed)
      assert.deepStrictEqual(exit, Exit.succeed(48))
      assert.strictEqual(yield* Effect.provideContext(puts, shared), 1)
    }).pipe(Effect.scoped))

  it.effect("refuses another size while a job it did not start runs: FAILED_PRECONDITION naming the job", () =>
    Effect.gen(function*() {
      const shared = yield* Layer.build(dependencies)
      const first = yield* startProcess(shared)
      const caller = yield* Effect.forkChild(first.expander.ensureExpanded("rg-test", "fs-1", toTiB(40n)))
      yield* TestClock.adjust(Duration.minutes(1))
      yield* Fiber.interrupt(caller)
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* startProcess(shared)
      const refused = yield* Effect.flip(second.expander.ensureExpanded("rg-test", "fs-1", toTiB(64n)))
      assert.strictEqual(refused._tag, "FailedPrecondition")
      assert.include(refused.message, "expand-to-48tib")
      assert.strictEqual(yield* Effect.provideContext(puts, shared), 1)
    }).pipe(Effect.scoped))
})
