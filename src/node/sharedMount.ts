import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { type LustreFilesystem, LustreShell, type MountEntry } from "../../layers/lustre/LustreShell.js"
import { LnetProbe } from "../../layers/lnet/LnetProbe.js"
import { FailedPrecondition, Internal } from "../csi/errors.js"
import { lustreMountDuration, lustreMounts, setGauge, timed } from "../observability/metrics.js"
import { mountAt, publishesOf, readOnlyViewPoint, sharedMountPoint, sharedMountsIn, showsFilesystemOf } from "./mountTable.js"
import { NodeConfig } from "./NodeConfig.js"
import { internalFailure, lustreMountFailure, mgsUnreachable, within } from "./nodeFailures.js"
import { forgetSharedMountOptions, recordSharedMountOptions, sameOptions, sharedMountOptions } from "./sharedMountOptions.js"
import { unmountEscalating } from "./unmountEscalating.js"

export const filesystemLabel = (filesystem: LustreFilesystem) => `${filesystem.mgsAddress}@tcp:/${filesystem.fsName}`

/** A failed Lustre mount is tried twice more, a second and then two apart: MGS failovers are short. */
export const mountRetry = Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 2 }))

export const readMountTable = LustreShell.use((shell) => shell.mountTable).pipe(
  Effect.mapError(internalFailure("read the mount table"))
)

/** Sets `azurelustre_csi_lustre_mounts` from the mount table, so a restarted plugin counts what it holds. */
export const recordMountsHeld = (table: ReadonlyArray<MountEntry>) =>
  NodeConfig.use((config) => setGauge(lustreMounts, {}, sharedMountsIn(table, config.mountRoot).length))

/**
 * The node's one Lustre client mount of `filesystem`, made if there is none yet. Callers hold the
 * filesystem's lock. Before mounting, the MGS must answer an LNet ping: an unreachable MGS is
 * UNAVAILABLE at once instead of a mount that hangs.
 */
export const ensureSharedMount = Effect.fnUntraced(function*(
  filesystem: LustreFilesystem,
  lustreOptions: ReadonlyArray<string>
) {
  const shell = yield* LustreShell
  const config = yield* NodeConfig
  const mountPoint = sharedMountPoint(config.mountRoot, filesystem)
  const existing = mountAt(yield* readMountTable, mountPoint)
  if (existing !== undefined) {
    const mountedWith = yield* sharedMountOptions(mountPoint)
    if (mountedWith !== undefined && !sameOptions(mountedWith, lustreOptions)) {
      return yield* new FailedPrecondition({
        message: `${filesystemLabel(filesystem)} is mounted on this node with options [${mountedWith.join(",")}] ` +
          `and this volume asks for [${lustreOptions.join(",")}]; all volumes of one filesystem on a node share ` +
          "one Lustre client mount: use the same mountOptions, or wait until the others are unpublished"
      })
    }
    return existing
  }

  const label = filesystemLabel(filesystem)
  yield* (yield* LnetProbe).pingMgs(filesystem.mgsAddress).pipe(
    within(config.mgsPingTimeout, `the LNet ping of ${filesystem.mgsAddress}`),
    Effect.mapError(mgsUnreachable(filesystem.mgsAddress, label))
  )
  yield* shell.ensureDirectory(mountPoint).pipe(Effect.mapError(internalFailure(`create ${mountPoint}`)))
  // The timeout bounds every attempt together: a hung mount holds this filesystem's lock for at
  // most mountTimeout, and never anyone else's.
  yield* shell.mountLustre(filesystem, mountPoint, lustreOptions).pipe(
    (mounting) => timed(lustreMountDuration, { operation: "mount" }, mounting),
    Effect.retry(mountRetry),
    within(config.mountTimeout, `mounting ${label} at ${mountPoint}`),
    Effect.mapError(lustreMountFailure(label))
  )
  yield* recordSharedMountOptions(mountPoint, lustreOptions)
  yield* Effect.logInfo("mounted Lustre").pipe(Effect.annotateLogs({ filesystem: label, mountPoint }))
  const table = yield* readMountTable
  yield* recordMountsHeld(table)
  const mounted = mountAt(table, mountPoint)
  if (mounted === undefined) {
    return yield* new Internal({ message: `mount of ${label} reported success but ${mountPoint} is not in the mount table` })
  }
  return mounted satisfies MountEntry
})

/**
 * The read-only view of a shared mount (made on first need; callers hold the filesystem's lock):
 * a bind of the whole shared mount, remounted read-only. A bind taken through it is read-only
 * from its first instant, so a read-only publish cut at any point never leaves a writable mount.
 * A view whose remount was cut (the driver killed between the two commands) is found writable
 * and finished here, before anything is bound from it.
 */
export const ensureReadOnlyView = Effect.fnUntraced(function*(shared: MountEntry) {
  const shell = yield* LustreShell
  const config = yield* NodeConfig
  const view = readOnlyViewPoint(config.mountRoot, shared.mountPoint)
  const existing = mountAt(yield* readMountTable, view)
  const current = existing !== undefined && showsFilesystemOf(shared, existing)
  if (current && existing.options.includes("ro")) return view
  if (!current) {
    // A view of an earlier mount of the filesystem is stale: replace it.
    if (existing !== undefined) yield* unmountEscalating(view)
    yield* shell.ensureDirectory(view).pipe(Effect.mapError(internalFailure(`create ${view}`)))
    const open = (path: string) =>
      shell.openDirectoryBeneath(path, [], { symlinks: "refuse" }).pipe(Effect.mapError(internalFailure(`open ${path}`)))
    yield* Effect.scoped(
      Effect.flatMap(Effect.all([open(shared.mountPoint), open(view)]), ([whole, onto]) =>
        shell.bindMount(whole, onto).pipe(Effect.mapError(internalFailure(`bind ${shared.mountPoint} at ${view}`))))
    )
  }
  // Made just now, or left writable by a cut: read-only before anything is bound from it.
  yield* shell.remountReadOnly(view).pipe(Effect.mapError(internalFailure(`make ${view} read-only`)))
  return view
})

/**
 * Unmounts the shared mount at `mountPoint` (and its read-only view) when no publish uses it any
 * more: after the last unpublish, and after a publish that failed once it had mounted. Callers
 * hold the filesystem's lock.
 */
export const releaseSharedMountIfUnused = Effect.fnUntraced(function*(mountPoint: string) {
  const shell = yield* LustreShell
  const config = yield* NodeConfig
  const table = yield* readMountTable
  const shared = mountAt(table, mountPoint)
  if (shared === undefined || publishesOf(table, shared, config.mountRoot).length > 0) return
  const view = readOnlyViewPoint(config.mountRoot, mountPoint)
  if (mountAt(table, view) !== undefined) yield* unmountEscalating(view)
  yield* shell.removeEmptyDirectory(view)
  yield* timed(lustreMountDuration, { operation: "unmount" }, unmountEscalating(mountPoint))
  yield* recordMountsHeld(yield* readMountTable)
  yield* shell.removeEmptyDirectory(mountPoint)
  yield* forgetSharedMountOptions(mountPoint)
  yield* Effect.logInfo("unmounted Lustre: no publish on this node uses it").pipe(Effect.annotateLogs({ mountPoint }))
})
