import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import { Kube, KubeError, type KubeEvent, truncateNote } from "../../layers/kube/Kube.js"
import { KubeFake, secretKey } from "../../layers/kube/KubeFake.js"

const event = (note: string): KubeEvent => ({
  regarding: { kind: "PersistentVolumeClaim", namespace: "apps", name: "claim-1" },
  type: "Normal",
  reason: "ProvisioningInProgress",
  action: "CreateVolume",
  note
})

describe("KubeFake", () => {
  it.effect("records Events in order, the note cut as the live layer cuts it", () =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const fake = yield* KubeFake
      const long = "x".repeat(2000)
      yield* kube.recordEvent(event("started"))
      yield* kube.recordEvent(event(long))
      const events = yield* Ref.get(fake.events)
      assert.deepStrictEqual(events.map((recorded) => recorded.note), ["started", truncateNote(long)])
      assert.strictEqual(Buffer.byteLength(events[1]?.note ?? "", "utf8"), 1024)
      assert.deepStrictEqual((yield* Ref.get(fake.calls)).map((call) => call._tag), ["RecordEvent", "RecordEvent"])
    }).pipe(Effect.provide(KubeFake.layer())))

  it.effect("reads the Secrets it was given; an unknown one is Option.none", () =>
    Effect.gen(function*() {
      const kube = yield* Kube
      assert.deepStrictEqual(
        Option.getOrUndefined(yield* kube.readSecret("kube-system", "azure-cloud-provider")),
        { "cloud-config": "{}" }
      )
      assert.isTrue(Option.isNone(yield* kube.readSecret("kube-system", "other")))
      assert.deepStrictEqual(yield* Ref.get((yield* KubeFake).calls), [
        { _tag: "ReadSecret", namespace: "kube-system", name: "azure-cloud-provider" },
        { _tag: "ReadSecret", namespace: "kube-system", name: "other" }
      ])
    }).pipe(Effect.provide(KubeFake.layer({ secrets: { [secretKey("kube-system", "azure-cloud-provider")]: { "cloud-config": "{}" } } }))))

  it.effect("every call takes the next queued failure first; a failed Event is not recorded", () =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const failed = yield* Effect.flip(kube.recordEvent(event("lost")))
      assert.strictEqual(failed.status, 503)
      yield* kube.recordEvent(event("kept"))
      assert.deepStrictEqual((yield* Ref.get((yield* KubeFake).events)).map((recorded) => recorded.note), ["kept"])
    }).pipe(Effect.provide(KubeFake.layer({
      failures: [new KubeError({ operation: "createEvent", status: 503, message: "unavailable" })]
    }))))
})

describe("truncateNote", () => {
  it("leaves a note of up to 1024 bytes alone", () => {
    assert.strictEqual(truncateNote("a".repeat(1024)), "a".repeat(1024))
  })
  it("cuts at a character boundary and marks the cut", () => {
    const cut = truncateNote("€".repeat(400)) // 3 bytes each: 1200 bytes
    assert.strictEqual(cut, "€".repeat(340) + "...")
    assert.strictEqual(Buffer.byteLength(cut, "utf8"), 1023)
  })
})
