import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { InvalidArgument } from "../csi/errors.js"
import { requireKnownVolume, requireField } from "../csi/requireValid.js"
import { checkVolumeCapabilities } from "../domain/VolumeCapabilities.js"
import type { ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse } from "../gen/csi.js"

export const validateVolumeCapabilities = Effect.fn("ValidateVolumeCapabilities")(
  function*(request: ValidateVolumeCapabilitiesRequest) {
    const volumeId = yield* requireField(request.volumeId, "volume_id")
    if (request.volumeCapabilities.length === 0) {
      return yield* new InvalidArgument({ message: "volume_capabilities is required" })
    }
    yield* requireKnownVolume(volumeId)
    const verdict = checkVolumeCapabilities(request.volumeCapabilities)
    const response: ValidateVolumeCapabilitiesResponse = Result.isSuccess(verdict)
      ? {
        confirmed: {
          volumeContext: request.volumeContext,
          volumeCapabilities: request.volumeCapabilities,
          parameters: request.parameters,
          mutableParameters: request.mutableParameters
        },
        message: ""
      }
      : { confirmed: undefined, message: verdict.failure }
    return response
  }
)
