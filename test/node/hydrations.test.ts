import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { HsmFake, releasedFile } from "../../layers/hsm/HsmFake.js"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { LustreShellFake } from "../../layers/lustre/LustreShellFake.js"
import { defaultHydrationSettings } from "../../src/node/hsm/hydrate.js"
import { type HydrationEvent, HydrationEvents } from "../../src/node/hsm/HydrationEvents.js"
import { HydrationRecords } from "../../src/node/hsm/HydrationRecords.js"
import { type HydrationRequest, Hydrations } from "../../src/node/hsm/Hydrations.js"
import { NodeConfig } from "../../src/node/NodeConfig.js"

const shared = "/m/10.0.0.4_lustrefs"
const files = (count: number) =>
  Array.from({ length: count }, (_, i) => [`${shared}/data/f${i}`, releasedFile(100n)] as const)

const request = (mode: "background" | "before-start"): HydrationRequest => ({
  key: "0:1 /data",
  volumeId: "vol",
  filesystem: { mgsAddress: "10.0.0.4", fsName: "lustrefs" },
  subDirComponents: ["data"],
  plan: { mode, paths: [[]], shown: "/" },
  subject: undefined
})

const restoresAskedFor = Effect.gen(function*() {
  const calls = yield* Ref.get((yield* HsmFake).calls)
  return calls.filter((call) => call.operation === "restore").reduce((sum, call) => sum + call.paths, 0)
})

/** Lets the hydration's fibers and its record files (real I/O) move on for `seconds` of test time. */
const elapse = (seconds: number) =>
  Effect.gen(function*() {
    for (let second = 0; second < seconds; second++) {
      yield* TestClock.adjust("1 second")
      yield* TestClock.withLive(Effect.sleep("1 millis"))
    }
  })

const layers = (hsm: Parameters<typeof HsmFake.layer>[0]) =>
  Hydrations.layer.pipe(
    Layer.provide(Layer.succeed(HydrationRecords, HydrationRecords.in(Fs.mkdtempSync(Path.join(Os.tmpdir(), "hydrations-"))))),
    Layer.provide(HydrationEvents.layerRecording(Ref.makeUnsafe<ReadonlyArray<HydrationEvent>>([]))),
    Layer.provideMerge(Layer.mergeAll(
      Layer.succeed(NodeConfig, {
        ...NodeConfig.defaults,
        nodeId: "n",
        zone: undefined,
        mountRoot: "/m",
        podsDir: "/k/pods",
        hydration: { ...defaultHydrationSettings, maxInFlight: 8, polling: Schedule.spaced("1 second") }
      }),
      LustreShellFake.layer({ directories: [shared] }),
      HsmFake.layer(hsm)
    ))
  )

const withDataDirectory = Effect.gen(function*() {
  const shell = yield* LustreShell
  yield* shell.mountLustre({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }, shared, [])
  yield* Effect.scoped(shell.openDirectoryBeneath(shared, ["data"], { symlinks: "within", createMode: 0o755 }))
})

describe("Hydrations", () => {
  it.effect("a wait the kubelet's deadline cuts leaves the restores running; the retry joins them and nothing is asked for twice", () =>
    Effect.gen(function*() {
      yield* withDataDirectory
      const hydrations = yield* Hydrations
      yield* hydrations.start(request("before-start"))
      // The first publish waits 10 s of a 60 s hydration, then its deadline cuts it.
      const cut = yield* hydrations.awaitDone("0:1 /data").pipe(Effect.timeout("10 seconds"), Effect.forkChild)
      yield* elapse(12)
      assert.isTrue(Exit.isFailure(yield* Fiber.await(cut)))
      assert.strictEqual((yield* hydrations.viewOf("0:1 /data"))?.state, "running")
      // The retried publish: start joins the running hydration, the wait ends when it does.
      yield* hydrations.start(request("before-start"))
      const retried = yield* hydrations.awaitDone("0:1 /data").pipe(Effect.forkChild)
      yield* elapse(80)
      const done = yield* Fiber.join(retried)
      assert.strictEqual(done.restored, 20)
      assert.strictEqual(yield* restoresAskedFor, 20)
      assert.strictEqual((yield* Ref.get((yield* HsmFake).calls)).filter((call) => call.operation === "findReleased").length, 1)
    }).pipe(Effect.provide(layers({ files: files(20), restoreTakes: "20 seconds" }))))

  it.effect("stop ends a background hydration: no restore is asked for after it, and its waiters hear why", () =>
    Effect.gen(function*() {
      yield* withDataDirectory
      const hydrations = yield* Hydrations
      yield* hydrations.start(request("background"))
      const waiter = yield* hydrations.awaitDone("0:1 /data").pipe(Effect.forkChild)
      yield* elapse(5)
      const before = yield* restoresAskedFor
      assert.strictEqual(before, 8)
      yield* hydrations.stop("0:1 /data")
      yield* elapse(120)
      assert.strictEqual(yield* restoresAskedFor, before)
      assert.isUndefined(yield* hydrations.viewOf("0:1 /data"))
      const heard = yield* Fiber.await(waiter)
      assert.isTrue(Exit.isFailure(heard))
      assert.include(String(Exit.isFailure(heard) ? heard.cause : ""), "the volume is no longer published here")
    }).pipe(Effect.provide(layers({ files: files(30), restoreTakes: "30 seconds" }))))

  it.effect("hydrations of two volumes run side by side: one that hangs does not hold the other", () =>
    Effect.gen(function*() {
      yield* withDataDirectory
      const shell = yield* LustreShell
      yield* Effect.scoped(shell.openDirectoryBeneath(shared, ["other"], { symlinks: "within", createMode: 0o755 }))
      const hydrations = yield* Hydrations
      yield* hydrations.start(request("before-start"))
      const other = { ...request("before-start"), key: "0:1 /other", subDirComponents: ["other"] }
      yield* hydrations.start(other)
      const otherDone = yield* hydrations.awaitDone(other.key).pipe(Effect.forkChild)
      yield* elapse(10)
      assert.strictEqual((yield* Fiber.join(otherDone)).restored, 2)
      assert.strictEqual((yield* hydrations.viewOf("0:1 /data"))?.state, "running")
    }).pipe(Effect.provide(layers({
      files: [...files(2), [`${shared}/other/a`, releasedFile(1n)], [`${shared}/other/b`, releasedFile(1n)]],
      restoreTakes: "2 seconds",
      hangingRestores: [`${shared}/data/f0`]
    }))))
})
