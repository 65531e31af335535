import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Ref } from "effect"
import { TestClock } from "effect/testing"
import { ArmError } from "../../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake } from "../../../layers/azure/AmlfsApiFake.js"
import { Kube, KubeError, type KubePersistentVolumeClaim } from "../../../layers/kube/Kube.js"
import { KubeFake, objectKey } from "../../../layers/kube/KubeFake.js"
import { hsmAnnotations, readWorkState } from "../../../src/controller/hsm/HsmAnnotations.js"
import { HSM_LEASE_NAME, HsmLoopLayer } from "../../../src/controller/hsm/HsmLoopLayer.js"
import { reconcileHsmOnce, REQUEST_EDIT_SETTLE, runHsmLoop } from "../../../src/controller/hsm/HsmReconciler.js"

const DRIVER = "azurelustre.csi.azure.com"
const hsm = {
  container: "/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default/containers/data",
  loggingContainer: "/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default/containers/logs",
  importPrefixesInitial: ["/"]
}

const claim = (name: string, annotations: Readonly<Record<string, string>>): KubePersistentVolumeClaim => ({
  namespace: "apps",
  name,
  uid: `uid-${name}`,
  volumeName: `pv-${name}`,
  annotations
})

const volume = (name: string, handle: string) => ({
  name: `pv-${name}`,
  driver: DRIVER,
  volumeHandle: handle,
  claim: { namespace: "apps", name, uid: `uid-${name}` }
})

const layers = (claims: ReadonlyArray<KubePersistentVolumeClaim>, handles: Readonly<Record<string, string>>) =>
  Layer.mergeAll(
    KubeFake.layer({ claims, volumes: claims.map((one) => volume(one.name, handles[one.name] ?? "amlfs-1#lustrefs#10.0.0.4##t#rg-1")) }),
    AmlfsApiFake.layer({ filesystems: [{ resourceGroup: "rg-1", name: "amlfs-1", spec: { hsm } }] })
  )

const annotationsOf = (name: string) =>
  Effect.gen(function*() {
    const claims = yield* Ref.get((yield* KubeFake).claims)
    return claims.find((one) => one.name === name)?.annotations ?? {}
  })

const stateOf = (name: string, key: string) =>
  Effect.map(annotationsOf(name), (annotations) => Option.getOrUndefined(readWorkState(annotations[key])))

const annotate = (name: string, annotations: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    yield* Ref.update((yield* KubeFake).claims, (claims) =>
      claims.map((one) => one.name === name ? { ...one, annotations: { ...one.annotations, ...annotations } } : one))
  })

const reasons = Effect.gen(function*() {
  return (yield* Ref.get((yield* KubeFake).events)).map((event) => `${event.regarding.name}:${event.reason}`)
})

const importPuts = Effect.gen(function*() {
  return (yield* (yield* AmlfsApiFake).counters).jobPutsByFilesystem["amlfs-1"] ?? 0
})

describe("the HSM reconciler against the fakes", () => {
  it.effect("an import runs once, across a lost state write and a restarted controller, and its end is written back", () =>
    Effect.gen(function*() {
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* importPuts, 1)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.state, "Started")
      // The state write is lost (a crash after the PUT): the next controller finds the job in ARM.
      yield* Ref.update((yield* KubeFake).claims, (claims) =>
        claims.map((one) => ({ ...one, annotations: { [hsmAnnotations.import]: one.annotations[hsmAnnotations.import] ?? "" } })))
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.state, "InProgress")
      yield* TestClock.adjust(Duration.minutes(6))
      yield* reconcileHsmOnce(DRIVER)
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* importPuts, 1)
      const done = yield* stateOf("data", hsmAnnotations.importState)
      assert.strictEqual(done?.state, "Completed")
      assert.strictEqual(done?.job, "import-r1")
      assert.deepStrictEqual(yield* reasons, ["data:ImportStarted", "data:ImportCompleted"])
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.import]: "r1:/data" })], {}))))

  it.effect("a cancel stops the running import; a second request waits for the first to end", () =>
    Effect.gen(function*() {
      const arm = yield* AmlfsApiFake
      yield* reconcileHsmOnce(DRIVER)
      yield* annotate("data", { [hsmAnnotations.import]: "r2:/models" })
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.state, "Queued")
      assert.strictEqual(yield* importPuts, 1)
      yield* annotate("data", { [hsmAnnotations.import]: "r1:/data", [hsmAnnotations.importCancel]: "r1" })
      yield* reconcileHsmOnce(DRIVER)
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* arm.count("cancelImportJob"), 1)
      yield* TestClock.adjust(Duration.minutes(2))
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.state, "Canceled")
      yield* annotate("data", { [hsmAnnotations.import]: "r2:/models" })
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* importPuts, 2)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.job, "import-r2")
      assert.strictEqual(yield* arm.count("cancelImportJob"), 1)
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.import]: "r1:/data" })], {}))))

  it.effect("an archive runs, and the last archive is written when it ends", () =>
    Effect.gen(function*() {
      const arm = yield* AmlfsApiFake
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* arm.count("archive"), 1)
      yield* TestClock.adjust(Duration.minutes(6))
      yield* reconcileHsmOnce(DRIVER)
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* arm.count("archive"), 1)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.archiveState))?.state, "Completed")
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.lastArchive))?.request, "a1")
      assert.deepStrictEqual(yield* reasons, ["data:ArchiveStarted", "data:Archived"])
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.archive]: "a1:/" })], {}))))

  it.effect("a PVC whose requests have ended costs no ARM read until a request changes", () =>
    Effect.gen(function*() {
      const arm = yield* AmlfsApiFake
      const armReads = Effect.all([arm.count("get"), arm.count("listImportJobs")]).pipe(Effect.map(([gets, lists]) => gets + lists))
      yield* reconcileHsmOnce(DRIVER)
      yield* TestClock.adjust(Duration.minutes(6))
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.state, "Completed")
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.archiveState))?.state, "Completed")
      const readsWhenDone = yield* armReads
      yield* reconcileHsmOnce(DRIVER)
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* armReads, readsWhenDone)
      yield* annotate("data", { [hsmAnnotations.archive]: "a2:/results" })
      yield* reconcileHsmOnce(DRIVER)
      assert.isAbove(yield* armReads, readsWhenDone)
      assert.strictEqual(yield* arm.count("archive"), 2)
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.import]: "r1:/data", [hsmAnnotations.archive]: "a1:/" })], {}))))

  it.effect("a static volume's request is refused once, with a Warning, and ARM is not asked", () =>
    Effect.gen(function*() {
      yield* reconcileHsmOnce(DRIVER)
      yield* reconcileHsmOnce(DRIVER)
      const state = yield* stateOf("static", hsmAnnotations.importState)
      assert.strictEqual(state?.state, "Invalid")
      assert.match(state?.error ?? "", /static/)
      assert.deepStrictEqual(yield* reasons, ["static:ImportRefused"])
      assert.deepStrictEqual((yield* Ref.get((yield* AmlfsApiFake).calls)).length, 0)
    }).pipe(Effect.provide(layers([claim("static", { [hsmAnnotations.import]: "/" })], { static: "amlfs-1#lustrefs#10.0.0.4##f#" }))))
})

describe("the HSM loop with two replicas", () => {
  it.effect("only the Lease holder acts; when it stops, the other takes over after the lease expires", () =>
    Effect.gen(function*() {
      const kube = yield* KubeFake
      const lease = (identity: string) => ({ namespace: "kube-system", name: "azurelustre-csi-hsm", identity })
      const first = yield* Effect.forkScoped(Effect.scoped(runHsmLoop({ driverName: DRIVER, lease: lease("replica-a") })))
      yield* TestClock.adjust(Duration.seconds(1))
      const second = yield* Effect.forkScoped(Effect.scoped(runHsmLoop({ driverName: DRIVER, lease: lease("replica-b") })))
      yield* TestClock.adjust(Duration.seconds(61))
      const holder = () =>
        Effect.map(Ref.get(kube.leases), (leases) => leases.get(objectKey("kube-system", "azurelustre-csi-hsm"))?.holderIdentity)
      assert.strictEqual(yield* holder(), "replica-a")
      assert.strictEqual(yield* importPuts, 1)
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust(Duration.seconds(30))
      assert.strictEqual(yield* holder(), "replica-b")
      yield* annotate("data", { [hsmAnnotations.import]: "r2:/more" })
      yield* TestClock.adjust(Duration.minutes(10))
      assert.strictEqual(yield* importPuts, 2)
      yield* Fiber.interrupt(second)
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.import]: "r1:/data" })], {}))))
})

describe("the HSM loop wakes on a user's edit of a request (a watch of PVCs)", () => {
  const lease = { namespace: "kube-system", name: "azurelustre-csi-hsm", identity: "replica-a" }
  const listings = Effect.gen(function*() {
    return (yield* Ref.get((yield* KubeFake).calls)).filter((call) => call._tag === "ListPersistentVolumes").length
  })

  it.effect("a new request is started within REQUEST_EDIT_SETTLE, not at the next resync; the loop's own writes wake nothing", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(runHsmLoop({ driverName: DRIVER, lease }))
      yield* TestClock.adjust(Duration.seconds(31))
      const before = yield* listings
      yield* (yield* KubeFake).editClaim("apps", "data", { [hsmAnnotations.import]: "r1:/data" })
      yield* TestClock.adjust(REQUEST_EDIT_SETTLE)
      assert.strictEqual(yield* importPuts, 1)
      assert.strictEqual(yield* listings, before + 1)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.request, "r1")
      // Its state written (a change the watch sends too), the loop waits for the resync, 30 s after its round.
      yield* TestClock.adjust(Duration.seconds(29))
      assert.strictEqual(yield* listings, before + 1)
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* listings, before + 2)
    }).pipe(Effect.provide(layers([claim("data", {})], {}))))

  it.effect("the resync is the loop's option (--hsm-resync): 2 minutes apart, nothing between", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(runHsmLoop({ driverName: DRIVER, lease, resync: Duration.minutes(2) }))
      yield* TestClock.adjust(Duration.seconds(1))
      const first = yield* listings
      yield* TestClock.adjust(Duration.seconds(118))
      assert.strictEqual(yield* listings, first)
      yield* TestClock.adjust(Duration.seconds(2))
      assert.strictEqual(yield* listings, first + 1)
    }).pipe(Effect.provide(layers([claim("data", {})], {}))))

  it.effect("edits in a burst make one round; a watch that fails is made again, and edits after it wake the loop", () =>
    Effect.gen(function*() {
      const kube = yield* KubeFake
      yield* kube.failNext("WatchPersistentVolumeClaims", new KubeError({ operation: "watchPersistentVolumeClaims", status: 403, message: "forbidden" }))
      yield* Effect.forkScoped(runHsmLoop({ driverName: DRIVER, lease }))
      yield* TestClock.adjust(Duration.seconds(31))
      assert.strictEqual((yield* Ref.get(kube.calls)).filter((call) => call._tag === "WatchPersistentVolumeClaims").length, 2)
      const before = yield* listings
      yield* kube.editClaim("apps", "data", { [hsmAnnotations.import]: "r1:/data" })
      yield* TestClock.adjust(Duration.millis(500))
      yield* kube.editClaim("apps", "data", { [hsmAnnotations.archive]: "a1:/" })
      yield* TestClock.adjust(REQUEST_EDIT_SETTLE)
      assert.strictEqual(yield* listings, before + 1)
      assert.strictEqual(yield* importPuts, 1)
    }).pipe(Effect.provide(layers([claim("data", {})], {}))))
})

describe("HsmLoopLayer", () => {
  it.effect("runs the loop in the background while its scope lasts, electing with Lease azurelustre-csi-hsm", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(HsmLoopLayer({ driverName: DRIVER, namespace: "csi", identity: "replica-a" }))
        yield* TestClock.adjust(Duration.seconds(31))
        assert.strictEqual(yield* importPuts, 1)
      }))
      const lease = (yield* Ref.get((yield* KubeFake).leases)).get(objectKey("csi", HSM_LEASE_NAME))
      assert.strictEqual(lease?.holderIdentity, "replica-a")
      const calls = (yield* Ref.get((yield* KubeFake).calls)).length
      yield* TestClock.adjust(Duration.minutes(5))
      assert.strictEqual((yield* Ref.get((yield* KubeFake).calls)).length, calls)
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.import]: "r1:/data" })], {}))))
})

describe("the HSM reconciler when ARM refuses", () => {
  const armError = (statusCode: number, code: string) =>
    new ArmError({ operation: "createImportJob", statusCode, code, message: `${code} from ARM`, retryAfterMillis: undefined })

  it.effect("throttling writes nothing and the next round starts it; a 409 queues it; a 400 ends it Failed, once", () =>
    Effect.gen(function*() {
      const arm = yield* AmlfsApiFake
      yield* arm.failNext(armError(429, "TooManyRequests"), { operation: "beginImportJob" })
      yield* reconcileHsmOnce(DRIVER)
      assert.isUndefined(yield* stateOf("data", hsmAnnotations.importState))
      yield* arm.failNext(armError(409, "Conflict"), { operation: "beginImportJob" })
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.importState))?.state, "Queued")
      yield* arm.failNext(armError(400, "InvalidParameter"), { operation: "beginImportJob" })
      yield* reconcileHsmOnce(DRIVER)
      const failed = yield* stateOf("data", hsmAnnotations.importState)
      assert.strictEqual(failed?.state, "Failed")
      assert.match(failed?.error ?? "", /InvalidParameter/)
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* importPuts, 0)
      assert.strictEqual(yield* arm.count("beginImportJob"), 3)
      assert.deepStrictEqual(yield* reasons, ["data:ImportFailed"])
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.import]: "r1:/data" })], {}))))
})

describe("the HSM reconciler's archive across a crash", () => {
  it.effect("an archive whose start was recorded but not its outcome is recognised in ARM, not started again", () =>
    Effect.gen(function*() {
      const arm = yield* AmlfsApiFake
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* arm.count("archive"), 1)
      // As if the controller died after the POST: the PVC still says what was written before it.
      yield* annotate("data", {
        [hsmAnnotations.archiveState]: JSON.stringify({
          ...(yield* stateOf("data", hsmAnnotations.archiveState)),
          state: "Starting"
        })
      })
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* arm.count("archive"), 1)
      assert.strictEqual((yield* stateOf("data", hsmAnnotations.archiveState))?.state, "InProgress")
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.archive]: "a1:/" })], {}))))

  it.effect("when the start cannot be recorded, the archive is not started", () =>
    Effect.gen(function*() {
      const arm = yield* AmlfsApiFake
      const refused = new KubeError({ operation: "patchPersistentVolumeClaim", status: 403, message: "forbidden" })
      yield* reconcileHsmOnce(DRIVER).pipe(
        Effect.provide(Layer.succeed(Kube, {
          ...(yield* Kube),
          patchPersistentVolumeClaimAnnotations: () => Effect.fail(refused)
        }))
      )
      assert.strictEqual(yield* arm.count("archive"), 0)
      yield* reconcileHsmOnce(DRIVER)
      assert.strictEqual(yield* arm.count("archive"), 1)
    }).pipe(Effect.provide(layers([claim("data", { [hsmAnnotations.archive]: "a1:/" })], {}))))
})
