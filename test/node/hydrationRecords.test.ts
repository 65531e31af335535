import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { HsmFake, releasedFile } from "../../layers/hsm/HsmFake.js"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { LustreShellFake } from "../../layers/lustre/LustreShellFake.js"
import { type HydrationEvent, HydrationEvents } from "../../src/node/hsm/HydrationEvents.js"
import { HydrationRecords } from "../../src/node/hsm/HydrationRecords.js"
import { type HydrationRequest, hydrationKeyOf, Hydrations } from "../../src/node/hsm/Hydrations.js"
import { mountAt } from "../../src/node/mountTable.js"
import { NodeConfig } from "../../src/node/NodeConfig.js"

const mountRoot = "/m"
const shared = "/m/10.0.0.4_lustrefs"
const target = "/k/pods/p1/volumes/v"

const requestFor = (key: string, volumeId: string): HydrationRequest => ({
  key,
  volumeId,
  filesystem: { mgsAddress: "10.0.0.4", fsName: "lustrefs" },
  subDirComponents: ["data"],
  plan: { mode: "background", paths: [[]], shown: "/" },
  subject: { kind: "PersistentVolumeClaim", namespace: "ml", name: "datasets" }
})

describe("HydrationRecords and a restarted node plugin", () => {
  it.effect("a record reads back as written; a damaged one is dropped", () =>
    Effect.gen(function*() {
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "hydration-records-"))
      const records = HydrationRecords.in(directory)
      const request = requestFor("0:7 /data", "vol#1")
      yield* records.save(request)
      Fs.writeFileSync(Path.join(directory, "damaged.json"), "{not json")
      assert.deepStrictEqual(yield* records.all, [request])
      assert.deepStrictEqual(Fs.readdirSync(directory), [Fs.readdirSync(directory).find((name) => name !== "damaged.json")])
      yield* records.remove(request.key)
      assert.deepStrictEqual(yield* records.all, [])
    }))

  it.effect("resumes the hydrations of volumes still published here, and forgets the others", () =>
    Effect.gen(function*() {
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "hydration-records-"))
      const records = HydrationRecords.in(directory)
      const shell = yield* LustreShell
      // What the node looked like when the plugin stopped: Lustre mounted, data/ published to one pod.
      yield* shell.mountLustre({ mgsAddress: "10.0.0.4", fsName: "lustrefs" }, shared, [])
      yield* Effect.scoped(Effect.gen(function*() {
        const source = yield* shell.openDirectoryBeneath(shared, ["data"], { symlinks: "within", createMode: 0o755 })
        const onto = yield* shell.openDirectoryBeneath("/k/pods", ["p1", "volumes", "v"], { symlinks: "refuse", createMode: 0o750 })
        yield* shell.bindMount(source, onto)
      }))
      const published = mountAt(yield* Ref.get((yield* LustreShellFake).table), target)
      assert.isDefined(published)
      const stillPublished = requestFor(hydrationKeyOf(published!), "vol#published")
      yield* records.save(stillPublished)
      yield* records.save(requestFor("0:99 /gone", "vol#gone"))

      const hsm = yield* HsmFake
      yield* Effect.gen(function*() {
        const hydrations = yield* Hydrations
        // The records are real files: the clock moves on while their reads and writes are let finish.
        for (let step = 0; step < 200 && (yield* hydrations.viewOf(stillPublished.key))?.state !== "completed"; step++) {
          yield* TestClock.adjust("1 second")
          yield* TestClock.withLive(Effect.sleep("2 millis"))
        }
        const files = yield* Ref.get(hsm.files)
        assert.isFalse(files.get(`${shared}/data/a`)?.state.released)
        assert.isTrue(files.get(`${shared}/other/b`)?.state.released)
        assert.strictEqual((yield* hydrations.viewOf(stillPublished.key))?.state, "completed")
        // Completed: nothing left to resume.
        assert.deepStrictEqual(yield* records.all, [])
      }).pipe(
        Effect.provide(
          Hydrations.layer.pipe(
            Layer.provide(Layer.succeed(HydrationRecords, records)),
            Layer.provide(HydrationEvents.layerRecording(Ref.makeUnsafe<ReadonlyArray<HydrationEvent>>([])))
          )
        )
      )
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(NodeConfig, { ...NodeConfig.defaults, nodeId: "n", zone: undefined, mountRoot, podsDir: "/k/pods" }),
        LustreShellFake.layer({ directories: [shared, "/k/pods"] }),
        HsmFake.layer({
          files: [[`${shared}/data/a`, releasedFile(10n)], [`${shared}/other/b`, releasedFile(10n)]],
          restoreTakes: "2 seconds"
        })
      ))
    ))
})
