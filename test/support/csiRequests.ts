import {
  type CreateVolumeRequest,
  type NodePublishVolumeRequest,
  type VolumeCapability,
  VolumeCapability_AccessMode_Mode
} from "../../src/gen/csi.js"

/** A filesystem-mode capability, as kubelet and the provisioner send it. */
export const mountCapability = (
  mode: VolumeCapability_AccessMode_Mode = VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER,
  mountFlags: Array<string> = []
): VolumeCapability => ({
  accessType: { $case: "mount", value: { fsType: "", mountFlags, volumeMountGroup: "" } },
  accessMode: { mode }
})

/** A CreateVolume as the external-provisioner sends it: a mount capability and whatever the test overrides. */
export const createVolumeRequest = (
  name: string,
  parameters: Readonly<Record<string, string>>,
  overrides: Partial<CreateVolumeRequest> = {}
): CreateVolumeRequest => ({
  name,
  capacityRange: { requiredBytes: 0n, limitBytes: 0n },
  volumeCapabilities: [mountCapability()],
  parameters: { ...parameters },
  secrets: {},
  volumeContentSource: undefined,
  accessibilityRequirements: undefined,
  mutableParameters: {},
  ...overrides
})

/** A NodePublishVolume as kubelet sends it: a mount capability, read-write, no context unless given. */
export const publishRequest = (
  volumeId: string,
  targetPath: string,
  overrides: Partial<NodePublishVolumeRequest> = {}
): NodePublishVolumeRequest => ({
  volumeId,
  publishContext: {},
  stagingTargetPath: "",
  targetPath,
  volumeCapability: mountCapability(),
  readonly: false,
  secrets: {},
  volumeContext: {},
  ...overrides
})

/** The StorageClass parameters a dynamic volume needs at least: the SKU, a zone and the maintenance window. */
export const dynamicParameters = {
  "sku-name": "AMLFS-Durable-Premium-125",
  zone: "1",
  "maintenance-day-of-week": "Sunday",
  "maintenance-time-of-day-utc": "02:00"
} as const
