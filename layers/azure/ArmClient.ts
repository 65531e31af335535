/**
 * The controller's one way to Azure Resource Manager: the @azure/arm-storagecache client's
 * pipeline (credential and its scope, TLS trust, no SDK retries) on one endpoint, with each
 * request bounded by a timeout, cancelled when interrupted, told to `onRequest`, and its failure
 * an ArmError in ARM's words. AmlfsApiLive and StorageAccessLive both send through it.
 */
import type { TokenCredential } from "@azure/core-auth"
import type * as Pipeline from "@azure/core-rest-pipeline"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Tls from "node:tls"
import { ArmError, isFeatureMissing } from "./AmlfsApi.js"

/** Where and as whom the controller talks to ARM. */
export interface ArmClientOptions {
  readonly subscriptionId: string
  /** Any @azure/identity credential; a static token for the emulator. */
  readonly credential: TokenCredential
  /**
   * The ARM endpoint, for sovereign clouds and the emulator (default https://management.azure.com):
   * the client's `$host` (operation URLs) and `endpoint`.
   */
  readonly endpoint?: string
  /**
   * The scope of the tokens sent (default `<endpoint>/.default`): the cloud's ARM when `endpoint`
   * is a proxy or an emulator in front of it, the same scope the arm-token readiness check asks for.
   */
  readonly credentialScope?: string
  /**
   * A PEM certificate this client trusts on top of Node's root certificates (the emulator's
   * self-signed one). Only this client's HTTPS agent sees it.
   */
  readonly trustedCertificatePem?: string
  /** Each ARM call gives up after this long, as an ArmError with status 0 (default 30 s). */
  readonly requestTimeout?: Duration.Input
  /**
   * Told of every ARM request once it ends: the operation and the HTTP status (or no_response,
   * cancelled). The driver counts them in `azurelustre_csi_arm_requests_total`.
   */
  readonly onRequest?: (request: ArmRequestEnded) => Effect.Effect<void>
}

/** One ARM request, ended: what `ArmClientOptions.onRequest` is told. */
export interface ArmRequestEnded {
  readonly operation: string
  /** The HTTP status, `no_response` or `cancelled`. */
  readonly status: string
}

export type HttpMethod = "GET" | "PUT" | "PATCH" | "POST" | "DELETE"

const defaultEndpoint = "https://management.azure.com"
const defaultRequestTimeout = Duration.seconds(30)

interface HeaderSource {
  readonly get: (name: string) => string | undefined
}

/**
 * Milliseconds to wait from ARM's headers: `retry-after-ms` / `x-ms-retry-after-ms`, else
 * `Retry-After` as seconds or as an HTTP date (from `now`); undefined without a usable one.
 */
export const retryAfterMillis = (headers: HeaderSource | undefined, now: number = Date.now()): number | undefined => {
  if (headers === undefined) return undefined
  const millis = (headers.get("retry-after-ms") ?? headers.get("x-ms-retry-after-ms"))?.trim()
  if (millis !== undefined && /^\d+$/.test(millis)) return Number(millis)
  const value = headers.get("retry-after")?.trim()
  if (value === undefined || value === "") return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** ARM's error body, and checkAmlFSSubnets' AmlFilesystemCheckSubnetError. */
const ErrorBody = Schema.fromJsonString(Schema.Struct({
  error: Schema.optionalKey(Schema.Struct({
    code: Schema.optionalKey(Schema.String),
    message: Schema.optionalKey(Schema.String)
  })),
  filesystemSubnet: Schema.optionalKey(Schema.Struct({
    status: Schema.optionalKey(Schema.String),
    message: Schema.optionalKey(Schema.String)
  }))
}))
export const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

/** The `status` label of an ARM request that failed: the HTTP status ARM answered, `no_response` or `cancelled`. */
const armStatusOf = (exit: Exit.Failure<unknown, unknown>): string => {
  if (Cause.hasInterruptsOnly(exit.cause)) return "cancelled"
  const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
  const status = Predicate.hasProperty(error, "statusCode") ? error.statusCode : 0
  return typeof status === "number" && status > 0 ? String(status) : "no_response"
}

const reasonOf = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${cause.message}${inner}`
}

/**
 * The client and its request helpers. Fails with an ArmError (status 0) only when the SDK cannot
 * be loaded: it is loaded here, not at the top of a module, so a node plugin never pays for it.
 */
export const makeArmClient = (options: ArmClientOptions) =>
  Effect.gen(function*() {
    const { sdk, pipeline } = yield* Effect.tryPromise({
      try: async () => ({ sdk: await import("@azure/arm-storagecache"), pipeline: await import("@azure/core-rest-pipeline") }),
      catch: (cause) =>
        new ArmError({
          operation: "loadClient",
          statusCode: 0,
          code: "ClientUnavailable",
          message: `cannot load @azure/arm-storagecache: ${reasonOf(cause)}`,
          retryAfterMillis: undefined
        })
    })
    const endpoint = (options.endpoint ?? defaultEndpoint).replace(/\/+$/, "")
    const client = new sdk.StorageCacheManagementClient(options.credential, options.subscriptionId, {
      $host: endpoint,
      endpoint,
      credentialScopes: [options.credentialScope ?? `${endpoint}/.default`],
      // Our Schedules retry; the SDK must not retry behind them.
      retryOptions: { maxRetries: 0 },
      ...(options.trustedCertificatePem === undefined
        ? {}
        : { tlsOptions: { ca: [...Tls.rootCertificates, options.trustedCertificatePem] } })
    })
    const onRequest = options.onRequest ?? (() => Effect.void)
    const requestTimeout = options.requestTimeout === undefined
      ? defaultRequestTimeout
      : Duration.fromInputUnsafe(options.requestTimeout)

    const noAnswer = (operation: string, reason: string) =>
      new ArmError({
        operation,
        statusCode: 0,
        code: "NoResponse",
        message: `${operation}: no answer from Azure Resource Manager at ${endpoint}: ${reason}`,
        retryAfterMillis: undefined
      })

    const fromResponse = (
      operation: string,
      apiVersion: string,
      status: number,
      headers: HeaderSource | undefined,
      body: string | null | undefined,
      fallback: { code?: string | undefined; message: string }
    ) => {
      const parsed = Option.getOrUndefined(decodeErrorBody(body ?? ""))
      return new ArmError({
        operation,
        statusCode: status,
        code: parsed?.error?.code ?? fallback.code ?? `HTTP${status}`,
        message: parsed?.error?.message ?? parsed?.filesystemSubnet?.message ?? fallback.message,
        retryAfterMillis: retryAfterMillis(headers),
        apiVersion
      })
    }

    const decodeCode = (body: string | null | undefined) => Option.getOrUndefined(decodeErrorBody(body ?? ""))?.error?.code
    /** A 404 that says the resource is not there, not that the endpoint lacks its type. */
    const isAbsent = (response: Pipeline.PipelineResponse) =>
      response.status === 404 && !isFeatureMissing(404, decodeCode(response.bodyAsText) ?? "")
    const toArmError = (operation: string, apiVersion: string = client.apiVersion) => (cause: unknown): ArmError => {
      if (pipeline.isRestError(cause) && cause.statusCode !== undefined && cause.statusCode !== 0) {
        const response = cause.response
        return new ArmError({
          operation,
          statusCode: cause.statusCode,
          code: cause.code ?? decodeCode(response?.bodyAsText) ?? `HTTP${cause.statusCode}`,
          message: cause.message,
          retryAfterMillis: retryAfterMillis(response?.headers),
          apiVersion
        })
      }
      return noAnswer(operation, reasonOf(cause))
    }

    /**
     * One ARM request: bounded by the request timeout, cancelled (aborted) when interrupted,
     * told to `options.onRequest`.
     */
    const call = <A, E>(
      operation: string,
      send: (signal: AbortSignal) => Promise<A>,
      onError: (cause: unknown) => E,
      // Every operation the SDK answers without a raw response succeeds with 200.
      statusOfAnswer: (answer: A) => string = () => "200"
    ): Effect.Effect<A, E | ArmError> =>
      Effect.tryPromise({ try: send, catch: onError }).pipe(
        Effect.timeoutOrElse({
          duration: requestTimeout,
          orElse: () => Effect.fail(noAnswer(operation, `no answer within ${Duration.format(requestTimeout)}`))
        }),
        Effect.onExit((exit) =>
          onRequest({ operation, status: Exit.isSuccess(exit) ? statusOfAnswer(exit.value) : armStatusOf(exit) })
        )
      )

    /**
     * A raw request through the client's pipeline (credential, TLS, user agent; no retries).
     * `beginCreateOrUpdate`/`beginDelete` always poll the operation once after the initial
     * response (core-lro `createHttpPoller` + `poller.poll()`), so a throttled poll would fail
     * a request ARM had accepted; the driver polls with `get` on its own Schedule instead.
     */
    const sendRaw = (operation: string, method: HttpMethod, url: string, body: unknown) =>
      call(operation, (signal): Promise<Pipeline.PipelineResponse> =>
        client.sendRequest(pipeline.createPipelineRequest({
          url,
          method,
          abortSignal: signal,
          headers: pipeline.createHttpHeaders({
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" })
          }),
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })), toArmError(operation, new URL(url).searchParams.get("api-version") ?? client.apiVersion), (response) => String(response.status))

    const apiVersionOf = (response: Pipeline.PipelineResponse) =>
      new URL(response.request.url).searchParams.get("api-version") ?? client.apiVersion
    const unexpected = (operation: string, what: string, response: Pipeline.PipelineResponse) =>
      fromResponse(operation, apiVersionOf(response), response.status, response.headers, response.bodyAsText, {
        message: `${operation} ${what}: ARM answered ${response.status}: ${response.bodyAsText ?? ""}`
      })
    const invalidResponse = (operation: string, what: string) =>
      new ArmError({
        operation,
        statusCode: 200,
        code: "InvalidResponse",
        message: `${operation} ${what}: ARM's answer is not the JSON expected`,
        retryAfterMillis: undefined
      })

    /** Only ARM's own host gets the credential: an operation URL elsewhere is not followed. */
    const onArmHost = (url: string) => url.toLowerCase().startsWith(`${client.$host.toLowerCase()}/`)

    return {
      client,
      pipeline,
      call,
      sendRaw,
      toArmError,
      decodeCode,
      isAbsent,
      unexpected,
      invalidResponse,
      onArmHost
    }
  })

export type ArmClient = Effect.Success<ReturnType<typeof makeArmClient>>
