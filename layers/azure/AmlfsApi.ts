import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  type AmlFilesystemHsm,
  type AutoExportJob,
  type AutoExportJobSpec,
  type AutoImportJob,
  type AutoImportJobSpec,
  type HsmSettings,
  hsmApiVersions,
  type ImportJob,
  type ImportJobSpec
} from "./AmlfsHsm.js"

export * from "./AmlfsHsm.js"

/** An Azure Managed Lustre filesystem as ARM describes it (the fields the driver reads). */
export interface AmlFilesystem {
  readonly name: string
  readonly resourceGroup: string
  readonly location: string
  readonly tags: Readonly<Record<string, string>>
  readonly skuName: string
  readonly zones: ReadonlyArray<string>
  /** The capacity asked for at creation; it never changes, not even after an expansion. */
  readonly storageCapacityTiB: number
  /**
   * properties.currentStorageCapacityTiB (api-version 2026-01-01 and newer): the actual capacity,
   * expansions included. undefined when ARM did not report it (an older api-version).
   */
  readonly currentStorageCapacityTiB: number | undefined
  /** Succeeded, Failed, Creating, Deleting, Updating, Canceled (ARM may add others). */
  readonly provisioningState: string
  /** Available, Degraded, Transitioning, ... with ARM's description when it is not healthy. */
  readonly health: { readonly state: string; readonly description: string } | undefined
  /** clientInfo.mgsAddress: known once the filesystem is provisioned. */
  readonly mgsAddress: string | undefined
  readonly filesystemSubnet: string
  /** systemData.createdAt, when ARM reports it: how long a creation has been running. */
  readonly createdAt: Date | undefined
  /** properties.hsm: the blob integration it was created with and its archives; undefined without one. */
  readonly hsm: AmlFilesystemHsm | undefined
}

/** What CreateVolume asks ARM to create (PUT amlFilesystems/{name}). */
export interface AmlFilesystemSpec {
  readonly location: string
  readonly skuName: string
  readonly storageCapacityTiB: number
  readonly filesystemSubnet: string
  readonly zones: ReadonlyArray<string>
  readonly maintenanceWindow: { readonly dayOfWeek: string; readonly timeOfDayUTC: string }
  readonly tags: Readonly<Record<string, string>>
  /** User-assigned identity ARM ids (type UserAssigned), none means no identity. */
  readonly identities: ReadonlyArray<string>
  /**
   * Blob integration (properties.hsm.settings, read and create only). With it the PUT is sent at
   * api-version 2024-03-01 (hsmApiVersions.create), the first that knows importPrefixesInitial.
   */
  readonly hsm?: HsmSettings
}

/**
 * expansionJobs status.state (api-version 2026-01-01): InProgress, then Completed or Failed;
 * Deleting or RollingBack while an expansion is rolled back. ARM may add others.
 */
export type ExpansionJobStatus = "InProgress" | "Completed" | "Failed" | "Deleting" | "RollingBack" | (string & Record<never, never>)

/** A cluster expansion: amlFilesystems/{fs}/expansionJobs/{name} (api-version 2026-01-01). */
export interface ExpansionJob {
  readonly name: string
  readonly newStorageCapacityTiB: number
  /** "Unknown" when ARM sent none. */
  readonly status: ExpansionJobStatus
  /** ARM's reason code, mostly for a Failed job. */
  readonly statusCode?: string | undefined
  readonly statusMessage?: string | undefined
  /** 0..100. */
  readonly percentComplete?: number | undefined
  /** The job resource's ARM provisioningState (Creating, Succeeded, Failed, ...). */
  readonly provisioningState?: string | undefined
  readonly startTime?: Date | undefined
  /** Only once the job reached a terminal state. */
  readonly completionTime?: Date | undefined
}

/** An AMLFS SKU in a location, from Microsoft.StorageCache/skus (capabilities). */
export interface AmlfsSku {
  readonly name: string
  readonly location: string
  /** Capacity must be a multiple of this ("OSS capacity increment (TiB)"). */
  readonly incrementTiB: number
  readonly maximumTiB: number
  /** Availability zones the SKU is offered in, in this location; empty when zonal placement is not offered. */
  readonly zones: ReadonlyArray<string>
}

/**
 * ARM's codes for an endpoint or api-version that lacks what was asked: 404 InvalidResourceType
 * (the resource type is unknown there) or InvalidResourceNamespace (so is Microsoft.StorageCache),
 * 400 NoRegisteredProviderFound or InvalidApiVersionParameter (the api-version is unknown for the
 * type). Never "the resource is gone": that is 404 ResourceNotFound.
 */
const featureMissingCodes: Readonly<Record<number, ReadonlyArray<string>>> = {
  404: ["invalidresourcetype", "invalidresourcenamespace"],
  400: ["noregisteredproviderfound", "invalidapiversionparameter"]
}

/** Whether ARM answered that the endpoint or api-version lacks the resource type or operation. */
export const isFeatureMissing = (statusCode: number, code: string): boolean =>
  featureMissingCodes[statusCode]?.includes(code.toLowerCase()) ?? false

/**
 * A failed ARM request, as ARM answered it. `statusCode` 0 means no answer (network, TLS,
 * timeout). `retryAfter` is ARM's Retry-After, when it sent one. `apiVersion` is the request's.
 */
export class ArmError extends Schema.TaggedError<ArmError>()("ArmError", {
  operation: Schema.String,
  statusCode: Schema.Number,
  /** ARM's error code: ResourceNotFound, QuotaExceeded, InvalidSubnet, AuthorizationFailed, ... */
  code: Schema.String,
  message: Schema.String,
  retryAfterMillis: Schema.UndefinedOr(Schema.Number),
  apiVersion: Schema.optionalKey(Schema.String)
}) {
  /** Throttling, server errors and no answer at all may heal by themselves. */
  get retryable(): boolean {
    return this.statusCode === 0 || this.statusCode === 408 || this.statusCode === 429 || this.statusCode >= 500
  }

  /** ARM does not offer what was asked at this endpoint and api-version (see isFeatureMissing). */
  get featureMissing(): boolean {
    return isFeatureMissing(this.statusCode, this.code)
  }

  /**
   * When ARM does not offer what was asked: the feature, in the API's words, and the api-version
   * it needs (and that was sent, unless `apiVersion` says otherwise).
   */
  get missingFeature(): { readonly feature: string; readonly apiVersion: string } | undefined {
    if (!this.featureMissing) return undefined
    return { feature: armFeatureOf(this.operation), apiVersion: armApiVersionOf(this.operation) }
  }
}

/** The ARM feature each operation needs, in the words of the API (for "ARM does not offer ..."). */
export const armFeatureOf = (operation: string): string => {
  switch (operation) {
    case "getAmlFilesystem":
    case "createAmlFilesystem":
    case "deleteAmlFilesystem":
    case "getAsyncOperation":
      return "Azure Managed Lustre filesystems (Microsoft.StorageCache/amlFilesystems)"
    case "getExpansionJob":
    case "createExpansionJob":
    case "listExpansionJobs":
      return "AMLFS cluster expansion (Microsoft.StorageCache/amlFilesystems/expansionJobs)"
    case "listSkus":
      return "the AMLFS SKU list (Microsoft.StorageCache/skus)"
    case "checkAmlFSSubnets":
      return "AMLFS subnet checks (Microsoft.StorageCache/checkAmlFSSubnets)"
    case "getRequiredAmlFSSubnetsSize":
      return "AMLFS subnet sizing (Microsoft.StorageCache/getRequiredAmlFSSubnetsSize)"
    case "createAmlFilesystemWithHsm":
      return "AMLFS blob integration at creation (hsm.settings.importPrefixesInitial)"
    case "getImportJob":
    case "createImportJob":
    case "listImportJobs":
    case "cancelImportJob":
      return "AMLFS import jobs (Microsoft.StorageCache/amlFilesystems/importJobs)"
    case "getAutoExportJob":
    case "createAutoExportJob":
    case "listAutoExportJobs":
    case "disableAutoExportJob":
      return "AMLFS auto-export jobs (Microsoft.StorageCache/amlFilesystems/autoExportJobs)"
    case "getAutoImportJob":
    case "createAutoImportJob":
    case "listAutoImportJobs":
    case "disableAutoImportJob":
      return "AMLFS auto-import jobs (Microsoft.StorageCache/amlFilesystems/autoImportJobs)"
    case "archiveAmlFilesystem":
    case "cancelArchiveAmlFilesystem":
      return "AMLFS archive to Blob (Microsoft.StorageCache/amlFilesystems/archive)"
    default:
      return `the ARM operation ${operation}`
  }
}

/** The first api-version with the feature each operation needs (what the live layer sends for it). */
export const armApiVersionOf = (operation: string): string => {
  switch (operation) {
    case "getAmlFilesystem":
    case "getExpansionJob":
    case "createExpansionJob":
    case "listExpansionJobs":
      return "2026-01-01"
    case "createAmlFilesystemWithHsm":
      return hsmApiVersions.create
    case "getImportJob":
    case "createImportJob":
    case "listImportJobs":
    case "cancelImportJob":
      return hsmApiVersions.importJobs
    case "getAutoExportJob":
    case "createAutoExportJob":
    case "listAutoExportJobs":
    case "disableAutoExportJob":
      return hsmApiVersions.autoExportJobs
    case "getAutoImportJob":
    case "createAutoImportJob":
    case "listAutoImportJobs":
    case "disableAutoImportJob":
      return hsmApiVersions.autoImportJobs
    default:
      return "2023-05-01"
  }
}

/** What a long-running ARM operation says of itself (GET of its Azure-AsyncOperation URL). */
export interface ArmOperationStatus {
  /** InProgress, Succeeded, Failed or Canceled (ARM may add others). */
  readonly status: string
  /** ARM's reason, when the operation Failed. */
  readonly error: { readonly code: string; readonly message: string } | undefined
}

/**
 * A long-running operation ARM accepted, like the SDKs' pollers: `read` asks ARM how it stands
 * (one request). A creation that ends Failed says why here, and maybe nowhere else.
 */
export interface ArmOperation {
  readonly read: Effect.Effect<ArmOperationStatus, ArmError>
}

/** checkAmlFSSubnets refused the subnet (400 InvalidSubnet / filesystemSubnet.status Invalid). */
export class SubnetRefused extends Schema.TaggedError<SubnetRefused>()("SubnetRefused", {
  subnetId: Schema.String,
  message: Schema.String
}) {}

/**
 * The Azure Resource Manager operations of Microsoft.StorageCache the controller uses. Every call
 * is one HTTP request through the @azure/arm-storagecache client's pipeline (credentials,
 * telemetry); retrying and polling are the caller's Schedules, not hidden here.
 */
export class AmlfsApi extends Context.Service<AmlfsApi, {
  /**
   * GET amlFilesystems/{name}; None when ARM answers 404 ResourceNotFound (never for a 404 that
   * says the endpoint lacks the resource type: see isFeatureMissing). Read at api-version 2026-01-01 so that
   * currentStorageCapacityTiB is reported.
   */
  readonly get: (resourceGroup: string, name: string) => Effect.Effect<Option.Option<AmlFilesystem>, ArmError>
  /**
   * PUT amlFilesystems/{name}: starts the creation and returns once ARM accepted it (200/201),
   * with the operation ARM started (its Azure-AsyncOperation), if it named one.
   */
  readonly beginCreate: (
    resourceGroup: string,
    name: string,
    spec: AmlFilesystemSpec
  ) => Effect.Effect<Option.Option<ArmOperation>, ArmError>
  /** DELETE amlFilesystems/{name}: starts the deletion (202/204); 404 ResourceNotFound counts as done. */
  readonly beginDelete: (resourceGroup: string, name: string) => Effect.Effect<void, ArmError>
  /** GET amlFilesystems/{fs}/expansionJobs/{job}; None when ARM answers 404 for no such job or filesystem. */
  readonly getExpansionJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string
  ) => Effect.Effect<Option.Option<ExpansionJob>, ArmError>
  /**
   * PUT amlFilesystems/{fs}/expansionJobs/{job} with `{location, properties:{newStorageCapacityTiB}}`:
   * starts the expansion and returns once ARM accepted it (200: the job already exists with this
   * capacity; 201: started). Follow it with `getExpansionJob`.
   */
  readonly beginExpansion: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string,
    newStorageCapacityTiB: number,
    location: string
  ) => Effect.Effect<void, ArmError>
  /** GET amlFilesystems/{fs}/expansionJobs: ARM keeps the 10 most recent jobs. */
  readonly listExpansionJobs: (
    resourceGroup: string,
    filesystemName: string
  ) => Effect.Effect<ReadonlyArray<ExpansionJob>, ArmError>
  /**
   * PUT importJobs/{job} (api-version 2024-07-01): starts an import of the blobs under the
   * prefixes and returns once ARM accepted it (201 started; 200 the job exists as asked: nothing
   * new starts). Follow it with `getImportJob`.
   */
  readonly beginImportJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string,
    spec: ImportJobSpec
  ) => Effect.Effect<void, ArmError>
  /** GET importJobs/{job}; None when ARM answers 404 for no such job or filesystem. */
  readonly getImportJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string
  ) => Effect.Effect<Option.Option<ImportJob>, ArmError>
  /** GET importJobs: ARM keeps the 10 most recent. */
  readonly listImportJobs: (resourceGroup: string, filesystemName: string) => Effect.Effect<ReadonlyArray<ImportJob>, ArmError>
  /** PATCH importJobs/{job} `{properties:{adminStatus:"Cancel"}}`: the job goes Cancelling, then Canceled. */
  readonly cancelImportJob: (resourceGroup: string, filesystemName: string, jobName: string) => Effect.Effect<void, ArmError>
  /** PUT autoExportJobs/{job} (api-version 2024-07-01): exports new and changed files under the prefix until disabled. */
  readonly beginAutoExportJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string,
    spec: AutoExportJobSpec
  ) => Effect.Effect<void, ArmError>
  readonly getAutoExportJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string
  ) => Effect.Effect<Option.Option<AutoExportJob>, ArmError>
  readonly listAutoExportJobs: (resourceGroup: string, filesystemName: string) => Effect.Effect<ReadonlyArray<AutoExportJob>, ArmError>
  /** PATCH autoExportJobs/{job} `{properties:{adminStatus:"Disable"}}`: Disabling, then Disabled. */
  readonly disableAutoExportJob: (resourceGroup: string, filesystemName: string, jobName: string) => Effect.Effect<void, ArmError>
  /** PUT autoImportJobs/{job} (api-version 2025-07-01): imports the container's changes under the prefixes until disabled. */
  readonly beginAutoImportJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string,
    spec: AutoImportJobSpec
  ) => Effect.Effect<void, ArmError>
  readonly getAutoImportJob: (
    resourceGroup: string,
    filesystemName: string,
    jobName: string
  ) => Effect.Effect<Option.Option<AutoImportJob>, ArmError>
  readonly listAutoImportJobs: (resourceGroup: string, filesystemName: string) => Effect.Effect<ReadonlyArray<AutoImportJob>, ArmError>
  /** PATCH autoImportJobs/{job} `{properties:{adminStatus:"Disable"}}`: Disabling, then Disabled. */
  readonly disableAutoImportJob: (resourceGroup: string, filesystemName: string, jobName: string) => Effect.Effect<void, ArmError>
  /**
   * POST amlFilesystems/{fs}/archive `{filesystemPath}`: starts exporting the new and changed
   * files below the path ("/" for all) to the container; answered at once (200). Its progress is
   * the filesystem's `hsm.archiveStatus` (`get`).
   */
  readonly archive: (resourceGroup: string, filesystemName: string, filesystemPath: string) => Effect.Effect<void, ArmError>
  /** POST amlFilesystems/{fs}/cancelArchive: the running archive goes Cancelling, then Canceled (200). */
  readonly cancelArchive: (resourceGroup: string, filesystemName: string) => Effect.Effect<void, ArmError>
  /** GET providers/Microsoft.StorageCache/skus, the AMLFS SKUs of one location. */
  readonly listSkus: (location: string) => Effect.Effect<ReadonlyArray<AmlfsSku>, ArmError>
  /** POST getRequiredAmlFSSubnetsSize: how many addresses the filesystem needs. */
  readonly requiredSubnetSize: (skuName: string, storageCapacityTiB: number) => Effect.Effect<number, ArmError>
  /** POST checkAmlFSSubnets: whether the subnet can hold the filesystem. */
  readonly checkSubnet: (
    subnetId: string,
    skuName: string,
    storageCapacityTiB: number,
    location: string
  ) => Effect.Effect<void, ArmError | SubnetRefused>
}>()("azurelustre/azure/AmlfsApi") {}

/** The blob-integration calls of AmlfsApi: the live client and the fake each build them in a module of their own. */
export type AmlfsHsmCalls = Pick<
  AmlfsApi["Service"],
  | "beginImportJob"
  | "getImportJob"
  | "listImportJobs"
  | "cancelImportJob"
  | "beginAutoExportJob"
  | "getAutoExportJob"
  | "listAutoExportJobs"
  | "disableAutoExportJob"
  | "beginAutoImportJob"
  | "getAutoImportJob"
  | "listAutoImportJobs"
  | "disableAutoImportJob"
  | "archive"
  | "cancelArchive"
>
