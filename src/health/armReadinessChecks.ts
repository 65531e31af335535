import type { TokenCredential } from "@azure/core-auth"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { NotReady, type ReadinessCheck } from "./Readiness.js"

const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * `arm-token`: the controller can sign in to Azure Resource Manager. @azure/identity caches
 * tokens, so a passing check costs nothing until the token nears expiry; a failing one can take
 * seconds (the identity library retries), so each outcome is kept for `cacheFor` and concurrent
 * probes share one attempt.
 */
export const armTokenCheck = (
  credential: TokenCredential,
  scope: string,
  identity: string,
  options: {
    readonly timeout?: Duration.Input
    readonly cacheFor?: Duration.Input
    /** Where the credential asks for tokens (see tokenEndpointOf): named when it fails. */
    readonly tokenEndpoint?: string
  } = {}
): Effect.Effect<ReadinessCheck> => {
  const timeout = options.timeout ?? Duration.seconds(10)
  const from = options.tokenEndpoint === undefined ? "" : ` from ${options.tokenEndpoint}`
  const attempt = Effect.tryPromise({
    try: (abortSignal) => credential.getToken(scope, { abortSignal }),
    catch: (cause) =>
      new NotReady({
        reason: `cannot obtain an Azure Resource Manager token (${identity})${from}: ${reasonOf(cause)}; ` +
          "check the controller's identity (workload identity federation, the managed identity, or azure.json)" +
          (options.tokenEndpoint === undefined ? "" : " and that the pod reaches that endpoint")
      })
  }).pipe(
    Effect.flatMap((token) =>
      token === null
        ? Effect.fail(new NotReady({ reason: `the ${identity} credential returned no Azure Resource Manager token${from}` }))
        : Effect.void
    ),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new NotReady({
            reason: `no Azure Resource Manager token within ${Duration.format(Duration.fromInputUnsafe(timeout))} (${identity})${from}; ` +
              (options.tokenEndpoint === undefined ? "check that the pod reaches Microsoft Entra ID" : "check that the pod reaches it")
          })
        )
    })
  )
  return Effect.map(Effect.cachedWithTTL(attempt, options.cacheFor ?? Duration.seconds(10)), (run) => ({ name: "arm-token", run }))
}

/**
 * `arm-reachable`: ARM answers a read the controller needs anyway (the AMLFS SKUs of its
 * location). Its result is kept for `cacheFor`, so probes send at most one request per period.
 */
export const armReachableCheck = (
  api: AmlfsApi["Service"],
  location: string,
  cacheFor: Duration.Input = Duration.seconds(60)
): Effect.Effect<ReadinessCheck> =>
  Effect.map(
    Effect.cachedWithTTL(
      api.listSkus(location).pipe(
        Effect.mapError((failed) =>
          new NotReady({ reason: `Azure Resource Manager did not answer listing the AMLFS SKUs of ${location}: ${failed.message}` })
        ),
        Effect.asVoid
      ),
      cacheFor
    ),
    (run) => ({ name: "arm-reachable", run })
  )
