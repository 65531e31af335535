import type * as StorageCache from "@azure/arm-storagecache"
import type * as Pipeline from "@azure/core-rest-pipeline"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import {
  type AmlFilesystem,
  type AmlFilesystemSpec,
  AmlfsApi,
  ArmError,
  type ArmOperation,
  type AmlfsSku,
  type ExpansionJob,
  hsmApiVersions,
  isFeatureMissing,
  SubnetRefused
} from "./AmlfsApi.js"
import { type HsmApiVersions, makeLiveHsmCalls } from "./AmlfsApiLiveHsm.js"
import { HsmWire, loose, toFilesystemHsm } from "./AmlfsHsmWire.js"
import { type ArmClientOptions, decodeErrorBody, makeArmClient } from "./ArmClient.js"

export interface AmlfsApiLiveOptions extends ArmClientOptions {
  /**
   * The api-version of the calls the 7.0.0 client has no operation for: expansionJobs, and `get`
   * (for currentStorageCapacityTiB). Default 2026-01-01, the first with expansionJobs.
   */
  readonly expansionApiVersion?: string
  /**
   * The api-versions of blob integration (default hsmApiVersions: a creation with hsm.settings at
   * 2024-03-01, importJobs and autoExportJobs at 2024-07-01, autoImportJobs at 2025-07-01,
   * archive and cancelArchive at 2023-05-01).
   */
  readonly hsmApiVersions?: Partial<HsmApiVersions>
}

export { type ArmRequestEnded, retryAfterMillis } from "./ArmClient.js"

/** The first api-version with expansionJobs and currentStorageCapacityTiB. */
export const defaultExpansionApiVersion = "2026-01-01"
const amlfsResourceType = "amlFilesystems"
/** The capability names the Go driver reads (pkg/azurelustre/dynamic_provisioning.go). */
const incrementCapability = "OSS capacity increment (TiB)"
const maximumCapability = "default maximum capacity (TiB)"

/** A long-running operation's status (GET of its Azure-AsyncOperation URL). */
const decodeOperationWire = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({
  status: Schema.String,
  error: Schema.optionalKey(Schema.NullOr(Schema.Struct({
    code: Schema.optionalKey(Schema.NullOr(Schema.String)),
    message: Schema.optionalKey(Schema.NullOr(Schema.String))
  })))
})))

/** The AmlFilesystem fields the driver reads, as ARM sends them (api-version 2026-01-01). */
const FilesystemWire = Schema.fromJsonString(Schema.Struct({
  name: loose(Schema.String),
  location: Schema.String,
  tags: loose(Schema.Record(Schema.String, Schema.String)),
  sku: loose(Schema.Struct({ name: loose(Schema.String) })),
  zones: loose(Schema.Array(Schema.String)),
  systemData: loose(Schema.Struct({ createdAt: loose(Schema.String) })),
  properties: loose(Schema.Struct({
    storageCapacityTiB: loose(Schema.Number),
    currentStorageCapacityTiB: loose(Schema.Number),
    provisioningState: loose(Schema.String),
    health: loose(Schema.Struct({ state: loose(Schema.String), statusDescription: loose(Schema.String) })),
    clientInfo: loose(Schema.Struct({ mgsAddress: loose(Schema.String) })),
    filesystemSubnet: loose(Schema.String),
    hsm: loose(HsmWire)
  }))
}))
const decodeFilesystemWire = Schema.decodeUnknownOption(FilesystemWire)

const ExpansionJobStatusWire = Schema.Struct({
  state: loose(Schema.String),
  statusCode: loose(Schema.String),
  statusMessage: loose(Schema.String),
  percentComplete: loose(Schema.Number),
  startTimeUTC: loose(Schema.String),
  completionTimeUTC: loose(Schema.String)
})
/**
 * An expansion job as ARM sends it. The 2026-01-01 examples nest the status in an object
 * (`properties.status.state`); a flat `properties.status` string with its siblings is accepted too.
 */
const ExpansionJobWire = Schema.Struct({
  name: loose(Schema.String),
  properties: loose(Schema.Struct({
    newStorageCapacityTiB: loose(Schema.Number),
    provisioningState: loose(Schema.String),
    status: loose(Schema.Union([Schema.String, ExpansionJobStatusWire])),
    statusCode: loose(Schema.String),
    statusMessage: loose(Schema.String),
    percentComplete: loose(Schema.Number),
    startTimeUTC: loose(Schema.String),
    completionTimeUTC: loose(Schema.String)
  }))
})
const decodeExpansionJobWire = Schema.decodeUnknownOption(Schema.fromJsonString(ExpansionJobWire))
const decodeExpansionJobListWire = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({
  value: loose(Schema.Array(ExpansionJobWire)),
  nextLink: loose(Schema.String)
})))

const dateOf = (text: string | null | undefined): Date | undefined => {
  if (text === undefined || text === null) return undefined
  const date = new Date(text)
  return Number.isNaN(date.getTime()) ? undefined : date
}
const orUndefined = <A>(value: A | null | undefined): A | undefined => value ?? undefined

const toExpansionJob = (fallbackName: string, job: typeof ExpansionJobWire.Type): ExpansionJob => {
  const properties = job.properties ?? undefined
  const status = properties?.status ?? undefined
  const nested = typeof status === "object" ? status : undefined
  return {
    name: job.name ?? fallbackName,
    newStorageCapacityTiB: properties?.newStorageCapacityTiB ?? 0,
    status: (typeof status === "string" ? status : nested?.state) ?? "Unknown",
    statusCode: orUndefined(nested?.statusCode ?? properties?.statusCode),
    statusMessage: orUndefined(nested?.statusMessage ?? properties?.statusMessage),
    percentComplete: orUndefined(nested?.percentComplete ?? properties?.percentComplete),
    provisioningState: orUndefined(properties?.provisioningState),
    startTime: dateOf(nested?.startTimeUTC ?? properties?.startTimeUTC),
    completionTime: dateOf(nested?.completionTimeUTC ?? properties?.completionTimeUTC)
  }
}


const segment = encodeURIComponent

const sameLocation = (a: string, b: string) => a.replace(/\s+/g, "").toLowerCase() === b.replace(/\s+/g, "").toLowerCase()

/**
 * The PUT body on ARM's wire shape. Not through the SDK's mappers: 7.0.0's know hsm.settings
 * without importPrefixesInitial and would drop it.
 */
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
    maintenanceWindow: { dayOfWeek: spec.maintenanceWindow.dayOfWeek, timeOfDayUTC: spec.maintenanceWindow.timeOfDayUTC },
    ...(spec.hsm === undefined ? {} : {
      hsm: {
        settings: {
          container: spec.hsm.container,
          loggingContainer: spec.hsm.loggingContainer,
          // None: ARM's default, "/".
          ...(spec.hsm.importPrefixesInitial.length === 0 ? {} : { importPrefixesInitial: spec.hsm.importPrefixesInitial })
        }
      }
    })
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
  // The 7.0.0 mappers drop it, and ARM only sends it from api-version 2026-01-01 on.
  currentStorageCapacityTiB: undefined,
  provisioningState: fs.provisioningState ?? "Unknown",
  health: fs.health === undefined
    ? undefined
    : { state: fs.health.state ?? "Unknown", description: fs.health.statusDescription ?? "" },
  mgsAddress: fs.clientInfo?.mgsAddress,
  filesystemSubnet: fs.filesystemSubnet ?? "",
  createdAt: fs.systemData?.createdAt,
  hsm: toFilesystemHsm(fs.hsm)
})

/** The same from the raw 2026-01-01 body. */
const toFilesystemFromWire = (resourceGroup: string, name: string, fs: typeof FilesystemWire.Type): AmlFilesystem => {
  const properties = fs.properties ?? undefined
  const health = properties?.health ?? undefined
  return {
    name: fs.name ?? name,
    resourceGroup,
    location: fs.location,
    tags: fs.tags ?? {},
    skuName: fs.sku?.name ?? "",
    zones: fs.zones ?? [],
    storageCapacityTiB: properties?.storageCapacityTiB ?? 0,
    currentStorageCapacityTiB: orUndefined(properties?.currentStorageCapacityTiB),
    provisioningState: properties?.provisioningState ?? "Unknown",
    health: health === undefined ? undefined : { state: health.state ?? "Unknown", description: health.statusDescription ?? "" },
    mgsAddress: orUndefined(properties?.clientInfo?.mgsAddress),
    filesystemSubnet: properties?.filesystemSubnet ?? "",
    createdAt: dateOf(fs.systemData?.createdAt),
    hsm: toFilesystemHsm(properties?.hsm)
  }
}

const capability = (sku: StorageCache.ResourceSku, name: string): number | undefined => {
  const value = sku.capabilities?.find((c) => c.name === name)?.value
  const parsed = value === undefined ? Number.NaN : Number(value)
  return Number.isFinite(parsed) && parsed > 0 ? parsed : undefined
}

const make = (options: AmlfsApiLiveOptions) =>
  Effect.gen(function*() {
    // A node plugin never builds this layer and never pays for the Azure SDK (makeArmClient loads it).
    const { client, pipeline, call, sendRaw, toArmError, decodeCode, isAbsent, unexpected, invalidResponse, onArmHost } =
      yield* makeArmClient(options)
    const expansionApiVersion = options.expansionApiVersion ?? defaultExpansionApiVersion

    const filesystemUrl = (resourceGroup: string, name: string) =>
      `${client.$host}/subscriptions/${segment(client.subscriptionId)}/resourceGroups/${segment(resourceGroup)}/providers/Microsoft.StorageCache/amlFilesystems/${
        segment(name)
      }?api-version=${segment(client.apiVersion)}`

    const filesystemPath = (resourceGroup: string, name: string) =>
      `${client.$host}/subscriptions/${segment(client.subscriptionId)}/resourceGroups/${segment(resourceGroup)}/providers/Microsoft.StorageCache/amlFilesystems/${
        segment(name)
      }`
    const newer = `api-version=${segment(expansionApiVersion)}`
    const expansionJobsUrl = (resourceGroup: string, name: string) => `${filesystemPath(resourceGroup, name)}/expansionJobs?${newer}`
    const expansionJobUrl = (resourceGroup: string, name: string, job: string) =>
      `${filesystemPath(resourceGroup, name)}/expansionJobs/${segment(job)}?${newer}`

    /** The operation ARM named in Azure-AsyncOperation: one GET per read. */
    const operationAt = (url: string): ArmOperation => ({
      read: Effect.gen(function*() {
        const operation = "getAsyncOperation"
        const response = yield* sendRaw(operation, "GET", url, undefined)
        if (response.status !== 200) return yield* unexpected(operation, "status", response)
        const decoded = decodeOperationWire(response.bodyAsText ?? "")
        if (Option.isNone(decoded)) return yield* invalidResponse(operation, "status")
        const error = decoded.value.error ?? undefined
        return {
          status: decoded.value.status,
          error: error === undefined || (error.code == null && error.message == null)
            ? undefined
            : { code: error.code ?? "", message: error.message ?? "" }
        }
      })
    })

    /** Set once ARM refused the newer api-version for amlFilesystems: `get` uses the client's own then. */
    const newerApiRefused = yield* Ref.make(false)

    /** The 7.0.0 client's GET (api-version 2023-05-01, no currentStorageCapacityTiB). */
    const getThroughClient = (operation: string, resourceGroup: string, name: string) =>
      call(
        operation,
        (abortSignal) => client.amlFilesystems.get(resourceGroup, name, { abortSignal }),
        toArmError(operation)
      ).pipe(
        Effect.map((fs) => Option.some(toFilesystem(resourceGroup, name, fs))),
        Effect.catchIf((error) => error.statusCode === 404 && !error.featureMissing, () => Effect.succeed(Option.none<AmlFilesystem>()))
      )

    const get = Effect.fn("AmlfsApi.get")(function*(resourceGroup: string, name: string) {
      const operation = "getAmlFilesystem"
      if (yield* Ref.get(newerApiRefused)) return yield* getThroughClient(operation, resourceGroup, name)
      const response = yield* sendRaw(operation, "GET", `${filesystemPath(resourceGroup, name)}?${newer}`, undefined)
      if (isAbsent(response)) return Option.none<AmlFilesystem>()
      // A cloud that lags behind: the type may still be there at the client's own api-version.
      if (isFeatureMissing(response.status, decodeCode(response.bodyAsText) ?? "")) {
        yield* Ref.set(newerApiRefused, true)
        return yield* getThroughClient(operation, resourceGroup, name)
      }
      if (response.status !== 200) return yield* unexpected(operation, name, response)
      const decoded = decodeFilesystemWire(response.bodyAsText ?? "")
      if (Option.isNone(decoded)) return yield* invalidResponse(operation, name)
      return Option.some(toFilesystemFromWire(resourceGroup, name, decoded.value))
    })

    const getExpansionJob = Effect.fn("AmlfsApi.getExpansionJob")(function*(resourceGroup: string, filesystemName: string, jobName: string) {
      const operation = "getExpansionJob"
      const what = `${filesystemName}/${jobName}`
      const response = yield* sendRaw(operation, "GET", expansionJobUrl(resourceGroup, filesystemName, jobName), undefined)
      if (isAbsent(response)) return Option.none<ExpansionJob>()
      if (response.status !== 200) return yield* unexpected(operation, what, response)
      const decoded = decodeExpansionJobWire(response.bodyAsText ?? "")
      if (Option.isNone(decoded)) return yield* invalidResponse(operation, what)
      return Option.some(toExpansionJob(jobName, decoded.value))
    })

    const beginExpansion = Effect.fn("AmlfsApi.beginExpansion")(function*(
      resourceGroup: string,
      filesystemName: string,
      jobName: string,
      newStorageCapacityTiB: number,
      location: string
    ) {
      const operation = "createExpansionJob"
      const response = yield* sendRaw(
        operation,
        "PUT",
        expansionJobUrl(resourceGroup, filesystemName, jobName),
        { location, properties: { newStorageCapacityTiB } }
      )
      if (response.status === 200 || response.status === 201 || response.status === 202) return
      return yield* unexpected(operation, `${filesystemName}/${jobName}`, response)
    })

    const listExpansionJobs = Effect.fn("AmlfsApi.listExpansionJobs")(function*(resourceGroup: string, filesystemName: string) {
      const operation = "listExpansionJobs"
      const jobs: Array<ExpansionJob> = []
      let url: string | undefined = expansionJobsUrl(resourceGroup, filesystemName)
      // ARM keeps at most 10 jobs; the bound only guards against a nextLink that loops.
      for (let page = 0; url !== undefined && page < 100; page++) {
        const response: Pipeline.PipelineResponse = yield* sendRaw(operation, "GET", url, undefined)
        if (response.status !== 200) return yield* unexpected(operation, filesystemName, response)
        const decoded = decodeExpansionJobListWire(response.bodyAsText ?? "")
        if (Option.isNone(decoded)) return yield* invalidResponse(operation, filesystemName)
        for (const job of decoded.value.value ?? []) jobs.push(toExpansionJob("", job))
        const next = decoded.value.nextLink ?? undefined
        // The credential goes with every request: follow ARM's own host only.
        url = next !== undefined && onArmHost(next) ? next : undefined
      }
      const all: ReadonlyArray<ExpansionJob> = jobs
      return all
    })

    const hsmVersions: HsmApiVersions = { ...hsmApiVersions, ...options.hsmApiVersions }

    const beginCreate = Effect.fn("AmlfsApi.beginCreate")(function*(resourceGroup: string, name: string, spec: AmlFilesystemSpec) {
      // importPrefixesInitial needs 2024-03-01; without blob integration the client's own version will do.
      const operation = spec.hsm === undefined ? "createAmlFilesystem" : "createAmlFilesystemWithHsm"
      const url = spec.hsm === undefined
        ? filesystemUrl(resourceGroup, name)
        : `${filesystemPath(resourceGroup, name)}?api-version=${segment(hsmVersions.create)}`
      const response = yield* sendRaw(operation, "PUT", url, wireBody(spec))
      if (response.status === 200 || response.status === 201 || response.status === 202) {
        const url = response.headers.get("azure-asyncoperation")
        return url !== undefined && onArmHost(url) ? Option.some(operationAt(url)) : Option.none<ArmOperation>()
      }
      return yield* unexpected(operation, name, response)
    })

    const beginDelete = Effect.fn("AmlfsApi.beginDelete")(function*(resourceGroup: string, name: string) {
      const operation = "deleteAmlFilesystem"
      const response = yield* sendRaw(operation, "DELETE", filesystemUrl(resourceGroup, name), undefined)
      if ([200, 202, 204].includes(response.status) || isAbsent(response)) return
      return yield* unexpected(operation, name, response)
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

    return AmlfsApi.of({
      get,
      beginCreate,
      beginDelete,
      getExpansionJob,
      beginExpansion,
      listExpansionJobs,
      listSkus,
      requiredSubnetSize,
      checkSubnet,
      ...makeLiveHsmCalls({
        sendRaw,
        filesystemPath,
        isAbsent,
        unexpected,
        invalidResponse,
        onArmHost,
        apiVersions: hsmVersions
      })
    })
  })

/**
 * Azure Resource Manager through @azure/arm-storagecache 7.0.0 (api-version 2023-05-01), plus
 * `get` and the expansionJobs calls at `expansionApiVersion` (2026-01-01), and blob integration
 * at the api-versions of `hsmApiVersions` (AmlfsApiLiveHsm.ts), through the same client's pipeline.
 */
export const AmlfsApiLive = {
  /** Fails with an ArmError (status 0) only when the SDK cannot be loaded. */
  layer: (options: AmlfsApiLiveOptions): Layer.Layer<AmlfsApi, ArmError> => Layer.effect(AmlfsApi, make(options))
} as const
