import * as Effect from "effect/Effect"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { requireKnownVolume, requireField } from "../csi/requireValid.js"
import type { NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse } from "../gen/csi.js"
import { KeyedLocks } from "../locks/KeyedLocks.js"
import { lustreMountDuration, timed } from "../observability/metrics.js"
import { mountAt, publishesOf, sharedMountOf } from "./mountTable.js"
import { NodeConfig } from "./NodeConfig.js"
import { readMountTable, recordMountsHeld } from "./sharedMount.js"
import { forgetSharedMountOptions } from "./sharedMountOptions.js"
import { unmountEscalating } from "./unmountEscalating.js"

/**
 * Unmounts the target and removes it. When it was the last publish of its filesystem on this
 * node, the shared Lustre mount goes too. A target that is not mounted, or gone, is already done.
 */
export const nodeUnpublishVolume = Effect.fn("NodeUnpublishVolume")(function*(request: NodeUnpublishVolumeRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  yield* requireKnownVolume(volumeId)
  const targetPath = yield* requireField(request.targetPath, "target_path")
  const config = yield* NodeConfig
  const shell = yield* LustreShell
  const locks = yield* KeyedLocks

  const shared = yield* Effect.gen(function*() {
    const table = yield* readMountTable
    const published = mountAt(table, targetPath)
    if (published !== undefined) yield* unmountEscalating(targetPath)
    yield* shell.removeEmptyDirectory(targetPath)
    return published === undefined ? undefined : sharedMountOf(table, config.mountRoot, published)
  }).pipe(locks.withLock(`target ${targetPath}`, config.lockWait))

  if (shared !== undefined) {
    yield* Effect.gen(function*() {
      const table = yield* readMountTable
      const stillMounted = mountAt(table, shared.mountPoint)
      if (stillMounted === undefined || publishesOf(table, stillMounted).length > 0) return
      yield* timed(lustreMountDuration, { operation: "unmount" }, unmountEscalating(shared.mountPoint))
      yield* recordMountsHeld(yield* readMountTable)
      yield* shell.removeEmptyDirectory(shared.mountPoint)
      yield* forgetSharedMountOptions(shared.mountPoint)
      yield* Effect.logInfo("unmounted Lustre: its last publish on this node is gone").pipe(
        Effect.annotateLogs({ mountPoint: shared.mountPoint })
      )
    }).pipe(locks.withLock(`filesystem ${shared.mountPoint}`, config.lockWait))
  }
  const response: NodeUnpublishVolumeResponse = {}
  return response
})
