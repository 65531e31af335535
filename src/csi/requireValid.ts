import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { quote } from "../domain/BoundedText.js"
import { decodeVolumeId, type VolumeId } from "../domain/VolumeId.js"
import { InvalidArgument, NotFound } from "./errors.js"

/** A domain rule's verdict as a CSI answer: its message goes to the caller verbatim. */
export const invalidArgumentUnless = <A>(verdict: Result.Result<A, string>): Effect.Effect<A, InvalidArgument> =>
  Result.isSuccess(verdict) ? Effect.succeed(verdict.success) : Effect.fail(new InvalidArgument({ message: verdict.failure }))

export const requireField = (value: string, field: string): Effect.Effect<string, InvalidArgument> =>
  value === "" ? Effect.fail(new InvalidArgument({ message: `${field} is required` })) : Effect.succeed(value)

export const notFoundUnless = <A>(verdict: Result.Result<A, string>): Effect.Effect<A, NotFound> =>
  Result.isSuccess(verdict) ? Effect.succeed(verdict.success) : Effect.fail(new NotFound({ message: verdict.failure }))

/** The volume an id names, or NOT_FOUND: an id this driver cannot read names no volume of its. */
export const requireKnownVolume = (volumeId: string): Effect.Effect<VolumeId, NotFound> =>
  notFoundUnless(
    Result.mapError(decodeVolumeId(volumeId), (reason) => `volume ${quote(volumeId)} is not a volume of this driver: ${reason}`)
  )
