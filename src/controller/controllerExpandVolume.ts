import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { FailedPrecondition, InvalidArgument } from "../csi/errors.js"
import { invalidArgumentUnless, requireField, requireKnownVolume } from "../csi/requireValid.js"
import { quote } from "../domain/BoundedText.js"
import { checkCapacityRange } from "../domain/CapacityRange.js"
import { TIB } from "../domain/SkuCapacity.js"
import type { ControllerExpandVolumeRequest, ControllerExpandVolumeResponse } from "../gen/csi.js"
import { driverClusterOf } from "./driverCluster.js"
import { ClusterExpander } from "./dynamic/ClusterExpander.js"

/**
 * Growing a volume the driver created grows its AMLFS cluster through an ARM expansion job;
 * Lustre clients see the new space by themselves, so no node expansion follows. A static volume
 * is a filesystem someone else owns: the driver does not grow it, and says so, once for good.
 */
export const controllerExpandVolume = Effect.fn("ControllerExpandVolume")(function*(request: ControllerExpandVolumeRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  const range = request.capacityRange
  if (range === undefined || (range.requiredBytes === 0n && range.limitBytes === 0n)) {
    return yield* new InvalidArgument({ message: "capacity_range is required: say how large the volume should become" })
  }
  yield* invalidArgumentUnless(checkCapacityRange(range))
  const id = yield* requireKnownVolume(volumeId)
  // INVALID_ARGUMENT is the spec's "exceeds capabilities" and what the csi-resizer takes as
  // infeasible (ControllerResizeInfeasible, no retry); FAILED_PRECONDITION would read as "in use,
  // expand offline" to kubelet and the resizer.
  if (!id.createdByDriver) {
    return yield* new InvalidArgument({
      message: `volume ${quote(volumeId)} is an existing Lustre filesystem (static provisioning), not the driver's to grow: ` +
        "expand the filesystem in Azure, then edit the PersistentVolume's capacity to match"
    })
  }
  const cluster = driverClusterOf(id)
  if (Result.isFailure(cluster)) {
    return yield* new FailedPrecondition({
      message: `volume ${quote(volumeId)} says the driver created it but ${cluster.failure}; it cannot be expanded`
    })
  }
  const tib = yield* (yield* ClusterExpander).ensureExpanded(cluster.success.resourceGroup, cluster.success.name, range)
  const response: ControllerExpandVolumeResponse = {
    capacityBytes: BigInt(Math.ceil(tib)) * TIB,
    nodeExpansionRequired: false
  }
  return response
})
