import * as Result from "effect/Result"
import { type VolumeCapability, VolumeCapability_AccessMode_Mode } from "../gen/csi.js"
import { quote } from "./BoundedText.js"
import { validateMountOptions } from "./MountOptions.js"

const Mode = VolumeCapability_AccessMode_Mode

/** Every access mode a Lustre volume supports: it is a shared filesystem, so all of them. */
export const supportedAccessModes: ReadonlyArray<VolumeCapability_AccessMode_Mode> = [
  Mode.SINGLE_NODE_WRITER,
  Mode.SINGLE_NODE_READER_ONLY,
  Mode.MULTI_NODE_READER_ONLY,
  Mode.MULTI_NODE_SINGLE_WRITER,
  Mode.MULTI_NODE_MULTI_WRITER,
  Mode.SINGLE_NODE_SINGLE_WRITER,
  Mode.SINGLE_NODE_MULTI_WRITER
]

/** True for the read-only access modes, whose volumes are mounted read-only. */
export const isReadOnlyMode = (mode: VolumeCapability_AccessMode_Mode | undefined): boolean =>
  mode === Mode.SINGLE_NODE_READER_ONLY || mode === Mode.MULTI_NODE_READER_ONLY

const modeName = (mode: VolumeCapability_AccessMode_Mode): string => {
  const name: unknown = (Mode as Record<number, unknown>)[mode]
  return typeof name === "string" ? name : String(mode)
}

const checkOne = (capability: VolumeCapability, index: number): Result.Result<void, string> => {
  const at = `volume_capabilities[${index}]`
  const accessType = capability.accessType
  if (accessType === undefined) {
    return Result.fail(
      `${at} has no access type; set mount (volumeMode: Filesystem): Lustre volumes are mounted filesystems`
    )
  }
  if (accessType.$case === "block") {
    return Result.fail("block volumes are not supported: Lustre is a shared filesystem; use volumeMode: Filesystem")
  }
  const mode = capability.accessMode?.mode
  if (mode === undefined || !supportedAccessModes.includes(mode)) {
    return Result.fail(
      `${at}.access_mode is ${mode === undefined ? "missing" : modeName(mode)}; set one of ` +
        `${supportedAccessModes.map(modeName).join(", ")} (in Kubernetes: ReadWriteOnce, ReadOnlyMany, ` +
        `ReadWriteMany or ReadWriteOncePod)`
    )
  }
  const { fsType, mountFlags } = accessType.value
  if (fsType !== "" && fsType !== "lustre") {
    return Result.fail(
      `${at}.mount.fs_type is ${quote(fsType)}, but these volumes are Lustre; leave fsType out or set it to lustre`
    )
  }
  const options = validateMountOptions(mountFlags)
  return Result.isFailure(options) ? Result.fail(`${at}.mount.mount_flags: ${options.failure}`) : Result.void
}

/**
 * Checks that every requested capability is one a Lustre volume can serve: a mount (not a block
 * device) with a supported access mode, fsType "" or "lustre", and valid mount options. The
 * failure is the user-facing message about the first capability that cannot be served.
 */
export const checkVolumeCapabilities = (
  capabilities: ReadonlyArray<VolumeCapability>
): Result.Result<void, string> => {
  if (capabilities.length === 0) {
    return Result.fail(
      "volume_capabilities is empty: give at least one capability, a mount with an access mode such as MULTI_NODE_MULTI_WRITER"
    )
  }
  for (const [index, capability] of capabilities.entries()) {
    const verdict = checkOne(capability, index)
    if (Result.isFailure(verdict)) return verdict
  }
  return Result.void
}
