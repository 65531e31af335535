import * as Effect from "effect/Effect"
import { armFeatureOf, type ArmError } from "../../../layers/azure/AmlfsApi.js"
import { armRetry } from "./armSchedules.js"
import {
  Aborted,
  type CsiError,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  ResourceExhausted,
  Unauthenticated,
  Unavailable
} from "../../csi/errors.js"

const isQuota = (error: ArmError) =>
  error.code === "QuotaExceeded" || /exceeding quota limits|quota/i.test(error.message)

/** ARM's text as the middle of a sentence: what follows it starts with ". ", so its own final period goes. */
export const withoutFinalPeriod = (text: string): string => text.trim().replace(/[.\s]+$/, "")

/**
 * What an ARM failure means to the CO. Throttling and server errors reach here only after
 * armRetry gave up, so they are UNAVAILABLE: the provisioner retries later. An endpoint or
 * api-version without the feature asked for (a sovereign cloud, Azure Stack, an older test
 * server) is FAILED_PRECONDITION naming the feature and api-version, never NOT_FOUND, which would
 * tell the CO that the volume is gone.
 */
export const csiErrorOfArm = (error: ArmError, doing: string): CsiError => {
  const answered = `ARM answered ${error.statusCode === 0 ? "nothing" : error.statusCode} ${error.code}: ${withoutFinalPeriod(error.message)}`
  const said = `${doing}: ${answered}`
  if (error.featureMissing) {
    const version = error.apiVersion === undefined ? "" : ` at api-version ${error.apiVersion}`
    return new FailedPrecondition({
      message: `${doing}: the Azure Resource Manager endpoint does not offer ${armFeatureOf(error.operation)}${version} ` +
        `(${answered}). Point the controller at an ARM that does (ARM_ENDPOINT, or the cloud config's cloud or ` +
        "resourceManagerEndpoint), or do without the feature there"
    })
  }
  if (error.statusCode === 403) {
    return new PermissionDenied({
      message: `${said}. Grant the controller's identity the roles the README lists (Contributor on the resource ` +
        "group, Network Contributor on the subnet)"
    })
  }
  if (error.statusCode === 401) return new Unauthenticated({ message: `${said}. Check the controller's Azure credentials` })
  if (error.statusCode === 409 && isQuota(error)) {
    return new ResourceExhausted({ message: `${said}. Ask for more AMLFS quota in this region, or free some` })
  }
  if (error.statusCode === 409) return new Aborted({ message: `${said}. Another operation on it is running; the CO retries` })
  if (error.statusCode === 404) return new NotFound({ message: said })
  if (error.statusCode === 400) return new InvalidArgument({ message: said })
  return new Unavailable({ message: `${said}. The CO retries` })
}

/** One ARM request as the controller sends it: retried by armRetry while it may heal, then a CSI error. */
export const armCall = <A>(request: Effect.Effect<A, ArmError>, doing: string): Effect.Effect<A, CsiError> =>
  request.pipe(Effect.retry(armRetry), Effect.mapError((failed) => csiErrorOfArm(failed, doing)))
