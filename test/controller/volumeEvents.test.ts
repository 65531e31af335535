/**
 * The Events of slow operations, as Kubernetes records them (VolumeEvents.layerKube over the
 * Kube fake): each carries its own action, so `kubectl get events` tells a creation from an
 * expansion; and an Event the API server never gets is logged whole.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Logger, Ref } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApiFake } from "../../layers/azure/AmlfsApiFake.js"
import { KubeError } from "../../layers/kube/Kube.js"
import { KubeFake } from "../../layers/kube/KubeFake.js"
import { ClusterExpander } from "../../src/controller/dynamic/ClusterExpander.js"
import { ClusterProvisioner } from "../../src/controller/dynamic/ClusterProvisioner.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { SkuCatalog } from "../../src/controller/dynamic/SkuCatalog.js"
import { VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { PVC_NAME_TAG, PVC_NAMESPACE_TAG } from "../../src/domain/ClusterTags.js"
import { TIB } from "../../src/domain/SkuCapacity.js"
import { testClusterSpec, testControllerDefaults } from "../support/clusterFixtures.js"

const pvc = { namespace: "ml", name: "training-data" }

const controller = (kube: Parameters<typeof KubeFake.layer>[0] = {}) =>
  Layer.mergeAll(ClusterProvisioner.layer, ClusterExpander.layer.pipe(Layer.provideMerge(SkuCatalog.layer))).pipe(
    Layer.provideMerge(Layer.mergeAll(
      AmlfsApiFake.layer({
        createDurationMillis: 60_000,
        expansionDurationMillis: 60_000,
        filesystems: [{
          resourceGroup: "rg-test",
          name: "pvc-grown",
          spec: { ...testClusterSpec, tags: { ...testClusterSpec.tags, [PVC_NAME_TAG]: pvc.name, [PVC_NAMESPACE_TAG]: pvc.namespace } }
        }]
      }),
      Layer.succeed(ControllerConfig, testControllerDefaults),
      VolumeEvents.layerKube.pipe(Layer.provideMerge(KubeFake.layer(kube)))
    ))
  )

/** Runs `operation` forked while virtual time passes, to its end. */
const runToEnd = <A, E, R>(operation: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(operation)
    yield* TestClock.adjust(Duration.minutes(30))
    return yield* Fiber.join(fiber)
  })

describe("VolumeEvents through Kubernetes", () => {
  it.effect("an expansion's Events say Expanding and a creation's say Provisioning", () =>
    Effect.gen(function*() {
      yield* runToEnd((yield* ClusterExpander).ensureExpanded("rg-test", "pvc-grown", { requiredBytes: 32n * TIB, limitBytes: 0n }))
      yield* runToEnd((yield* ClusterProvisioner).ensureCreated({ resourceGroup: "rg-test", name: "pvc-new", spec: testClusterSpec, pvc }))
      const recorded = yield* Ref.get((yield* KubeFake).events)
      assert.deepStrictEqual(recorded.map((event) => `${event.action} ${event.reason} ${event.regarding.namespace}/${event.regarding.name}`), [
        "Expanding ExpansionStarted ml/training-data",
        "Expanding Expanded ml/training-data",
        "Provisioning ProvisioningStarted ml/training-data",
        "Provisioning Provisioned ml/training-data"
      ])
    }).pipe(Effect.provide(controller())))

  it.effect("an Event the API server does not take (no Kubernetes API) is logged whole, and the operation goes on", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const unreachable = new KubeError({
        operation: "createEvent",
        status: 0,
        message: "createEvent event about persistentvolumeclaim ml/training-data: cannot reach the Kubernetes API server at http://localhost:8080"
      })
      const kube = { failures: [unreachable, unreachable] }
      const capacity = yield* runToEnd(
        Effect.flatMap(Effect.service(ClusterExpander), (expander) =>
          expander.ensureExpanded("rg-test", "pvc-grown", { requiredBytes: 32n * TIB, limitBytes: 0n }))
      ).pipe(
        Effect.provide(controller(kube)),
        Effect.provide(Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))]))
      )
      assert.strictEqual(capacity, 32)
      assert.deepStrictEqual(lines.filter((line) => line.startsWith("cannot record")), [
        "cannot record an Event on the PVC; the event was Normal ExpansionStarted: expanding Azure Managed Lustre pvc-grown from 16 to 32 TiB " +
          "(expansion job expand-to-32tib)",
        "cannot record an Event on the PVC; the event was Normal Expanded: Azure Managed Lustre pvc-grown now has 32 TiB (expansion job expand-to-32tib)"
      ])
    }))
})
