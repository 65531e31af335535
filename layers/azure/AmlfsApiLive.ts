import type * as StorageCache from "@azure/arm-storagecache"
import type { TokenCredential } from "@azure/core-auth"
import type * as Pipeline from "@azure/core-rest-pipeline"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tls from "node:tls"
import { type AmlFilesystem, type AmlFilesystemSpec, AmlfsApi, ArmError, type AmlfsSku, SubnetRefused } from "./AmlfsApi.js"

export interface AmlfsApiLiveOptions {
  readonly subscriptionId: string
  /** Any @azure/identity credential; a static token for the emulator. */
  readonly credential: TokenCredential
  /**
   * The ARM endpoint, for sovereign clouds and the emulator (default https://management.azure.com).
   * Both the client's `$host` (operation URLs) and `endpoint` (token scope `<endpoint>/.default`).
   */
  readonly endpoint?: string
  /**
   * A PEM certificate this client trusts on top of Node's root certificates (the emulator's
   * self-signed one). Only this client's HTTPS agent sees it.
   */
  readonly trustedCertificatePem?: string
  /** Each ARM call gives up after this long, as an ArmError with status 0 (default 30 s). */
  readonly requestTimeout?: Duration.Input
}

const defaultEndpoint = "https://management.azure.com"
const defaultRequestTimeout = Duration.seconds(30)
const amlfsResourceType = "amlFilesystems"
/** The capability names the Go driver reads (pkg/azurelustre/dynamic_provisioning.go). */
const incrementCapability = "OSS capacity increment (TiB)"
const maximumCapability = "default maximum capacity (TiB)"

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
const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

const reasonOf = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${cause.message}${inner}`
}

const segment = encodeURIComponent

const sameLocation = (a: string, b: string) => a.replace(/\s+/g, "").toLowerCase() === b.replace(/\s+/g, "").toLowerCase()

/** The PUT body on ARM's wire shape (what the SDK's mappers would send). */
const wireBody = (spec: AmlFilesystemSpec) => ({
  location: spec.location,
  tags: spec.tags,
  sku: { name: spec.skuName },
  ...(spec.zones.length === 0 ? {} : { zones: spec.zones }),
  ...(spec.identities.length === 0 ? {} : {
    identity: {
      type: "UserAssigned",
      userAssignedIdentities: Object.fromEntries(spec.identities.map((id) => [id, {}]))
    }
  }),
  properties: {
    storageCapacityTiB: spec.storageCapacityTiB,
    filesystemSubnet: spec.filesystemSubnet,
    maintenanceWindow: { dayOfWeek: spec.maintenanceWindow.dayOfWeek, timeOfDayUTC: spec.maintenanceWindow.timeOfDayUTC }
  }
})

const toFilesystem = (resourceGroup: string, name: string, fs: StorageCache.AmlFilesystem): AmlFilesystem => ({
  name: fs.name ?? name,
  resourceGroup,
  location: fs.location,
  tags: fs.tags ?? {},
  skuName: fs.sku?.name ?? "",
  zones: fs.zones ?? [],
  storageCapacityTiB: fs.storageCapacityTiB ?? 0,
  provisioningState: fs.provisioningState ?? "Unknown",
  health: fs.health === undefined
    ? undefined
    : { state: fs.health.state ?? "Unknown", description: fs.health.statusDescription ?? "" },
  mgsAddress: fs.clientInfo?.mgsAddress,
  filesystemSubnet: fs.filesystemSubnet ?? "",
  createdAt: fs.systemData?.createdAt
})

const capability = (sku: StorageCache.ResourceSku, name: string): number | undefined => {
  const value = sku.capabilities?.find((c) => c.name === name)?.value
  const parsed = value === undefined ? Number.NaN : Number(value)
  return Number.isFinite(parsed) && parsed > 0 ? parsed : undefined
}

const make = (options: AmlfsApiLiveOptions) =>
  Effect.gen(function*() {
    // Loaded here, not at the top of the module: a node plugin never builds this layer and never
    // pays for the Azure SDK.
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
      // Our Schedules retry; the SDK must not retry behind them.
      retryOptions: { maxRetries: 0 },
      ...(options.trustedCertificatePem === undefined
        ? {}
        : { tlsOptions: { ca: [...Tls.rootCertificates, options.trustedCertificatePem] } })
    })
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

    const fromResponse = (operation: string, status: number, headers: HeaderSource | undefined, body: string | null | undefined, fallback: { code?: string | undefined; message: string }) => {
      const parsed = Option.getOrUndefined(decodeErrorBody(body ?? ""))
      return new ArmError({
        operation,
        statusCode: status,
        code: parsed?.error?.code ?? fallback.code ?? `HTTP${status}`,
        message: parsed?.error?.message ?? parsed?.filesystemSubnet?.message ?? fallback.message,
        retryAfterMillis: retryAfterMillis(headers)
      })
    }

    const decodeCode = (body: string | null | undefined) => Option.getOrUndefined(decodeErrorBody(body ?? ""))?.error?.code
    const toArmError = (operation: string) => (cause: unknown): ArmError => {
      if (pipeline.isRestError(cause) && cause.statusCode !== undefined && cause.statusCode !== 0) {
        const response = cause.response
        return new ArmError({
          operation,
          statusCode: cause.statusCode,
          code: cause.code ?? decodeCode(response?.bodyAsText) ?? `HTTP${cause.statusCode}`,
          message: cause.message,
          retryAfterMillis: retryAfterMillis(response?.headers)
        })
      }
      return noAnswer(operation, reasonOf(cause))
    }

    /** One ARM request: bounded by the request timeout, cancelled (aborted) when interrupted. */
    const call = <A, E>(
      operation: string,
      send: (signal: AbortSignal) => Promise<A>,
      onError: (cause: unknown) => E
    ): Effect.Effect<A, E | ArmError> =>
      Effect.tryPromise({ try: send, catch: onError }).pipe(
        Effect.timeoutOrElse({
          duration: requestTimeout,
          orElse: () => Effect.fail(noAnswer(operation, `no answer within ${Duration.format(requestTimeout)}`))
        })
      )

    const filesystemUrl = (resourceGroup: string, name: string) =>
      `${client.$host}/subscriptions/${segment(client.subscriptionId)}/resourceGroups/${segment(resourceGroup)}/providers/Microsoft.StorageCache/amlFilesystems/${
        segment(name)
      }?api-version=${segment(client.apiVersion)}`

    /**
     * A raw request through the client's pipeline (credential, TLS, user agent; no retries).
     * `beginCreateOrUpdate`/`beginDelete` always poll the operation once after the initial
     * response (core-lro `createHttpPoller` + `poller.poll()`), so a throttled poll would fail
     * a request ARM had accepted; the driver polls with `get` on its own Schedule instead.
     */
    const sendRaw = (operation: string, method: "PUT" | "DELETE", url: string, body: unknown) =>
      call(operation, (signal) =>
        client.sendRequest(pipeline.createPipelineRequest({
          url,
          method,
          abortSignal: signal,
          headers: pipeline.createHttpHeaders({
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" })
          }),
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })), toArmError(operation))

    const get = Effect.fn("AmlfsApi.get")(function*(resourceGroup: string, name: string) {
      const operation = "getAmlFilesystem"
      return yield* call(
        operation,
        (abortSignal) => client.amlFilesystems.get(resourceGroup, name, { abortSignal }),
        toArmError(operation)
      ).pipe(
        Effect.map((fs) => Option.some(toFilesystem(resourceGroup, name, fs))),
        Effect.catchIf((error) => error.statusCode === 404, () => Effect.succeed(Option.none<AmlFilesystem>()))
      )
    })

    const beginCreate = Effect.fn("AmlfsApi.beginCreate")(function*(resourceGroup: string, name: string, spec: AmlFilesystemSpec) {
      const operation = "createAmlFilesystem"
      const response = yield* sendRaw(operation, "PUT", filesystemUrl(resourceGroup, name), wireBody(spec))
      if (response.status === 200 || response.status === 201 || response.status === 202) return
      return yield* fromResponse(operation, response.status, response.headers, response.bodyAsText, {
        message: `${operation} ${name}: ARM answered ${response.status}: ${response.bodyAsText ?? ""}`
      })
    })

    const beginDelete = Effect.fn("AmlfsApi.beginDelete")(function*(resourceGroup: string, name: string) {
      const operation = "deleteAmlFilesystem"
      const response = yield* sendRaw(operation, "DELETE", filesystemUrl(resourceGroup, name), undefined)
      if ([200, 202, 204, 404].includes(response.status)) return
      return yield* fromResponse(operation, response.status, response.headers, response.bodyAsText, {
        message: `${operation} ${name}: ARM answered ${response.status}: ${response.bodyAsText ?? ""}`
      })
    })

    const listSkus = Effect.fn("AmlfsApi.listSkus")(function*(location: string) {
      const all = yield* call("listSkus", async (abortSignal) => {
        const skus: Array<StorageCache.ResourceSku> = []
        for await (const sku of client.skus.list({ abortSignal })) skus.push(sku)
        return skus
      }, toArmError("listSkus"))
      const found = new Map<string, AmlfsSku>()
      for (const sku of all) {
        if (sku.name === undefined || sku.resourceType?.toLowerCase() !== amlfsResourceType.toLowerCase()) continue
        if (!(sku.locations ?? []).some((l) => sameLocation(l, location)) || found.has(sku.name)) continue
        const incrementTiB = capability(sku, incrementCapability)
        const maximumTiB = capability(sku, maximumCapability)
        if (incrementTiB === undefined || maximumTiB === undefined) continue
        const zones = (sku.locationInfo ?? [])
          .filter((info) => info.location !== undefined && sameLocation(info.location, location))
          .flatMap((info) => info.zones ?? [])
          .filter((zone) => zone !== "")
        found.set(sku.name, { name: sku.name, location, incrementTiB, maximumTiB, zones: [...new Set(zones)].sort() })
      }
      const skus: ReadonlyArray<AmlfsSku> = [...found.values()]
      return skus
    })

    const requiredSubnetSize = Effect.fn("AmlfsApi.requiredSubnetSize")(function*(skuName: string, storageCapacityTiB: number) {
      const operation = "getRequiredAmlFSSubnetsSize"
      const answer = yield* call(
        operation,
        (abortSignal) =>
          client.getRequiredAmlFSSubnetsSize({
            abortSignal,
            requiredAMLFilesystemSubnetsSizeInfo: { storageCapacityTiB, sku: { name: skuName } }
          }),
        toArmError(operation)
      )
      if (answer.filesystemSubnetSize === undefined) {
        return yield* new ArmError({
          operation,
          statusCode: 200,
          code: "InvalidResponse",
          message: `${operation}: ARM's answer has no filesystemSubnetSize`,
          retryAfterMillis: undefined
        })
      }
      return answer.filesystemSubnetSize
    })

    const checkSubnet = Effect.fn("AmlfsApi.checkSubnet")(function*(
      subnetId: string,
      skuName: string,
      storageCapacityTiB: number,
      location: string
    ) {
      const operation = "checkAmlFSSubnets"
      yield* call(
        operation,
        (abortSignal) =>
          client.checkAmlFSSubnets({
            abortSignal,
            amlFilesystemSubnetInfo: { filesystemSubnet: subnetId, storageCapacityTiB, sku: { name: skuName }, location }
          }),
        (cause): ArmError | SubnetRefused => {
          if (pipeline.isRestError(cause) && cause.statusCode === 400) {
            const body = Option.getOrUndefined(decodeErrorBody(cause.response?.bodyAsText ?? ""))
            if (body?.filesystemSubnet?.status?.toLowerCase() === "invalid" || (cause.code ?? body?.error?.code) === "InvalidSubnet") {
              return new SubnetRefused({
                subnetId,
                message: body?.filesystemSubnet?.message ?? body?.error?.message ?? cause.message
              })
            }
          }
          return toArmError(operation)(cause)
        }
      )
    })

    return AmlfsApi.of({ get, beginCreate, beginDelete, listSkus, requiredSubnetSize, checkSubnet })
  })

/** Azure Resource Manager through @azure/arm-storagecache 7.0.0 (api-version 2023-05-01). */
export const AmlfsApiLive = {
  /** Fails with an ArmError (status 0) only when the SDK cannot be loaded. */
  layer: (options: AmlfsApiLiveOptions): Layer.Layer<AmlfsApi, ArmError> => Layer.effect(AmlfsApi, make(options))
} as const
