import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import { Kube, type KubeLease } from "../../layers/kube/Kube.js"
import { KubeFake } from "../../layers/kube/KubeFake.js"

const lease: KubeLease = {
  namespace: "kube-system",
  name: "azurelustre-csi-hsm",
  holderIdentity: "a",
  leaseDurationSeconds: 15,
  acquireTime: new Date(0),
  renewTime: new Date(0),
  leaseTransitions: 0,
  resourceVersion: undefined
}

describe("KubeFake: PVC annotations and Leases", () => {
  it.effect("a merge patch sets and removes annotations, leaving the others", () =>
    Effect.gen(function*() {
      const kube = yield* Kube
      yield* kube.patchPersistentVolumeClaimAnnotations("apps", "data", { "a/new": "1", "a/gone": null })
      const [claim] = yield* kube.listPersistentVolumeClaims
      assert.deepStrictEqual(claim?.annotations, { "a/kept": "k", "a/new": "1" })
      const missing = yield* Effect.flip(kube.patchPersistentVolumeClaimAnnotations("apps", "other", {}))
      assert.strictEqual(missing.status, 404)
    }).pipe(Effect.provide(KubeFake.layer({
      claims: [{ namespace: "apps", name: "data", uid: "u", volumeName: "pv", annotations: { "a/kept": "k", "a/gone": "g" } }]
    }))))

  it.effect("a Lease is created once and replaced only at the version last read", () =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const created = yield* kube.createLease(lease)
      assert.strictEqual((yield* Effect.flip(kube.createLease(lease))).status, 409)
      const renewed = yield* kube.replaceLease({ ...created, renewTime: new Date(5_000) })
      assert.strictEqual((yield* Effect.flip(kube.replaceLease({ ...created, holderIdentity: "b" }))).status, 409)
      assert.deepStrictEqual(yield* kube.readLease("kube-system", "azurelustre-csi-hsm"), Option.some(renewed))
      assert.deepStrictEqual(
        (yield* Ref.get((yield* KubeFake).calls)).map((call) => call._tag),
        ["CreateLease", "CreateLease", "ReplaceLease", "ReplaceLease", "ReadLease"]
      )
    }).pipe(Effect.provide(KubeFake.layer())))
})
