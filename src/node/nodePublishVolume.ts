import * as Effect from "effect/Effect"
import * as Path from "node:path"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { AlreadyExists, Internal, InvalidArgument, Unavailable } from "../csi/errors.js"
import { invalidArgumentUnless, requireField } from "../csi/requireValid.js"
import { checkVolumeCapabilities, isReadOnlyMode } from "../domain/VolumeCapabilities.js"
import { validateMountOptions } from "../domain/MountOptions.js"
import type { NodePublishVolumeRequest, NodePublishVolumeResponse } from "../gen/csi.js"
import { KeyedLocks } from "../locks/KeyedLocks.js"
import { bindRootOf, mountAt, sharedMountPoint } from "./mountTable.js"
import { NodeConfig } from "./NodeConfig.js"
import { publishedVolumeOf } from "./publishedVolume.js"
import { ensureSharedMount, filesystemLabel, readMountTable } from "./sharedMount.js"

/**
 * Makes the volume's directory visible at the target path: a bind mount of the node's one shared
 * Lustre mount of its filesystem (mounted on first use), so fifty pods of one volume cost one
 * Lustre client mount, not fifty.
 */
export const nodePublishVolume = Effect.fn("NodePublishVolume")(function*(request: NodePublishVolumeRequest) {
  const volumeId = yield* requireField(request.volumeId, "volume_id")
  const targetPath = yield* requireField(request.targetPath, "target_path")
  if (!Path.isAbsolute(targetPath)) {
    return yield* new InvalidArgument({ message: `target_path ${targetPath} is not an absolute path` })
  }
  const capability = request.volumeCapability
  if (capability === undefined) return yield* new InvalidArgument({ message: "volume_capability is required" })
  yield* invalidArgumentUnless(checkVolumeCapabilities([capability]))
  const mountFlags = capability.accessType?.$case === "mount" ? capability.accessType.value.mountFlags : []
  const lustreOptions = yield* invalidArgumentUnless(validateMountOptions(mountFlags))
  const readOnly = request.readonly || isReadOnlyMode(capability.accessMode?.mode)
  const volume = yield* publishedVolumeOf(volumeId, request.volumeContext)

  const config = yield* NodeConfig
  const shell = yield* LustreShell
  const locks = yield* KeyedLocks
  const publish = Effect.gen(function*() {
    const published = mountAt(yield* readMountTable, targetPath)
    const shared = yield* ensureSharedMount(volume.filesystem, lustreOptions.filter((o) => o !== "ro" && o !== "rw"))
    if (published !== undefined) {
      const same = published.device === shared.device && published.root === bindRootOf(shared, volume.subDir) &&
        published.options.includes("ro") === readOnly
      if (same) return
      return yield* new AlreadyExists({
        message: `${targetPath} already has another volume or mode mounted (${published.source}${published.root}, ` +
          `${published.options.includes("ro") ? "read-only" : "read-write"}); unpublish it first`
      })
    }
    yield* shell.makeDirectory(shared.mountPoint, volume.subDir).pipe(
      Effect.timeoutOrElse({
        duration: config.mountTimeout,
        orElse: () =>
          Effect.fail(new Unavailable({ message: `${filesystemLabel(volume.filesystem)} does not answer: creating ${volume.subDir} did not finish in time` }))
      }),
      Effect.catchTag("PathEscapes", (escape) => Effect.fail(new InvalidArgument({ message: `sub-dir: ${escape.message}` }))),
      Effect.catchTag("PathFailed", (failed) =>
        Effect.fail(new Internal({ message: `cannot create ${volume.subDir} in ${filesystemLabel(volume.filesystem)}: ${failed.message}` })))
    )
    yield* shell.ensureDirectory(targetPath).pipe(
      Effect.mapError((failed) => new Internal({ message: `cannot create target_path ${targetPath}: ${failed.message}` }))
    )
    yield* shell.bindMount(Path.join(shared.mountPoint, volume.subDir), targetPath, readOnly).pipe(
      Effect.timeoutOrElse({
        duration: config.mountTimeout,
        orElse: () => Effect.fail({ message: "the bind mount did not finish in time" })
      }),
      Effect.mapError((failed) => new Internal({ message: `cannot bind-mount the volume at ${targetPath}: ${failed.message}` }))
    )
  })
  // Target first, then filesystem, everywhere: the fixed order keeps the two locks deadlock-free.
  yield* publish.pipe(
    locks.withLock(`filesystem ${sharedMountPoint(config.mountRoot, volume.filesystem)}`, config.lockWait),
    locks.withLock(`target ${targetPath}`, config.lockWait)
  )
  const response: NodePublishVolumeResponse = {}
  return response
})
