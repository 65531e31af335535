import * as Effect from "effect/Effect"
import { LustreShell, type MountEntry } from "../../layers/lustre/LustreShell.js"
import { FailedPrecondition, Internal } from "../csi/errors.js"
import { requireField, requireKnownVolume } from "../csi/requireValid.js"
import { bounded } from "../domain/BoundedText.js"
import type { NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse } from "../gen/csi.js"
import { KeyedLocks } from "../locks/KeyedLocks.js"
import { hydrationKeyOf, Hydrations } from "./hsm/Hydrations.js"
import { mountAt, mountHiding, publishesShowing, sharedMountOf } from "./mountTable.js"
import { NodeConfig } from "./NodeConfig.js"
import { requirePodPath } from "./podPath.js"
import { readMountTable, releaseSharedMountIfUnused } from "./sharedMount.js"
import { unmountEscalating } from "./unmountEscalating.js"

/**
 * Unmounts the target and removes it. When it was the last publish of its filesystem on this
 * node, the shared Lustre mount goes too. A target that is not mounted, or gone, is already done.
 *
 * Only what is provably this driver's is touched: the target must be below kubelet's pods
 * directory, and each mount taken down there must be a bind of one of its shared Lustre mounts.
 * Anything else mounted there (a tmpfs, a host path) is left alone and answered
 * FAILED_PRECONDITION, naming it.
 */
export const nodeUnpublishVolume = Effect.fn("NodeUnpublishVolume")(function*(request: NodeUnpublishVolumeRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  const target = yield* requirePodPath("target_path", request.targetPath)
  yield* requireKnownVolume(volumeId)
  const config = yield* NodeConfig
  const shell = yield* LustreShell
  const locks = yield* KeyedLocks

  const released = yield* Effect.gen(function*() {
    const sharedMountPoints = new Set<string>()
    const unmountedDirectories: Array<MountEntry> = []
    // A target may hold stacked binds (left by a driver before canonical paths): take down all of ours.
    let table = yield* readMountTable
    for (let published = mountAt(table, target.path); published !== undefined; published = mountAt(table, target.path)) {
      const hiding = mountHiding(table, config.podsDir, published)
      if (hiding !== undefined) {
        return yield* new FailedPrecondition({
          message: `target_path ${target.shown} is hidden under the mount at ${bounded(hiding.mountPoint)}, made after it; ` +
            "unpublish that one first"
        })
      }
      const shared = sharedMountOf(table, config.mountRoot, published)
      if (shared === undefined) {
        return yield* new FailedPrecondition({
          message: `target_path ${target.shown} has a mount that is not this driver's (${published.fsType} ` +
            `${published.source}${published.root === "/" ? "" : published.root}); it is left alone: unmount it by hand`
        })
      }
      yield* unmountEscalating(target.path)
      sharedMountPoints.add(shared.mountPoint)
      unmountedDirectories.push(published)
      const unmounted = published
      table = yield* readMountTable
      if (mountAt(table, target.path)?.mountId === unmounted.mountId) {
        return yield* new Internal({ message: `${target.shown} is still mounted after umount succeeded; the caller retries` })
      }
    }
    yield* shell.removeEmptyDirectoryBeneath(config.podsDir, target.components)
    return { sharedMountPoints, unmountedDirectories }
  }).pipe(locks.withLock(`pod folder ${target.podFolder}`, config.lockWait))

  yield* stopHydrationsOfUnpublished(released.unmountedDirectories)

  for (const sharedMountPoint of released.sharedMountPoints) {
    yield* releaseSharedMountIfUnused(sharedMountPoint).pipe(locks.withLock(`filesystem ${sharedMountPoint}`, config.lockWait))
  }
  const response: NodeUnpublishVolumeResponse = {}
  return response
})

/**
 * A volume directory no pod on this node publishes any more stops hydrating, before its shared
 * mount is released (restores in flight would hold it busy).
 */
const stopHydrationsOfUnpublished = (unmounted: ReadonlyArray<MountEntry>) =>
  Effect.gen(function*() {
    if (unmounted.length === 0) return
    const config = yield* NodeConfig
    const hydrations = yield* Hydrations
    const table = yield* readMountTable
    for (const directory of unmounted) {
      if (publishesShowing(table, config.mountRoot, directory).length === 0) yield* hydrations.stop(hydrationKeyOf(directory))
    }
  })
