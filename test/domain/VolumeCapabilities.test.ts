import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { checkVolumeCapabilities, isReadOnlyMode, supportedAccessModes } from "../../src/domain/VolumeCapabilities.js"
import { type VolumeCapability, VolumeCapability_AccessMode_Mode as Mode } from "../../src/gen/csi.js"

const SupportedMode = Schema.Literals(supportedAccessModes as [Mode, ...Array<Mode>])
const FsType = Schema.Literals(["", "lustre"])
const Flags = Schema.Array(Schema.Literals(["noatime", "flock", "ro", "nosuid,nodev", "network=tcp0"]))

const mount = (mode: Mode | undefined, fsType = "", mountFlags: Array<string> = []): VolumeCapability => ({
  accessType: { $case: "mount", value: { fsType, mountFlags, volumeMountGroup: "" } },
  ...(mode === undefined ? {} : { accessMode: { mode } })
})

const failure = (result: Result.Result<void, string>): string => Result.isFailure(result) ? result.failure : "succeeded"

describe("VolumeCapabilities (mount volumes, every access mode, fsType lustre)", () => {
  it.prop("accepts mount capabilities with a supported mode, fsType '' or lustre and valid flags", [Schema.Array(Schema.Tuple([SupportedMode, FsType, Flags])).check(Schema.isMinLength(1))], ([capabilities]) => {
    const result = checkVolumeCapabilities(capabilities.map(([mode, fsType, flags]) => mount(mode, fsType, [...flags])))
    expect(Result.isSuccess(result)).toBe(true)
  })

  it.prop("refuses the list when any capability is a block volume", [Schema.Array(SupportedMode), SupportedMode, Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 }))], ([modes, blockMode, at]) => {
    const capabilities = modes.map((mode) => mount(mode))
    capabilities.splice(at, 0, { accessType: { $case: "block", value: {} }, accessMode: { mode: blockMode } })
    expect(failure(checkVolumeCapabilities(capabilities))).toBe(
      "block volumes are not supported: Lustre is a shared filesystem; use volumeMode: Filesystem"
    )
  })

  it.prop("refuses other filesystem types, naming them", [SupportedMode, Schema.Literals(["ext4", "xfs", "nfs", "Lustre", "lustre "])], ([mode, fsType]) => {
    expect(failure(checkVolumeCapabilities([mount(mode, fsType)]))).toContain(`fs_type is ${JSON.stringify(fsType)}`)
  })

  it.prop("read-only modes are exactly the two READER_ONLY ones", [SupportedMode], ([mode]) => {
    expect(isReadOnlyMode(mode)).toBe(mode === Mode.SINGLE_NODE_READER_ONLY || mode === Mode.MULTI_NODE_READER_ONLY)
  })

  it("examples", () => {
    expect(supportedAccessModes).toHaveLength(7)
    expect(failure(checkVolumeCapabilities([]))).toMatch(/^volume_capabilities is empty: /)
    expect(failure(checkVolumeCapabilities([{ accessMode: { mode: Mode.SINGLE_NODE_WRITER } }]))).toContain("has no access type")
    expect(failure(checkVolumeCapabilities([mount(Mode.UNKNOWN)]))).toContain("volume_capabilities[0].access_mode is UNKNOWN")
    expect(failure(checkVolumeCapabilities([mount(Mode.MULTI_NODE_MULTI_WRITER), mount(undefined)])))
      .toContain("volume_capabilities[1].access_mode is missing")
    expect(failure(checkVolumeCapabilities([mount(Mode.UNRECOGNIZED)]))).toContain("access_mode is UNRECOGNIZED")
    expect(failure(checkVolumeCapabilities([mount(Mode.MULTI_NODE_MULTI_WRITER, "", ["bogus"])])))
      .toContain("volume_capabilities[0].mount.mount_flags: mount option \"bogus\"")
    expect(Result.isSuccess(checkVolumeCapabilities([mount(Mode.MULTI_NODE_MULTI_WRITER, "lustre", ["noatime,flock"])]))).toBe(true)
    expect(isReadOnlyMode(undefined)).toBe(false)
  })
})
