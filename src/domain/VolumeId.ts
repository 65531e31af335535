import * as Result from "effect/Result"
import { quote } from "./BoundedText.js"
import { DEFAULT_FS_NAME, parseFsName } from "./FsName.js"
import { parseMgsAddress } from "./MgsAddress.js"

/**
 * A volume id, in the Go driver's (kubernetes-sigs/azurelustre-csi-driver) format:
 * `<name>#<fs-name>#<mgs-ip>#<sub-dir>#<t|f>#<resource-group>`.
 *
 * Ids the Go driver wrote keep working: early ones have 3 segments (`pvc-1#lustrefs#10.0.0.4`),
 * later ones 4 to 6; missing segments take the Go defaults. Unlike the Go driver, which always
 * mounts `lustrefs`, the fs-name segment is used (empty means `lustrefs`).
 *
 * Size: CSI's general limit for a string field is 128 bytes and `volume_id` does not override
 * it, but an id carries a PV name (up to 253 characters in Kubernetes), a sub-dir and a resource
 * group, so ids may be longer, exactly as the Go driver's are. Kubernetes stores the id as the
 * PV's `volumeHandle` and neither Kubernetes nor the csi-provisioner enforce 128 bytes, so this
 * codec never rejects an id for its length; it is the only way to keep Go ids working.
 */
export interface VolumeId {
  readonly name: string
  readonly fsName: string
  readonly mgsAddress: string
  /** Relative to the filesystem root, without leading or trailing "/"; "" for the root. */
  readonly subDir: string
  /** `t`: the driver created the Azure Managed Lustre cluster and owns its deletion. */
  readonly createdByDriver: boolean
  readonly resourceGroup: string
}

const SEPARATOR = "#"

/**
 * Always writes all 6 segments. Fields must not contain "#" (names, fsnames, IPv4 addresses and
 * resource groups cannot; a sub-dir is refused by StaticVolumeParameters when it does).
 */
export const encodeVolumeId = (id: VolumeId): string =>
  [
    id.name,
    id.fsName,
    id.mgsAddress,
    trimSlashes(id.subDir),
    id.createdByDriver ? "t" : "f",
    id.resourceGroup
  ].join(SEPARATOR)

/** Go's `strings.Trim(s, "/")`. */
const trimSlashes = (text: string): string => text.replace(/^\/+|\/+$/g, "")

const FORMAT = "<name>#<fs-name>#<mgs-ip>#<sub-dir>#<t|f>#<resource-group>"

/** Reads a volume id written by this driver or the Go driver; the failure is the user-facing message. */
export const decodeVolumeId = (text: string): Result.Result<VolumeId, string> => {
  const segments = text.split(SEPARATOR)
  if (segments.length < 3) {
    return Result.fail(
      `the volume id has ${segments.length} "#"-separated part(s), at least 3 are needed: ` +
        `the format is ${FORMAT}, e.g. pvc-1#lustrefs#10.0.0.4`
    )
  }
  if (segments.length > 6) {
    return Result.fail(
      `the volume id has ${segments.length} "#"-separated parts, at most 6 are allowed: ` +
        `the format is ${FORMAT}`
    )
  }
  const [name = "", fsNameText = "", mgsText = "", subDir = "", created = "", resourceGroup = ""] = segments
  if (name === "") {
    return Result.fail(
      `the volume id has an empty name (the part before the first "#"): the format is ${FORMAT}`
    )
  }
  const mgsAddress = parseMgsAddress(mgsText)
  if (Result.isFailure(mgsAddress)) {
    return Result.fail(`the volume id's third part: ${mgsAddress.failure}`)
  }
  const fsName = parseFsName(fsNameText === "" ? DEFAULT_FS_NAME : fsNameText)
  if (Result.isFailure(fsName)) {
    return Result.fail(`the volume id's second part: ${fsName.failure}`)
  }
  if (created !== "" && created !== "t" && created !== "f") {
    return Result.fail(
      `the volume id has ${quote(created)} as its fifth part; it is "t" (the driver ` +
        `created the filesystem), "f" (it did not) or empty: the format is ${FORMAT}`
    )
  }
  return Result.succeed({
    name,
    fsName: fsName.success,
    mgsAddress: mgsAddress.success,
    subDir: trimSlashes(subDir),
    createdByDriver: created === "t",
    resourceGroup
  })
}
