import * as Effect from "effect/Effect"
import { LustreShell, type MountEntry } from "../../layers/lustre/LustreShell.js"
import { NotFound } from "../csi/errors.js"
import { requireField, requireKnownVolume } from "../csi/requireValid.js"
import {
  type NodeGetVolumeStatsRequest,
  type NodeGetVolumeStatsResponse,
  VolumeUsage_Unit
} from "../gen/csi.js"
import { bounded } from "../domain/BoundedText.js"
import { hydrationKeyOf, Hydrations } from "./hsm/Hydrations.js"
import { mountAt, sharedMountOf } from "./mountTable.js"
import { NodeConfig } from "./NodeConfig.js"
import { pathFailure, within } from "./nodeFailures.js"
import { requirePodPath } from "./podPath.js"
import { readMountTable } from "./sharedMount.js"

const abnormal = (message: string): NodeGetVolumeStatsResponse => ({
  usage: [],
  volumeCondition: { abnormal: true, message }
})

/** Bytes and inodes of the published volume, or an abnormal condition saying why there are none. */
export const nodeGetVolumeStats = Effect.fn("NodeGetVolumeStats")(function*(request: NodeGetVolumeStatsRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  const { path: volumePath, shown, components } = yield* requirePodPath("volume_path", request.volumePath)
  yield* requireKnownVolume(volumeId)
  const shell = yield* LustreShell
  const config = yield* NodeConfig
  // The mount table first: touching a path on a Lustre mount whose servers are gone can block.
  const table = yield* readMountTable
  const published = mountAt(table, volumePath)
  if (published === undefined) {
    // Looked at as publishes are made: below the pods folder, no symlink followed.
    const present = yield* Effect.scoped(shell.openDirectoryBeneath(config.podsDir, components, { symlinks: "refuse" })).pipe(
      within(config.statsTimeout, `opening ${shown}`),
      Effect.as(true),
      Effect.catchTag("PathFailed", (failed) => failed.code === "ENOENT" ? Effect.succeed(false) : Effect.fail(failed)),
      Effect.mapError(pathFailure("volume_path"))
    )
    if (!present) return yield* new NotFound({ message: `volume_path ${shown} does not exist on this node` })
    return abnormal(`${shown} is not mounted: the volume's mount is gone; restarting the pod publishes it again`)
  }
  if (sharedMountOf(table, config.mountRoot, published) === undefined) {
    return yield* new NotFound({
      message: `volume_path ${shown} shows no volume of this driver (it has a ${published.fsType} mount of ${published.source})`
    })
  }
  const stats = yield* shell.statfs(volumePath).pipe(
    within(config.statsTimeout, `statfs of ${shown}`),
    Effect.result
  )
  if (stats._tag === "Failure") {
    const failure = stats.failure
    const reason = failure._tag === "StepTimedOut" ? failure.message : `${failure.code}: ${failure.message}`
    return abnormal(`${shown} does not answer statfs (${reason}); the Lustre mount is stale or its servers are unreachable`)
  }
  const response: NodeGetVolumeStatsResponse = {
    usage: [
      {
        unit: VolumeUsage_Unit.BYTES,
        total: stats.success.totalBytes,
        available: stats.success.availableBytes,
        used: stats.success.usedBytes
      },
      {
        unit: VolumeUsage_Unit.INODES,
        total: stats.success.totalInodes,
        available: stats.success.freeInodes,
        used: stats.success.usedInodes
      }
    ],
    volumeCondition: yield* hydrationCondition(published)
  }
  return response
})

/**
 * The volume's condition as its hydration sees it: how many released files are left and
 * restoring; abnormal only when files could not be restored (their archive copy lost, or the
 * restore failed past its retries), since released files are normal on an HSM filesystem.
 */
const hydrationCondition = (published: MountEntry) =>
  Effect.gen(function*() {
    const view = yield* (yield* Hydrations).viewOf(hydrationKeyOf(published))
    if (view === undefined) return { abnormal: false, message: "" }
    const { progress } = view
    const left = progress.found - progress.restored - progress.failed
    const counts = `${left} released file(s) left, ${progress.restoring} restoring, ${progress.restored} restored, ${progress.failed} failed`
    switch (view.state) {
      case "running":
        return { abnormal: false, message: `hydration (${view.mode}) running: ${counts}${progress.scanned ? "" : ", still walking"}` }
      case "completed":
        return { abnormal: false, message: `hydration (${view.mode}) completed: ${counts}` }
      case "failed":
        return { abnormal: progress.failed > 0, message: `hydration (${view.mode}) failed: ${bounded(view.failure ?? "")}` }
    }
  })
