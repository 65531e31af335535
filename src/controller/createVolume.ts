import * as Effect from "effect/Effect"
import { AlreadyExists, InvalidArgument } from "../csi/errors.js"
import { invalidArgumentUnless, requireField } from "../csi/requireValid.js"
import { quote } from "../domain/BoundedText.js"
import { checkCapacityRange } from "../domain/CapacityRange.js"
import { mountFlagsOfCapabilities } from "../domain/MountOptions.js"
import { parseStaticVolumeParameters, toVolumeContext } from "../domain/StaticVolumeParameters.js"
import { checkVolumeCapabilities } from "../domain/VolumeCapabilities.js"
import { encodeVolumeId } from "../domain/VolumeId.js"
import type { CapacityRange, CreateVolumeRequest, CreateVolumeResponse } from "../gen/csi.js"
import { createDynamicVolume } from "./dynamic/createDynamicVolume.js"
import { StaticVolumes } from "./StaticVolumes.js"

/** CSI's limit on a CreateVolume name. */
const MAX_NAME_BYTES = 128

/** A static volume is an existing filesystem: its size is whatever was asked, the smallest that fits. */
const staticCapacity = (range: CapacityRange | undefined) =>
  Effect.map(
    invalidArgumentUnless(checkCapacityRange({ requiredBytes: range?.requiredBytes ?? 0n, limitBytes: range?.limitBytes ?? 0n })),
    ({ limitBytes, requiredBytes }) => (requiredBytes > 0n ? requiredBytes : limitBytes)
  )

/**
 * A volume is an existing filesystem when the parameters name its MGS (static provisioning), and
 * a new AMLFS cluster otherwise (dynamic provisioning).
 */
export const createVolume = Effect.fn("CreateVolume")(function*(request: CreateVolumeRequest) {
  const name = yield* requireField(request.name, "name")
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    return yield* new InvalidArgument({ message: `name is ${Buffer.byteLength(name)} bytes; CSI allows ${MAX_NAME_BYTES}` })
  }
  if (name.includes("#")) return yield* new InvalidArgument({ message: `name ${quote(name)} contains "#", which volume ids use as a separator; choose a name without "#"` })
  yield* invalidArgumentUnless(checkVolumeCapabilities(request.volumeCapabilities))
  if (request.volumeContentSource !== undefined) {
    return yield* new InvalidArgument({
      message: "volume_content_source is not supported: Lustre volumes are not made from snapshots or clones"
    })
  }
  if (request.parameters["mgs-ip-address"] === undefined) return yield* createDynamicVolume(name, request)
  return yield* createStaticVolume(name, request)
})

/** Static provisioning: minting the id of an existing filesystem touches nothing in Azure. */
const createStaticVolume = Effect.fnUntraced(function*(name: string, request: CreateVolumeRequest) {
  const parameters = yield* invalidArgumentUnless(
    parseStaticVolumeParameters(request.parameters, mountFlagsOfCapabilities(request.volumeCapabilities))
  )
  const capacityBytes = yield* staticCapacity(request.capacityRange)
  const volumeId = encodeVolumeId({
    name,
    fsName: parameters.fsName,
    mgsAddress: parameters.mgsAddress,
    subDir: parameters.subDir,
    createdByDriver: false,
    resourceGroup: ""
  })

  const recorded = yield* (yield* StaticVolumes).remember(name, { volumeId, capacityBytes })
  if (recorded.volumeId !== volumeId || recorded.capacityBytes !== capacityBytes) {
    return yield* new AlreadyExists({
      message: `volume ${quote(name)} already exists as ${quote(recorded.volumeId)} with ${recorded.capacityBytes} bytes; ` +
        "a request with other parameters or capacity needs another name"
    })
  }
  const response: CreateVolumeResponse = {
    volume: {
      volumeId,
      capacityBytes,
      volumeContext: toVolumeContext(parameters),
      contentSource: undefined,
      accessibleTopology: []
    }
  }
  return response
})
