import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { FailedPrecondition } from "../csi/errors.js"
import { requireField } from "../csi/requireValid.js"
import { quote } from "../domain/BoundedText.js"
import { decodeVolumeId } from "../domain/VolumeId.js"
import type { DeleteVolumeRequest, DeleteVolumeResponse } from "../gen/csi.js"
import { driverClusterOf } from "./driverCluster.js"
import { ClusterProvisioner } from "./dynamic/ClusterProvisioner.js"
import { StaticVolumes } from "./StaticVolumes.js"

/**
 * Deleting a volume the driver created deletes its AMLFS cluster, when the cluster's tag agrees.
 * Deleting a static volume forgets it and leaves the filesystem and its data alone: it was not
 * the driver's to create. An id this driver cannot read names no volume of its own: already gone.
 */
export const deleteVolume = Effect.fn("DeleteVolume")(function*(request: DeleteVolumeRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  const response: DeleteVolumeResponse = {}
  const id = decodeVolumeId(volumeId)
  if (Result.isFailure(id)) return response
  if (id.success.createdByDriver) {
    const cluster = driverClusterOf(id.success)
    if (Result.isFailure(cluster)) {
      return yield* new FailedPrecondition({
        message: `volume ${quote(volumeId)} says the driver created it but ${cluster.failure}; it is left untouched`
      })
    }
    yield* (yield* ClusterProvisioner).ensureDeleted(cluster.success.resourceGroup, cluster.success.name)
    return response
  }
  yield* (yield* StaticVolumes).forget(volumeId)
  return response
})
