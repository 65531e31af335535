import * as Effect from "effect/Effect"
import { LustreShell, type MountEntry, type OpenDirectory } from "../../layers/lustre/LustreShell.js"
import { AlreadyExists, FailedPrecondition, InvalidArgument } from "../csi/errors.js"
import { invalidArgumentUnless, requireField } from "../csi/requireValid.js"
import { bounded } from "../domain/BoundedText.js"
import { validateMountOptions } from "../domain/MountOptions.js"
import { hydrationPlanOf } from "../domain/HsmHydration.js"
import { checkVolumeCapabilities, isReadOnlyMode } from "../domain/VolumeCapabilities.js"
import type { NodePublishVolumeRequest, NodePublishVolumeResponse } from "../gen/csi.js"
import { KeyedLocks } from "../locks/KeyedLocks.js"
import { hydrateOnPublish } from "./hsm/hydrateOnPublish.js"
import { mountAt, mountsNestingWith, sharedMountPoint } from "./mountTable.js"
import { NodeConfig } from "./NodeConfig.js"
import { internalFailure, pathFailure, within } from "./nodeFailures.js"
import { type PodPath, requirePodPath } from "./podPath.js"
import { type PublishedVolume, publishedVolumeOf } from "./publishedVolume.js"
import { ensureReadOnlyView, ensureSharedMount, filesystemLabel, readMountTable, releaseSharedMountIfUnused } from "./sharedMount.js"

/** Mode of directories the plugin creates: sub-dirs inside the filesystem, and targets. */
const SUB_DIR_MODE = 0o755
const TARGET_MODE = 0o750

/**
 * Makes the volume's directory visible at the target path: a bind mount of the node's one shared
 * Lustre mount of its filesystem (mounted on first use), so fifty pods of one volume cost one
 * Lustre client mount, not fifty.
 *
 * What is bound is the directory that was checked: the sub-dir is opened component by component
 * without following a swapped-in symlink and bound by its file descriptor. A read-only publish is
 * bound from the shared mount's read-only view, so it is one mount(2), read-only from the start.
 * A publish that fails, or is cut, after mounting Lustre releases the mount when nothing uses it.
 *
 * With `hsm-hydrate`, the volume's released files are then restored (hsm/hydrateOnPublish.ts):
 * in the background, or before this call answers.
 */
export const nodePublishVolume = Effect.fn("NodePublishVolume")(function*(request: NodePublishVolumeRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  const target = yield* requirePodPath("target_path", request.targetPath)
  const capability = request.volumeCapability
  if (capability === undefined) return yield* new InvalidArgument({ message: "volume_capability is required" })
  yield* invalidArgumentUnless(checkVolumeCapabilities([capability]))
  const mountFlags = capability.accessType?.$case === "mount" ? capability.accessType.value.mountFlags : []
  const lustreOptions = yield* invalidArgumentUnless(validateMountOptions(mountFlags))
  const readOnly = request.readonly || isReadOnlyMode(capability.accessMode?.mode)
  const volume = yield* publishedVolumeOf(volumeId, request.volumeContext)
  const hydration = yield* invalidArgumentUnless(hydrationPlanOf(request.volumeContext, mountFlags))

  const config = yield* NodeConfig
  const locks = yield* KeyedLocks
  const sharedPoint = sharedMountPoint(config.mountRoot, volume.filesystem)
  const publish = Effect.gen(function*() {
    const shared = yield* ensureSharedMount(volume.filesystem, lustreOptions.filter((o) => o !== "ro" && o !== "rw"))
    // Missing directories are made through the writable mount, even for a read-only publish.
    const writable = yield* openSubDir(shared.mountPoint, volume, SUB_DIR_MODE)
    const source = readOnly ? yield* openSubDir(yield* ensureReadOnlyView(shared), volume, undefined) : writable
    const table = yield* readMountTable
    const published = mountAt(table, target.path)
    if (published !== undefined) {
      yield* alreadyPublished(target, published, source, readOnly)
      return published
    }
    const nesting = mountsNestingWith(table, config.podsDir, target.path)[0]
    if (nesting !== undefined) {
      return yield* new FailedPrecondition({
        message: `target_path ${target.shown} would nest with the mount at ${bounded(nesting.mountPoint)}; ` +
          "volume targets never nest: unpublish that one first"
      })
    }
    const onto = yield* openTarget(target)
    // Not cut half-way by a deadline: a bind of an open directory is one quick mount(2).
    yield* bindAtTarget(source, onto, target).pipe(Effect.uninterruptible)
    // What was bound, read under the lock: a hydration is keyed by it.
    return hydration.mode === "off" ? undefined : mountAt(yield* readMountTable, target.path)
  }).pipe(
    Effect.scoped,
    Effect.onError(() => releaseSharedMountIfUnused(sharedPoint).pipe(Effect.ignore))
  )
  // Pod folder first, then filesystem, everywhere: the fixed order keeps the two locks deadlock-free.
  const bound = yield* publish.pipe(
    locks.withLock(`filesystem ${sharedPoint}`, config.lockWait),
    locks.withLock(`pod folder ${target.podFolder}`, config.lockWait)
  )
  if (bound !== undefined) yield* hydrateOnPublish(volumeId, volume, hydration, bound, request.volumeContext)
  const response: NodePublishVolumeResponse = {}
  return response
})

/** The volume's directory inside `root` (the shared mount or its read-only view), open. */
const openSubDir = (root: string, volume: PublishedVolume, createMode: number | undefined) =>
  Effect.gen(function*() {
    const shell = yield* LustreShell
    const config = yield* NodeConfig
    return yield* shell.openDirectoryBeneath(root, volume.subDirComponents, {
      symlinks: "within",
      ...(createMode !== undefined && { createMode })
    }).pipe(
      within(config.mountTimeout, `opening sub-dir ${bounded(volume.subDir)} in ${filesystemLabel(volume.filesystem)}`),
      Effect.mapError(pathFailure("sub-dir"))
    )
  })

/** The target directory, below the pods directory, made if missing; no symlink on the way; open. */
const openTarget = (target: PodPath) =>
  Effect.gen(function*() {
    const shell = yield* LustreShell
    const config = yield* NodeConfig
    return yield* shell.openDirectoryBeneath(config.podsDir, target.components, { symlinks: "refuse", createMode: TARGET_MODE })
      .pipe(Effect.mapError(pathFailure("target_path")))
  })

const bindAtTarget = (source: OpenDirectory, onto: OpenDirectory, target: PodPath) =>
  LustreShell.use((shell) => shell.bindMount(source, onto)).pipe(
    Effect.mapError(internalFailure(`bind-mount the volume at ${target.shown}`))
  )

/** A retried publish of the same directory and mode succeeds; anything else there is ALREADY_EXISTS. */
const alreadyPublished = (target: PodPath, published: MountEntry, source: OpenDirectory, readOnly: boolean) =>
  Effect.gen(function*() {
    const identity = yield* LustreShell.use((shell) => shell.identityOf(target.path)).pipe(Effect.mapError(pathFailure("target_path")))
    const publishedReadOnly = published.options.includes("ro")
    if (identity === source.identity && publishedReadOnly === readOnly) return
    return yield* new AlreadyExists({
      message: `target_path ${target.shown} already has another volume or mode mounted (${published.source}${published.root}, ` +
        `${publishedReadOnly ? "read-only" : "read-write"}); unpublish it first`
    })
  })
