/**
 * A local Azure Resource Manager for Microsoft.StorageCache: a real HTTPS server on loopback
 * that answers the subset of the REST API the driver uses, on ARM's wire shapes, with ARM's
 * long-running-operation protocol (Azure-AsyncOperation, Location, Retry-After), and faults
 * that tests and `sim` users switch on (programmatically or with `POST /emulator/faults`).
 *
 * Routes (paths are matched case-insensitively, as ARM does; every ARM route needs an
 * `Authorization` header, any bearer token, and `api-version` 2023-05-01 or newer):
 * - GET/PUT/DELETE /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.StorageCache/amlFilesystems/{name}
 * - GET  /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.StorageCache/amlFilesystems
 * - GET/PUT/DELETE .../amlFilesystems/{name}/expansionJobs/{job}, GET .../amlFilesystems/{name}/expansionJobs
 *   (api-version 2026-01-01 or newer only, as in ARM; see handleExpansionJob)
 * - PUT/GET/PATCH/DELETE .../amlFilesystems/{name}/{importJobs|autoExportJobs|autoImportJobs}/{job},
 *   GET .../amlFilesystems/{name}/{kind}, POST .../amlFilesystems/{name}/archive and /cancelArchive
 *   (blob integration: ArmEmulatorHsmRoutes.ts; the jobs act on the HSM simulation's files when
 *   the emulator is given its model, `hsm`, see ArmEmulatorHsmWork.ts)
 * - GET  /subscriptions/{sub}/providers/Microsoft.StorageCache/amlFilesystems
 * - GET  /subscriptions/{sub}/providers/Microsoft.StorageCache/skus
 * - POST /subscriptions/{sub}/providers/Microsoft.StorageCache/getRequiredAmlFSSubnetsSize
 * - POST /subscriptions/{sub}/providers/Microsoft.StorageCache/checkAmlFSSubnets
 * - GET  /subscriptions/{sub}/providers/Microsoft.StorageCache/locations/{loc}/ascOperations/{id}[?monitor=true]
 * - GET  .../providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{name} and
 *   GET  .../providers/Microsoft.Authorization/roleAssignments: what the blob-integration preflight
 *   reads (ArmEmulatorStorageRoutes.ts: a container exists when the HSM model has its directory,
 *   every container without a model; the AMLFS storage roles are granted to
 *   EMULATOR_HPC_CACHE_PRINCIPAL_ID unless revoked)
 * Control (no auth, not counted): GET/POST /emulator/faults, GET /emulator/counters.
 * Another resource type under Microsoft.StorageCache is 404 InvalidResourceType, as in ARM. The
 * `latestApiVersion` and `storageCacheMissing` faults make it an ARM that lags behind (no
 * expansionJobs, newer api-versions refused) or one without Microsoft.StorageCache at all. Its
 * clock can be the test's (`clock`), so durations pass without waiting.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import type * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Path from "node:path"
import type { HsmModel } from "../hsm/simulation/HsmModel.js"
import type { HsmSettings } from "./AmlfsHsm.js"
import {
  handleArchive,
  handleCancelArchive,
  handleJob,
  handleJobList,
  hsmJson,
  hsmSettingsOf,
  type JobKind,
  jobMinimumApiVersion,
  jobThrottleReply
} from "./ArmEmulatorHsmRoutes.js"
import { makeHsmWorker } from "./ArmEmulatorHsmWork.js"
import { handleStorage, storageActionOf, storageRouteOf } from "./ArmEmulatorStorageRoutes.js"
import { type ContainerLookup, EmulatorStorage, type StorageRoleName } from "./ArmEmulatorStorageState.js"
import {
  type ArmEmulatorCounters,
  defaultLocations,
  defaultSkus,
  defaultSubnetFreeAddresses,
  type EmulatorLocation,
  type EmulatorSku,
  EmulatorState,
  type ExpansionJobRecord,
  type FaultRequest,
  type FaultsSnapshot,
  type FilesystemRecord,
  type FilesystemSpec,
  filesystemKey,
  type OperationError,
  requiredSubnetAddresses,
  type SeedFilesystem
} from "./ArmEmulatorState.js"
import {
  apiVersionPattern,
  type ArmRequest,
  armError,
  asNumber,
  asObject,
  asString,
  atLeast,
  type EmulatorContext as Context,
  errorReply,
  expansionApiVersion,
  invalid,
  minimumApiVersion,
  operationUrls,
  type Reply
} from "./ArmEmulatorReply.js"
import { selfSignedCertificate } from "./selfSignedCertificate.js"

export type {
  ArmEmulatorCounters,
  EmulatorLocation,
  EmulatorSku,
  ExpansionJobState,
  ExpansionOutcome,
  FaultRequest,
  FaultsSnapshot,
  OperationError,
  RequestLogEntry,
  SeedFilesystem
} from "./ArmEmulatorState.js"
export { EMULATOR_HPC_CACHE_PRINCIPAL_ID, type StorageRoleName } from "./ArmEmulatorStorageState.js"
export {
  defaultLocations,
  defaultSkus,
  expansionFailedError,
  expansionRolledBackError,
  requiredSubnetAddresses
} from "./ArmEmulatorState.js"

export interface ArmEmulatorOptions {
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 0: any free port. */
  readonly port?: number
  /** The only subscription that exists (default 00000000-0000-0000-0000-000000000000). */
  readonly subscriptionId?: string
  readonly skus?: ReadonlyArray<EmulatorSku>
  /** Default eastus (zones 1, 2, 3) and westus (no zones). */
  readonly locations?: ReadonlyArray<EmulatorLocation>
  /** How long a creation runs (default 2 seconds). */
  readonly creationDuration?: Duration.Input
  /** How long a deletion runs (default 1 second). */
  readonly deletionDuration?: Duration.Input
  /** How long an expansion job runs (default 2 seconds). */
  readonly expansionDuration?: Duration.Input
  /** How long a rolled-back expansion stays RollingBack before it is Failed (default 1 second). */
  readonly rollbackDuration?: Duration.Input
  /** Retry-After (seconds) on long-running operations while they run (default 1). */
  readonly operationRetryAfterSeconds?: number
  /** Free addresses of a subnet not listed in `subnetFreeAddresses` (default 251, a /24). */
  readonly defaultSubnetFreeAddresses?: number
  readonly subnetFreeAddresses?: Readonly<Record<string, number>>
  /** At most this many filesystems (default: no limit). */
  readonly filesystemQuota?: number
  /** Filesystems that exist from the start. */
  readonly filesystems?: ReadonlyArray<SeedFilesystem>
  /** The openssl binary that makes the certificate (default `openssl` on PATH). */
  readonly openssl?: string
  /** A certificate and key to serve with instead of a fresh one (tests that start many emulators). */
  readonly certificate?: { readonly certificatePem: string; readonly keyPem: string }
  /**
   * ARM's time, in milliseconds since the epoch (default the real clock): durations, createdAt
   * and the request log read it, so a test can move time on without waiting.
   */
  readonly clock?: () => number
  /** How long an import job runs at least (default 2 seconds). */
  readonly importDuration?: Duration.Input
  /** How long an archive runs at least (default 2 seconds). */
  readonly archiveDuration?: Duration.Input
  /** Between the starts of two auto-export iterations (default 10 seconds). */
  readonly autoExportInterval?: Duration.Input
  /** Between the starts of two auto-import scans (default 10 seconds). */
  readonly autoImportInterval?: Duration.Input
  /** How long a job's cancel or disable, or an archive's cancel, takes (default 500 ms). */
  readonly jobCancelDuration?: Duration.Input
  /**
   * The HSM simulation's model: with it, jobs and archives act on its files (imports make
   * released stubs, archives and auto-export copy files to the container) and report real counts;
   * without it they only take their time, with counts of 0.
   */
  readonly hsm?: HsmModel["Service"]
  /** How many role assignments a page of the list holds before its nextLink (default 100). */
  readonly roleAssignmentsPageSize?: number
}

/** Fault switches; each also has a JSON form in `POST /emulator/faults` (see FaultRequest). */
export interface ArmEmulatorFaults {
  /** Applies a FaultRequest, exactly as the control endpoint does. */
  readonly apply: (request: FaultRequest) => Effect.Effect<void>
  /** The next `count` requests answer 429 TooManyRequests with `Retry-After: retryAfterSeconds`. */
  readonly throttle: (count: number, retryAfterSeconds?: number) => Effect.Effect<void>
  /** The next `count` requests answer 503 ServiceUnavailable (or 500 InternalServerError). */
  readonly serverErrors: (count: number, statusCode?: 500 | 503) => Effect.Effect<void>
  /** The next creation ends Failed with this error (default InternalExecutionError). */
  readonly failNextCreate: (error?: OperationError) => Effect.Effect<void>
  /** The next expansion job ends Failed with this error (default ExpansionFailed); capacity unchanged. */
  readonly failNextExpansion: (error?: OperationError) => Effect.Effect<void>
  /** The next expansion job goes RollingBack, then Failed with this error (default ExpansionRolledBack); capacity unchanged. */
  readonly rollBackNextExpansion: (error?: OperationError) => Effect.Effect<void>
  readonly expansionDuration: (duration: Duration.Input) => Effect.Effect<void>
  readonly rollbackDuration: (duration: Duration.Input) => Effect.Effect<void>
  /** At most `max` filesystems; a PUT of one more is 409 QuotaExceeded. undefined: no limit. */
  readonly filesystemQuota: (max: number | undefined) => Effect.Effect<void>
  readonly creationDuration: (duration: Duration.Input) => Effect.Effect<void>
  readonly deletionDuration: (duration: Duration.Input) => Effect.Effect<void>
  /** The subnet has `free` addresses (before the emulator's own filesystems in it). */
  readonly subnetFreeAddresses: (subnetId: string, free: number) => Effect.Effect<void>
  /** Every ARM request answers 403 AuthorizationFailed while on. */
  readonly forbidden: (on: boolean) => Effect.Effect<void>
  /** An ARM that lags behind: no api-version after `version` (expansionJobs unknown before 2026-01-01); undefined: any. */
  readonly latestApiVersion: (version: string | undefined) => Effect.Effect<void>
  /** An ARM without Microsoft.StorageCache: every route of it is 404 InvalidResourceNamespace. */
  readonly storageCacheMissing: (missing: boolean) => Effect.Effect<void>
  /** The next import job (a creation's initial import included) ends Failed with this status message. */
  readonly failNextImport: (message?: string) => Effect.Effect<void>
  /** The next import job ends CompletedPartial with `errors` errors. */
  readonly partialNextImport: (errors?: number, message?: string) => Effect.Effect<void>
  /** The next archive ends Failed with this error (default ArchiveFailed). */
  readonly failNextArchive: (error?: OperationError) => Effect.Effect<void>
  /** The next `count` requests to the job, archive and cancelArchive endpoints answer 429 with Retry-After. */
  readonly throttleJobs: (count: number, retryAfterSeconds?: number) => Effect.Effect<void>
  /** These AMLFS storage roles are no longer assigned to the HPC Cache principal (replaces the list; none: both granted). */
  readonly revokeStorageRoles: (roles: ReadonlyArray<StorageRoleName>) => Effect.Effect<void>
  /** Reads of blob containers answer 403 AuthorizationFailed while on. */
  readonly denyContainerRead: (on: boolean) => Effect.Effect<void>
  /** Reads of role assignments answer 403 AuthorizationFailed while on. */
  readonly denyRoleAssignmentRead: (on: boolean) => Effect.Effect<void>
  /** Every fault off; durations, subnets and quota back to the start options. */
  readonly reset: Effect.Effect<void>
  readonly current: Effect.Effect<FaultsSnapshot>
}

export interface ArmEmulator {
  /** https://127.0.0.1:<port>: the ARM endpoint (`$host` and `endpoint` of the SDK client). */
  readonly url: string
  readonly port: number
  /** The self-signed certificate the server presents; trust it for this client only. */
  readonly certificatePem: string
  readonly subscriptionId: string
  readonly faults: ArmEmulatorFaults
  /** Requests seen so far. */
  readonly counters: Effect.Effect<ArmEmulatorCounters>
  /** Adds (or replaces) a filesystem, as if it had been created earlier. */
  readonly seed: (filesystem: SeedFilesystem) => Effect.Effect<void>
}

export type { HsmSettings }


const namePattern = /^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/
const timeOfDayPattern = /^([0-9]|0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$/
const subnetPattern = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i
const daysOfWeek = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

const FaultRequestSchema = Schema.Struct({
  reset: Schema.optionalKey(Schema.Boolean),
  throttle: Schema.optionalKey(Schema.Struct({
    count: Schema.Number,
    retryAfterSeconds: Schema.optionalKey(Schema.Number)
  })),
  serverErrors: Schema.optionalKey(Schema.Struct({
    count: Schema.Number,
    statusCode: Schema.optionalKey(Schema.Literals([500, 503]))
  })),
  failNextCreate: Schema.optionalKey(Schema.Union([
    Schema.Boolean,
    Schema.Struct({ code: Schema.String, message: Schema.String })
  ])),
  failNextExpansion: Schema.optionalKey(Schema.Union([
    Schema.Boolean,
    Schema.Struct({ code: Schema.String, message: Schema.String })
  ])),
  rollBackNextExpansion: Schema.optionalKey(Schema.Union([
    Schema.Boolean,
    Schema.Struct({ code: Schema.String, message: Schema.String })
  ])),
  expansionMillis: Schema.optionalKey(Schema.Number),
  rollbackMillis: Schema.optionalKey(Schema.Number),
  filesystemQuota: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  creationMillis: Schema.optionalKey(Schema.Number),
  deletionMillis: Schema.optionalKey(Schema.Number),
  subnetFreeAddresses: Schema.optionalKey(Schema.Record(Schema.String, Schema.Number)),
  forbidden: Schema.optionalKey(Schema.Boolean),
  latestApiVersion: Schema.optionalKey(Schema.NullOr(Schema.String)),
  storageCacheMissing: Schema.optionalKey(Schema.Boolean),
  failNextImport: Schema.optionalKey(Schema.Union([Schema.Boolean, Schema.Struct({ message: Schema.String })])),
  partialNextImport: Schema.optionalKey(Schema.Union([
    Schema.Boolean,
    Schema.Struct({ errors: Schema.Number, message: Schema.optionalKey(Schema.String) })
  ])),
  failNextArchive: Schema.optionalKey(Schema.Union([
    Schema.Boolean,
    Schema.Struct({ code: Schema.String, message: Schema.String })
  ])),
  throttleJobs: Schema.optionalKey(Schema.Struct({
    count: Schema.Number,
    retryAfterSeconds: Schema.optionalKey(Schema.Number)
  })),
  revokeStorageRoles: Schema.optionalKey(Schema.Array(Schema.Literals(["Storage Account Contributor", "Storage Blob Data Contributor"]))),
  denyContainerRead: Schema.optionalKey(Schema.Boolean),
  denyRoleAssignmentRead: Schema.optionalKey(Schema.Boolean),
  importMillis: Schema.optionalKey(Schema.Number),
  archiveMillis: Schema.optionalKey(Schema.Number),
  autoExportIntervalMillis: Schema.optionalKey(Schema.Number),
  autoImportIntervalMillis: Schema.optionalKey(Schema.Number),
  jobCancelMillis: Schema.optionalKey(Schema.Number)
})
const decodeFaultRequest = Schema.decodeUnknownResult(FaultRequestSchema, { errors: "all", onExcessProperty: "error" })

// ---- wire shapes ------------------------------------------------------------------------

const resourceId = (subscriptionId: string, fs: FilesystemRecord) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${fs.resourceGroup}/providers/Microsoft.StorageCache/amlFilesystems/${fs.name}`

const filesystemJson = (state: EmulatorState, fs: FilesystemRecord, apiVersion: string, now: number) => {
  const sku = state.findSku(fs.spec.skuName)
  const clientInfo = fs.provisioned
    ? {
      clientInfo: {
        mgsAddress: fs.mgsAddress,
        mountCommand: `mount -t lustre -o noatime,flock ${fs.mgsAddress}@tcp:/lustrefs /lustrefs`,
        lustreVersion: "2.15.6"
      }
    }
    : {}
  return {
    id: resourceId(state.settings.subscriptionId, fs),
    name: fs.name,
    type: "Microsoft.StorageCache/amlFilesystems",
    location: fs.spec.location,
    tags: fs.spec.tags,
    sku: { name: fs.spec.skuName },
    zones: fs.spec.zones,
    ...(fs.spec.identities.length === 0 ? {} : {
      identity: {
        type: "UserAssigned",
        userAssignedIdentities: Object.fromEntries(fs.spec.identities.map((id) => [id, {
          principalId: uuidFrom(`principal:${id}`),
          clientId: uuidFrom(`client:${id}`)
        }]))
      }
    }),
    systemData: {
      createdBy: "emulator@example.com",
      createdByType: "User",
      createdAt: fs.createdAt.toISOString(),
      lastModifiedBy: "emulator@example.com",
      lastModifiedByType: "User",
      lastModifiedAt: fs.lastModifiedAt.toISOString()
    },
    properties: {
      storageCapacityTiB: fs.spec.storageCapacityTiB,
      ...(atLeast(apiVersion, expansionApiVersion)
        ? { currentStorageCapacityTiB: fs.currentStorageCapacityTiB, clusterUuid: uuidFrom(`cluster:${resourceId(state.settings.subscriptionId, fs)}`) }
        : {}),
      health: fs.health,
      provisioningState: fs.provisioningState,
      filesystemSubnet: fs.spec.filesystemSubnet,
      ...clientInfo,
      throughputProvisionedMBps: Math.round(fs.currentStorageCapacityTiB * (sku?.throughputPerTiB ?? 0)),
      maintenanceWindow: fs.spec.maintenanceWindow,
      ...(fs.spec.hsm === undefined ? {} : { hsm: hsmJson(fs.spec.hsm, fs.hsm, apiVersion, now, state.hsm.timings) })
    }
  }
}

/** A stable GUID-shaped string derived from `seed`. */
const uuidFrom = (seed: string): string => {
  const hex = Crypto.createHash("sha256").update(seed).digest("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** An expansion job on the 2026-01-01 wire (status nested, as in the spec's examples). */
const expansionJobJson = (state: EmulatorState, fs: FilesystemRecord, job: ExpansionJobRecord) => ({
  id: `${resourceId(state.settings.subscriptionId, fs)}/expansionJobs/${job.name}`,
  name: job.name,
  type: "Microsoft.StorageCache/amlFilesystems/expansionJobs",
  location: job.location,
  tags: job.tags,
  systemData: {
    createdBy: "emulator@example.com",
    createdByType: "User",
    createdAt: job.startTime.toISOString(),
    lastModifiedBy: "emulator@example.com",
    lastModifiedByType: "User",
    lastModifiedAt: (job.completionTime ?? job.startTime).toISOString()
  },
  properties: {
    newStorageCapacityTiB: job.newStorageCapacityTiB,
    provisioningState: job.provisioningState,
    status: {
      state: job.status,
      ...(job.statusCode === undefined ? {} : { statusCode: job.statusCode }),
      ...(job.statusMessage === undefined ? {} : { statusMessage: job.statusMessage }),
      percentComplete: job.percentComplete,
      startTimeUTC: job.startTime.toISOString(),
      ...(job.completionTime === undefined ? {} : { completionTimeUTC: job.completionTime.toISOString() })
    }
  }
})

const skusJson = (state: EmulatorState) => ({
  value: [
    ...state.settings.locations.map((location) => ({
      resourceType: "caches",
      name: "Standard_2G",
      locations: [location.name],
      locationInfo: [{ location: location.name, zones: location.zones }],
      capabilities: [{ name: "throughput GB/s", value: "2" }, { name: "cache sizes(GB)", value: "3072,6144,12288" }],
      restrictions: []
    })),
    ...state.settings.skus.flatMap((sku) =>
      state.settings.locations.map((location) => ({
        resourceType: "amlFilesystems",
        name: sku.name,
        locations: [location.name],
        locationInfo: [{ location: location.name, zones: location.zones }],
        capabilities: [
          { name: "OSS capacity increment (TiB)", value: String(sku.incrementTiB) },
          { name: "bandwidth increment (MB/s/TiB)", value: String(sku.throughputPerTiB) },
          { name: "durable", value: "True" },
          { name: "MDS capacity increment (TiB)", value: "1024" },
          { name: "default maximum capacity (TiB)", value: String(sku.maximumTiB) },
          { name: "large cluster maximum capacity (TiB)", value: String(sku.largeClusterMaximumTiB) },
          { name: "large cluster XL maximum capacity (TiB)", value: String(sku.largeClusterMaximumTiB) }
        ],
        restrictions: []
      }))
    )
  ]
})

// ---- routing ----------------------------------------------------------------------------

type Route =
  | { readonly _tag: "Filesystem"; readonly resourceGroup: string; readonly name: string }
  | { readonly _tag: "ExpansionJob"; readonly resourceGroup: string; readonly name: string; readonly job: string }
  | { readonly _tag: "ExpansionJobs"; readonly resourceGroup: string; readonly name: string }
  | { readonly _tag: "HsmJob"; readonly kind: JobKind; readonly resourceGroup: string; readonly name: string; readonly job: string }
  | { readonly _tag: "HsmJobs"; readonly kind: JobKind; readonly resourceGroup: string; readonly name: string }
  | { readonly _tag: "Archive"; readonly resourceGroup: string; readonly name: string }
  | { readonly _tag: "CancelArchive"; readonly resourceGroup: string; readonly name: string }
  | { readonly _tag: "ListByResourceGroup"; readonly resourceGroup: string }
  | { readonly _tag: "ListBySubscription" }
  | { readonly _tag: "Skus" }
  | { readonly _tag: "RequiredSubnetSize" }
  | { readonly _tag: "CheckSubnets" }
  | { readonly _tag: "Operation"; readonly location: string; readonly operationId: string }

/** The route of `/subscriptions/{sub}/...` after the subscription id. */
const routeOf = (rest: ReadonlyArray<string>): Route | undefined => {
  const lower = rest.map((s) => s.toLowerCase())
  const provider = (from: number) => lower[from] === "providers" && lower[from + 1] === "microsoft.storagecache"
  if (lower[0] === "resourcegroups" && rest[1] !== undefined && provider(2) && lower[4] === "amlfilesystems") {
    if (rest.length === 5) return { _tag: "ListByResourceGroup", resourceGroup: rest[1] }
    if (rest.length === 6 && rest[5] !== undefined) return { _tag: "Filesystem", resourceGroup: rest[1], name: rest[5] }
    if (rest[5] !== undefined && lower[6] === "expansionjobs") {
      if (rest.length === 7) return { _tag: "ExpansionJobs", resourceGroup: rest[1], name: rest[5] }
      if (rest.length === 8 && rest[7] !== undefined) return { _tag: "ExpansionJob", resourceGroup: rest[1], name: rest[5], job: rest[7] }
    }
    const kind = jobKindOf(lower[6])
    if (rest[5] !== undefined && kind !== undefined) {
      if (rest.length === 7) return { _tag: "HsmJobs", kind, resourceGroup: rest[1], name: rest[5] }
      if (rest.length === 8 && rest[7] !== undefined) return { _tag: "HsmJob", kind, resourceGroup: rest[1], name: rest[5], job: rest[7] }
    }
    if (rest[5] !== undefined && rest.length === 7 && lower[6] === "archive") return { _tag: "Archive", resourceGroup: rest[1], name: rest[5] }
    if (rest[5] !== undefined && rest.length === 7 && lower[6] === "cancelarchive") {
      return { _tag: "CancelArchive", resourceGroup: rest[1], name: rest[5] }
    }
    return undefined
  }
  if (!provider(0)) return undefined
  if (rest.length === 3) {
    switch (lower[2]) {
      case "amlfilesystems":
        return { _tag: "ListBySubscription" }
      case "skus":
        return { _tag: "Skus" }
      case "getrequiredamlfssubnetssize":
        return { _tag: "RequiredSubnetSize" }
      case "checkamlfssubnets":
        return { _tag: "CheckSubnets" }
    }
    return undefined
  }
  if (rest.length === 6 && lower[2] === "locations" && lower[4] === "ascoperations" && rest[3] !== undefined && rest[5] !== undefined) {
    return { _tag: "Operation", location: rest[3], operationId: rest[5] }
  }
  return undefined
}

const jobKindOf = (segment: string | undefined): JobKind | undefined =>
  segment === "importjobs" ? "importJobs" : segment === "autoexportjobs" ? "autoExportJobs" : segment === "autoimportjobs" ? "autoImportJobs" : undefined

/** The RBAC action ARM would check, for 403 messages. */
const actionOf = (route: Route | undefined, method: string): string => {
  switch (route?._tag) {
    case "Filesystem":
      return `Microsoft.StorageCache/amlFilesystems/${method === "GET" ? "read" : method === "DELETE" ? "delete" : "write"}`
    case "ExpansionJob":
      return `Microsoft.StorageCache/amlFilesystems/expansionJobs/${method === "GET" ? "read" : method === "DELETE" ? "delete" : "write"}`
    case "ExpansionJobs":
      return "Microsoft.StorageCache/amlFilesystems/expansionJobs/read"
    case "HsmJob":
      return `Microsoft.StorageCache/amlFilesystems/${route.kind}/${method === "GET" ? "read" : method === "DELETE" ? "delete" : "write"}`
    case "HsmJobs":
      return `Microsoft.StorageCache/amlFilesystems/${route.kind}/read`
    case "Archive":
      return "Microsoft.StorageCache/amlFilesystems/archive/action"
    case "CancelArchive":
      return "Microsoft.StorageCache/amlFilesystems/cancelArchive/action"
    case "ListByResourceGroup":
    case "ListBySubscription":
      return "Microsoft.StorageCache/amlFilesystems/read"
    case "Skus":
      return "Microsoft.StorageCache/skus/read"
    case "RequiredSubnetSize":
      return "Microsoft.StorageCache/getRequiredAmlFSSubnetsSize/action"
    case "CheckSubnets":
      return "Microsoft.StorageCache/checkAmlFSSubnets/action"
    case "Operation":
      return "Microsoft.StorageCache/locations/ascoperations/read"
    case undefined:
      return "Microsoft.StorageCache/read"
  }
}

const checkApiVersion = (
  url: URL,
  resourceType: string,
  minimum: string = minimumApiVersion,
  latest: string | undefined = undefined
): Reply | undefined => {
  const apiVersion = url.searchParams.get("api-version")
  if (apiVersion === null || apiVersion === "") {
    return armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
  }
  const match = apiVersionPattern.exec(apiVersion)
  if (match === null || match[1] === undefined || match[1] < minimum || (latest !== undefined && match[1] > latest)) {
    return armError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for API version '${apiVersion}' and type '${resourceType}'. The supported api-versions are '${minimum}'${
        latest === undefined ? " and newer" : ` to '${latest}'`
      }.`
    )
  }
  return undefined
}

/** ARM's answer for a resource type the provider does not have (at this endpoint, or at all). */
const unknownResourceType = (resourceType: string, apiVersion: string | null): Reply =>
  armError(
    404,
    "InvalidResourceType",
    `The resource type '${resourceType}' could not be found in the namespace 'Microsoft.StorageCache' for api version '${apiVersion ?? ""}'.`
  )

/** The resource type a path under providers/Microsoft.StorageCache names, for InvalidResourceType. */
const storageCacheTypeOf = (rest: ReadonlyArray<string>): string | undefined => {
  const at = rest.findIndex((segment, i) =>
    segment.toLowerCase() === "providers" && rest[i + 1]?.toLowerCase() === "microsoft.storagecache"
  )
  if (at < 0) return undefined
  return rest.slice(at + 2).filter((_, i) => i % 2 === 0).join("/")
}

/** Decodes a PUT body into a spec, with ARM-style refusals. */
const specOf = (state: EmulatorState, name: string, body: unknown, apiVersion: string): FilesystemSpec | Reply => {
  if (!namePattern.test(name)) {
    return armError(
      400,
      "InvalidResourceName",
      `Resource name ${name} is invalid. The name can be up to 80 characters long. It can contain only alphanumeric characters, underscores and hyphens. It must start and end with an alphanumeric.`
    )
  }
  const root = asObject(body)
  if (root === undefined) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
  const locationName = asString(root["location"])
  if (locationName === undefined) return invalid("The property 'location' is required.")
  const location = state.findLocation(locationName)
  if (location === undefined) {
    return armError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${locationName}' is not available for resource type 'Microsoft.StorageCache/amlFilesystems'. List of available regions for the resource type is '${
        state.settings.locations.map((l) => l.name).join(",")
      }'.`
    )
  }
  const skuName = asString(asObject(root["sku"])?.["name"])
  if (skuName === undefined) return invalid("The property 'sku.name' is required.")
  const sku = state.findSku(skuName)
  if (sku === undefined) {
    return armError(400, "InvalidSku", `The SKU '${skuName}' is not available for AML file systems. Available SKUs: ${state.settings.skus.map((s) => s.name).join(", ")}.`)
  }
  const properties = asObject(root["properties"])
  if (properties === undefined) return invalid("The property 'properties' is required.")
  const capacity = asNumber(properties["storageCapacityTiB"])
  if (capacity === undefined) return invalid("The property 'properties.storageCapacityTiB' is required.")
  if (capacity <= 0 || capacity % sku.incrementTiB !== 0 || capacity > sku.maximumTiB) {
    return invalid(
      `The storage capacity ${capacity} TiB is not valid for SKU ${sku.name}: it must be a multiple of ${sku.incrementTiB} TiB, from ${sku.incrementTiB} to ${sku.maximumTiB} TiB.`
    )
  }
  const subnet = asString(properties["filesystemSubnet"])
  if (subnet === undefined) return invalid("The property 'properties.filesystemSubnet' is required.")
  if (!subnetPattern.test(subnet)) return invalid(`The property 'properties.filesystemSubnet' is not a subnet ARM id: '${subnet}'.`)
  const window = asObject(properties["maintenanceWindow"])
  const dayOfWeek = asString(window?.["dayOfWeek"])
  const timeOfDayUTC = asString(window?.["timeOfDayUTC"])
  if (window === undefined || dayOfWeek === undefined || timeOfDayUTC === undefined) {
    return invalid("The property 'properties.maintenanceWindow' (dayOfWeek, timeOfDayUTC) is required.")
  }
  if (!daysOfWeek.includes(dayOfWeek)) return invalid(`The maintenance window day '${dayOfWeek}' is not one of ${daysOfWeek.join(", ")}.`)
  if (!timeOfDayPattern.test(timeOfDayUTC)) return invalid(`The maintenance window time '${timeOfDayUTC}' is not HH:MM (UTC).`)
  const zonesValue = root["zones"] ?? []
  const zones = Array.isArray(zonesValue) ? zonesValue.filter((z): z is string => typeof z === "string") : []
  if (!Array.isArray(zonesValue) || zones.length !== zonesValue.length) return invalid("The property 'zones' must be an array of strings.")
  if (zones.length > 1) return invalid("The property 'zones' should only contain a single element.")
  const zone = zones[0]
  if (zone !== undefined && !location.zones.includes(zone)) {
    return armError(
      400,
      "InvalidAvailabilityZone",
      location.zones.length === 0
        ? `The location '${location.name}' does not support availability zones for AML file systems.`
        : `The zone '${zone}' is not available in '${location.name}': available zones are ${location.zones.join(", ")}.`
    )
  }
  const tagsObject = asObject(root["tags"] ?? {})
  if (tagsObject === undefined || Object.values(tagsObject).some((v) => typeof v !== "string")) {
    return invalid("The property 'tags' must map names to strings.")
  }
  const tags = Object.fromEntries(Object.entries(tagsObject).map(([k, v]) => [k, String(v)]))
  const identity = asObject(root["identity"])
  const identityType = asString(identity?.["type"])
  let identities: ReadonlyArray<string> = []
  if (identity !== undefined && identityType !== "None") {
    if (identityType !== "UserAssigned") return invalid(`The identity type '${String(identityType)}' is not supported: use UserAssigned or None.`)
    const assigned = asObject(identity["userAssignedIdentities"])
    if (assigned === undefined || Object.keys(assigned).length === 0) {
      return invalid("The property 'identity.userAssignedIdentities' must list at least one identity for type UserAssigned.")
    }
    identities = Object.keys(assigned)
  }
  const hsm = hsmSettingsOf(properties, apiVersion)
  if (hsm !== undefined && "statusCode" in hsm) return hsm
  return {
    location: location.name,
    skuName: sku.name,
    storageCapacityTiB: capacity,
    filesystemSubnet: subnet,
    zones,
    tags,
    maintenanceWindow: { dayOfWeek, timeOfDayUTC },
    identities,
    hsm
  }
}

const isReply = (value: FilesystemSpec | Reply): value is Reply => "statusCode" in value


const notFound = (resourceGroup: string, name: string) =>
  armError(
    404,
    "ResourceNotFound",
    `The Resource 'Microsoft.StorageCache/amlFilesystems/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
  )

const handleFilesystem = (context: Context, request: ArmRequest, resourceGroup: string, name: string, now: number): Reply => {
  const { state } = context
  const key = filesystemKey(resourceGroup, name)
  const apiVersion = request.url.searchParams.get("api-version") ?? minimumApiVersion
  const retryAfter = String(state.settings.operationRetryAfterSeconds)
  switch (request.method) {
    case "GET": {
      state.countGet(name)
      const fs = state.filesystems.get(key)
      return fs === undefined ? notFound(resourceGroup, name) : { statusCode: 200, body: filesystemJson(state, fs, apiVersion, now) }
    }
    case "PUT": {
      state.countPut(name)
      const spec = specOf(state, name, request.body, apiVersion)
      if (isReply(spec)) return spec
      const existing = state.filesystems.get(key)
      if (existing !== undefined) {
        switch (existing.provisioningState) {
          case "Creating":
          case "Updating":
          case "Deleting":
            return armError(
              409,
              "Conflict",
              `The AML file system '${existing.name}' is busy: an operation is in progress (provisioningState ${existing.provisioningState}). Retry the request after it completes.`
            )
          case "Succeeded":
          case "Canceled": {
            if (!EmulatorState.sameImmutableSpec(existing.spec, spec)) {
              return armError(
                400,
                "PropertyChangeNotAllowed",
                `The AML file system '${existing.name}' exists with a different location, SKU, storage capacity, subnet, zones or identity; those cannot be changed.`
              )
            }
            // Tags and the maintenance window may change; the emulator applies them at once.
            existing.spec = { ...existing.spec, tags: spec.tags, maintenanceWindow: spec.maintenanceWindow }
            existing.lastModifiedAt = new Date(now)
            return { statusCode: 200, body: filesystemJson(state, existing, apiVersion, now) }
          }
          case "Failed":
            break // a new attempt at creating it
        }
      } else if (state.filesystemQuota !== undefined && state.filesystems.size >= state.filesystemQuota) {
        return armError(
          409,
          "QuotaExceeded",
          `Operation results in exceeding quota limits of resource type AmlFilesystem. Maximum allowed: ${state.filesystemQuota}, Current in use: ${state.filesystems.size}, Additional requested: 1. Please request a quota increase.`
        )
      }
      const sku = state.findSku(spec.skuName)
      const refusal = sku === undefined ? undefined : state.subnetRefusal(spec.filesystemSubnet, sku, spec.storageCapacityTiB, key)
      if (refusal !== undefined) return armError(400, "InvalidSubnet", refusal)
      const { fs, op } = state.startCreate(resourceGroup, name, spec, now)
      return {
        statusCode: 201,
        body: filesystemJson(state, fs, apiVersion, now),
        headers: { "azure-asyncoperation": operationUrls(context, op, apiVersion).asyncOperation, "retry-after": retryAfter }
      }
    }
    case "DELETE": {
      state.countDelete(name)
      const fs = state.filesystems.get(key)
      if (fs === undefined) return { statusCode: 204 }
      const op = state.startDelete(fs, now)
      const urls = operationUrls(context, op, apiVersion)
      return {
        statusCode: 202,
        headers: { "location": urls.location, "azure-asyncoperation": urls.asyncOperation, "retry-after": retryAfter }
      }
    }
    default:
      return armError(405, "MethodNotAllowed", `The method '${request.method}' is not supported by the emulator for amlFilesystems.`)
  }
}

const parentNotFound = (resourceGroup: string, name: string) =>
  armError(
    404,
    "ParentResourceNotFound",
    `Failed to perform 'read' on resource(s) of type 'amlFilesystems/expansionJobs', because the parent resource '/resourceGroups/${resourceGroup}/providers/Microsoft.StorageCache/amlFilesystems/${name}' could not be found.`
  )

/**
 * amlFilesystems/{name}/expansionJobs/{job}. A PUT validates the body (location of the filesystem,
 * newStorageCapacityTiB a multiple of the SKU's step, at most its maximum: 400 InvalidParameter),
 * then: the same job name with the same capacity is 200 with the job as it is (running, done or
 * failed: no second job); with another capacity 400 PropertyChangeNotAllowed; a filesystem that is
 * not Succeeded, or that runs another expansion, is 409 Conflict; a capacity not above the current
 * one is 400 InvalidParameter; otherwise 201 with Azure-AsyncOperation, Location and Retry-After,
 * the job InProgress and the filesystem's health Expanding. A DELETE removes a finished job; the
 * emulator refuses (409) to delete a running one instead of rolling it back.
 */
const handleExpansionJob = (context: Context, request: ArmRequest, resourceGroup: string, name: string, jobName: string, now: number): Reply => {
  const { state } = context
  const fs = state.filesystems.get(filesystemKey(resourceGroup, name))
  const apiVersion = request.url.searchParams.get("api-version") ?? expansionApiVersion
  const existing = fs?.expansionJobs.get(jobName.toLowerCase())
  const jobNotFound = () =>
    armError(
      404,
      "ResourceNotFound",
      `The Resource 'Microsoft.StorageCache/amlFilesystems/${name}/expansionJobs/${jobName}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
    )
  switch (request.method) {
    case "GET":
      if (fs === undefined) return parentNotFound(resourceGroup, name)
      return existing === undefined ? jobNotFound() : { statusCode: 200, body: expansionJobJson(state, fs, existing) }
    case "DELETE": {
      if (fs === undefined || existing === undefined) return { statusCode: 204 }
      if (EmulatorState.runningExpansion(fs) === existing) {
        return armError(
          409,
          "Conflict",
          `The expansion job '${existing.name}' is ${existing.status}; the emulator does not delete (roll back) a running expansion.`
        )
      }
      fs.expansionJobs.delete(jobName.toLowerCase())
      return { statusCode: 200 }
    }
    case "PUT":
      break
    default:
      return armError(405, "MethodNotAllowed", `The method '${request.method}' is not supported by the emulator for expansionJobs.`)
  }
  state.countExpansionPut(name)
  if (!namePattern.test(jobName)) {
    return armError(
      400,
      "InvalidResourceName",
      `Resource name ${jobName} is invalid. The name can be up to 80 characters long. It can contain only alphanumeric characters, underscores and hyphens. It must start and end with an alphanumeric.`
    )
  }
  if (fs === undefined) return parentNotFound(resourceGroup, name)
  const root = asObject(request.body)
  if (root === undefined) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
  const locationName = asString(root["location"])
  if (locationName === undefined) return invalid("The property 'location' is required.")
  if (state.findLocation(locationName)?.name !== fs.spec.location) {
    return invalid(`The location '${locationName}' of the expansion job must be the location of the AML file system, '${fs.spec.location}'.`)
  }
  const capacity = asNumber(asObject(root["properties"])?.["newStorageCapacityTiB"])
  if (capacity === undefined) return invalid("The property 'properties.newStorageCapacityTiB' is required.")
  const tagsObject = asObject(root["tags"] ?? {})
  if (tagsObject === undefined || Object.values(tagsObject).some((v) => typeof v !== "string")) {
    return invalid("The property 'tags' must map names to strings.")
  }
  const tags = Object.fromEntries(Object.entries(tagsObject).map(([k, v]) => [k, String(v)]))
  if (existing !== undefined) {
    if (existing.newStorageCapacityTiB === capacity) return { statusCode: 200, body: expansionJobJson(state, fs, existing) }
    return armError(
      400,
      "PropertyChangeNotAllowed",
      `The expansion job '${existing.name}' exists with newStorageCapacityTiB ${existing.newStorageCapacityTiB}; it cannot be changed to ${capacity}. Use a new job name.`
    )
  }
  const sku = state.findSku(fs.spec.skuName)
  const step = sku?.incrementTiB ?? 1
  if (!(capacity > 0) || capacity % step !== 0) {
    return invalid(
      `The new storage capacity ${capacity} TiB is not valid for SKU ${fs.spec.skuName}: it must be a multiple of the SKU step size, ${step} TiB.`
    )
  }
  if (sku !== undefined && capacity > sku.maximumTiB) {
    return invalid(`The new storage capacity ${capacity} TiB exceeds the maximum of ${sku.maximumTiB} TiB for SKU ${sku.name}.`)
  }
  if (fs.provisioningState !== "Succeeded") {
    return armError(
      409,
      "Conflict",
      `The AML file system '${fs.name}' cannot be expanded while its provisioningState is ${fs.provisioningState}.`
    )
  }
  const running = EmulatorState.runningExpansion(fs)
  if (running !== undefined) {
    return armError(
      409,
      "Conflict",
      `The AML file system '${fs.name}' is already being expanded by expansion job '${running.name}' (${running.status}). Retry after it completes.`
    )
  }
  if (capacity <= fs.currentStorageCapacityTiB) {
    return invalid(
      `The new storage capacity ${capacity} TiB must be greater than the current storage capacity of the AML file system, ${fs.currentStorageCapacityTiB} TiB.`
    )
  }
  const job = state.startExpansion(fs, jobName, capacity, tags, now)
  const op = state.operations.get(job.operationId)
  const urls = op === undefined ? undefined : operationUrls(context, op, apiVersion)
  return {
    statusCode: 201,
    body: expansionJobJson(state, fs, job),
    headers: {
      ...(urls === undefined ? {} : { "azure-asyncoperation": urls.asyncOperation, location: urls.location }),
      "retry-after": String(state.settings.operationRetryAfterSeconds)
    }
  }
}

const handleOperation = (context: Context, request: ArmRequest, operationId: string): Reply => {
  const { state } = context
  const op = state.operations.get(operationId)
  if (op === undefined) {
    return armError(404, "NotFound", `The operation '${operationId}' was not found.`)
  }
  const retryAfter = String(state.settings.operationRetryAfterSeconds)
  const monitor = request.url.searchParams.get("monitor")?.toLowerCase() === "true"
  if (monitor) {
    if (op.status === "InProgress") {
      const apiVersion = request.url.searchParams.get("api-version") ?? minimumApiVersion
      return { statusCode: 202, headers: { location: operationUrls(context, op, apiVersion).location, "retry-after": retryAfter } }
    }
    if (op.status === "Failed" && op.error !== undefined) return armError(400, op.error.code, op.error.message)
    return { statusCode: 204 }
  }
  const body = {
    id: `/subscriptions/${state.settings.subscriptionId}/providers/Microsoft.StorageCache/locations/${op.location}/ascOperations/${op.id}`,
    name: op.id,
    status: op.status,
    startTime: op.startTime.toISOString(),
    ...(op.endTime === undefined ? {} : { endTime: op.endTime.toISOString() }),
    ...(op.error === undefined ? {} : { error: { code: op.error.code, message: op.error.message } })
  }
  return op.status === "InProgress"
    ? { statusCode: 200, body, headers: { "retry-after": retryAfter } }
    : { statusCode: 200, body }
}

const subnetQuery = (state: EmulatorState, body: unknown, needSubnet: boolean) => {
  const root = asObject(body)
  const skuName = asString(asObject(root?.["sku"])?.["name"])
  const capacity = asNumber(root?.["storageCapacityTiB"])
  const subnet = asString(root?.["filesystemSubnet"])
  if (skuName === undefined) return invalid("The property 'sku.name' is required.")
  if (capacity === undefined) return invalid("The property 'storageCapacityTiB' is required.")
  if (needSubnet && subnet === undefined) return invalid("The property 'filesystemSubnet' is required.")
  const sku = state.findSku(skuName)
  if (sku === undefined) return armError(400, "InvalidSku", `The SKU '${skuName}' is not available for AML file systems.`)
  if (capacity <= 0 || capacity % sku.incrementTiB !== 0 || capacity > sku.maximumTiB) {
    return invalid(
      `The storage capacity ${capacity} TiB is not valid for SKU ${sku.name}: it must be a multiple of ${sku.incrementTiB} TiB, from ${sku.incrementTiB} to ${sku.maximumTiB} TiB.`
    )
  }
  return { sku, capacity, subnet: subnet ?? "" }
}

const route = (context: Context, request: ArmRequest, now: number): Reply => {
  const { state } = context
  const [first, subscriptionId, ...rest] = request.segments
  if (first?.toLowerCase() !== "subscriptions" || subscriptionId === undefined) {
    return armError(404, "NotFound", `The emulator has no resource at '${request.url.pathname}'.`)
  }
  const storageRoute = storageRouteOf(rest)
  if (storageRoute !== undefined) {
    const fault = state.takeRequestFault(storageActionOf(storageRoute), request.url.pathname)
    if (fault !== undefined) return errorReply(fault)
    if (subscriptionId.toLowerCase() !== state.settings.subscriptionId.toLowerCase()) {
      return armError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`)
    }
    return handleStorage(state.storage, { baseUrl: context.baseUrl(), subscriptionId: state.settings.subscriptionId }, request, storageRoute)
  }
  const target = routeOf(rest)
  const fault = state.takeRequestFault(actionOf(target, request.method), request.url.pathname)
  if (fault !== undefined) return errorReply(fault)
  if (subscriptionId.toLowerCase() !== state.settings.subscriptionId.toLowerCase()) {
    return armError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`)
  }
  const storageCacheType = storageCacheTypeOf(rest)
  if (storageCacheType !== undefined && state.storageCacheMissing) {
    return armError(404, "InvalidResourceNamespace", "The resource namespace 'Microsoft.StorageCache' is invalid.")
  }
  const requestedVersion = request.url.searchParams.get("api-version")
  if (target === undefined) {
    return storageCacheType !== undefined
      ? unknownResourceType(storageCacheType, requestedVersion)
      : armError(404, "NotFound", `The emulator has no resource at '${request.url.pathname}'.`)
  }
  const latest = state.latestApiVersion
  const isExpansion = target._tag === "ExpansionJob" || target._tag === "ExpansionJobs"
  if (isExpansion && latest !== undefined && latest < expansionApiVersion) {
    return unknownResourceType("amlFilesystems/expansionJobs", requestedVersion)
  }
  const jobKind = target._tag === "HsmJob" || target._tag === "HsmJobs" ? target.kind : undefined
  if (jobKind !== undefined && latest !== undefined && latest < jobMinimumApiVersion[jobKind]) {
    return unknownResourceType(`amlFilesystems/${jobKind}`, requestedVersion)
  }
  const versionRefusal = isExpansion
    ? checkApiVersion(request.url, "amlFilesystems/expansionJobs", expansionApiVersion, latest)
    : jobKind !== undefined
    ? checkApiVersion(request.url, `amlFilesystems/${jobKind}`, jobMinimumApiVersion[jobKind], latest)
    : checkApiVersion(request.url, target._tag === "Skus" ? "skus" : "amlFilesystems", minimumApiVersion, latest)
  if (versionRefusal !== undefined) return versionRefusal
  if (jobKind !== undefined || target._tag === "Archive" || target._tag === "CancelArchive") {
    const throttled = jobThrottleReply(context)
    if (throttled !== undefined) return throttled
  }
  const apiVersion = request.url.searchParams.get("api-version") ?? minimumApiVersion
  state.tick(now)
  const only = (method: string, reply: () => Reply): Reply =>
    request.method === method ? reply() : armError(405, "MethodNotAllowed", `The method '${request.method}' is not allowed here.`)
  switch (target._tag) {
    case "Filesystem":
      return handleFilesystem(context, request, target.resourceGroup, target.name, now)
    case "ExpansionJob":
      return handleExpansionJob(context, request, target.resourceGroup, target.name, target.job, now)
    case "HsmJob":
      return handleJob(context, request, target.kind, target.resourceGroup, target.name, target.job, now)
    case "HsmJobs":
      return only("GET", () => handleJobList(context, target.kind, target.resourceGroup, target.name, apiVersion, now))
    case "Archive":
      return only("POST", () => handleArchive(context, request, target.resourceGroup, target.name, now))
    case "CancelArchive":
      return only("POST", () => handleCancelArchive(context, target.resourceGroup, target.name, now))
    case "ExpansionJobs":
      return only("GET", () => {
        const fs = state.filesystems.get(filesystemKey(target.resourceGroup, target.name))
        if (fs === undefined) return parentNotFound(target.resourceGroup, target.name)
        return { statusCode: 200, body: { value: [...fs.expansionJobs.values()].map((job) => expansionJobJson(state, fs, job)) } }
      })
    case "ListByResourceGroup":
      return only("GET", () => ({
        statusCode: 200,
        body: {
          value: [...state.filesystems.values()]
            .filter((fs) => fs.resourceGroup.toLowerCase() === target.resourceGroup.toLowerCase())
            .map((fs) => filesystemJson(state, fs, apiVersion, now))
        }
      }))
    case "ListBySubscription":
      return only("GET", () => ({ statusCode: 200, body: { value: [...state.filesystems.values()].map((fs) => filesystemJson(state, fs, apiVersion, now)) } }))
    case "Skus":
      return only("GET", () => ({ statusCode: 200, body: skusJson(state) }))
    case "Operation":
      return only("GET", () => handleOperation(context, request, target.operationId))
    case "RequiredSubnetSize":
      return only("POST", () => {
        const query = subnetQuery(state, request.body, false)
        if ("statusCode" in query) return query
        return { statusCode: 200, body: { filesystemSubnetSize: requiredSubnetAddresses(query.sku, query.capacity) } }
      })
    case "CheckSubnets":
      return only("POST", () => {
        const query = subnetQuery(state, request.body, true)
        if ("statusCode" in query) return query
        if (!subnetPattern.test(query.subnet)) {
          const message = `The subnet '${query.subnet}' is not a subnet ARM id.`
          return errorReply({ statusCode: 400, code: "InvalidSubnet", message, extra: { filesystemSubnet: { status: "Invalid", message } } })
        }
        const refusal = state.subnetRefusal(query.subnet, query.sku, query.capacity)
        if (refusal === undefined) return { statusCode: 200 }
        // The spec's AmlFilesystemCheckSubnetError, plus ARM's usual error object.
        return errorReply({ statusCode: 400, code: "InvalidSubnet", message: refusal, extra: { filesystemSubnet: { status: "Invalid", message: refusal } } })
      })
  }
}

const controlRoute = (state: EmulatorState, method: string, path: string, body: unknown): Reply | undefined => {
  const lower = path.toLowerCase().replace(/\/+$/, "")
  if (lower === "/emulator/faults") {
    if (method === "GET") return { statusCode: 200, body: state.faults() }
    if (method !== "POST") return armError(405, "MethodNotAllowed", "Use GET or POST.")
    const decoded = decodeFaultRequest(body ?? {})
    if (Result.isFailure(decoded)) return invalid(`Not a fault request: ${decoded.failure.message}`)
    state.applyFaults(decoded.success)
    return { statusCode: 200, body: state.faults() }
  }
  if (lower === "/emulator/counters") {
    return method === "GET" ? { statusCode: 200, body: state.counters() } : armError(405, "MethodNotAllowed", "Use GET.")
  }
  return undefined
}

const send = (response: Http.ServerResponse, reply: Reply) => {
  const text = reply.body === undefined ? "" : JSON.stringify(reply.body)
  response.writeHead(reply.statusCode, {
    ...(text === "" ? {} : { "content-type": "application/json; charset=utf-8" }),
    "content-length": String(Buffer.byteLength(text)),
    "x-ms-request-id": Crypto.randomUUID(),
    "x-ms-correlation-request-id": Crypto.randomUUID(),
    ...reply.headers
  })
  response.end(text)
}

const segmentsOf = (pathname: string): ReadonlyArray<string> | undefined => {
  try {
    return pathname.split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s))
  } catch {
    return undefined
  }
}

/** One request's reply; never throws (a bug in the emulator is a 500, not a crashed process). */
const replyTo = (context: Context, method: string, url: URL, headers: Http.IncomingHttpHeaders, text: string): Reply => {
  let body: unknown 
  let malformed = false
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text)
    } catch {
      malformed = true
    }
  }
  try {
    if (url.pathname.toLowerCase().startsWith("/emulator/")) {
      return malformed
        ? armError(400, "InvalidRequestContent", "The request body is not JSON.")
        : controlRoute(context.state, method, url.pathname, body) ?? armError(404, "NotFound", "No such control endpoint.")
    }
    if (!/^Bearer \S+/i.test(headers.authorization ?? "")) {
      return armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or is not a bearer token.")
    }
    if (malformed) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    const segments = segmentsOf(url.pathname)
    if (segments === undefined) return armError(400, "InvalidRequestUri", `The request URI '${url.pathname}' is not valid.`)
    return route(context, { method, url, segments, body }, context.clock())
  } catch (error) {
    return armError(500, "InternalServerError", `The emulator failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}

const handler = (context: Context) => (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  const chunks: Array<Buffer> = []
  request.on("error", () => response.destroy())
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const method = (request.method ?? "GET").toUpperCase()
    const url = new URL(request.url ?? "/", context.baseUrl())
    const reply = replyTo(context, method, url, request.headers, Buffer.concat(chunks).toString("utf8"))
    if (!url.pathname.toLowerCase().startsWith("/emulator/")) {
      context.state.logRequest({ method, path: url.pathname, statusCode: reply.statusCode, at: context.clock() })
    }
    send(response, reply)
  })
}

const isDirectory = (path: string) => Fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() === true

/** Blob containers are the HSM model's directories; without a model, every container exists. */
const containerLookupOf = (hsm: HsmModel["Service"] | undefined): ContainerLookup =>
  hsm === undefined
    ? () => "exists"
    : (storageAccount, container) => {
      const directory = hsm.paths.container({ storageAccount, container })
      return isDirectory(directory) ? "exists" : isDirectory(Path.dirname(directory)) ? "containerMissing" : "accountMissing"
    }

const millis = (input: Duration.Input | undefined, fallback: number) =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

/**
 * Starts the emulator on loopback with a fresh self-signed certificate; the scope closes the
 * server (and every open connection).
 */
const start = (options: ArmEmulatorOptions = {}): Effect.Effect<ArmEmulator, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { certificatePem, keyPem } = options.certificate ?? (yield* selfSignedCertificate(options.openssl))
    const clock = options.clock ?? Date.now
    // The model's work runs in fibers of the emulator's scope: closing it interrupts them.
    const run = yield* FiberSet.makeRuntime<never, unknown, never>()
    const worker = options.hsm === undefined ? undefined : makeHsmWorker(options.hsm, run, clock)
    const storage = new EmulatorStorage(containerLookupOf(options.hsm), options.roleAssignmentsPageSize ?? 100)
    const state = new EmulatorState({
      subscriptionId: options.subscriptionId ?? "00000000-0000-0000-0000-000000000000",
      skus: options.skus ?? defaultSkus,
      locations: options.locations ?? defaultLocations,
      creationMillis: millis(options.creationDuration, 2_000),
      deletionMillis: millis(options.deletionDuration, 1_000),
      expansionMillis: millis(options.expansionDuration, 2_000),
      rollbackMillis: millis(options.rollbackDuration, 1_000),
      operationRetryAfterSeconds: options.operationRetryAfterSeconds ?? 1,
      defaultSubnetFreeAddresses: options.defaultSubnetFreeAddresses ?? defaultSubnetFreeAddresses,
      subnetFreeAddresses: options.subnetFreeAddresses ?? {},
      filesystemQuota: options.filesystemQuota,
      hsmTimings: {
        importMillis: millis(options.importDuration, 2_000),
        archiveMillis: millis(options.archiveDuration, 2_000),
        autoExportIntervalMillis: millis(options.autoExportInterval, 10_000),
        autoImportIntervalMillis: millis(options.autoImportInterval, 10_000),
        cancelMillis: millis(options.jobCancelDuration, 500)
      }
    }, worker, storage)
    if (worker !== undefined) {
      // Jobs on files move on by themselves (an initial import starts, auto-export iterations run)
      // even when nobody asks ARM how they stand.
      yield* Effect.sync(() => state.tick(clock())).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)
    }
    const started = clock()
    for (const seed of options.filesystems ?? []) state.seed(seed, started)
    const host = options.host ?? "127.0.0.1"
    let baseUrl = `https://${host}`
    const context: Context = { state, baseUrl: () => baseUrl, clock }
    const server = yield* Effect.acquireRelease(
      Effect.callback<Https.Server>((resume) => {
        const server = Https.createServer({ key: keyPem, cert: certificatePem }, handler(context))
        const failed = (error: Error) => resume(Effect.die(error))
        server.once("error", failed)
        server.listen(options.port ?? 0, host, () => {
          server.off("error", failed)
          // Later socket-level errors concern one connection, never the emulator.
          server.on("error", () => undefined)
          resume(Effect.succeed(server))
        })
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const port = (server.address() as Net.AddressInfo).port
    baseUrl = `https://${host.includes(":") ? `[${host}]` : host}:${port}`
    const update = (request: FaultRequest) => Effect.sync(() => state.applyFaults(request))
    const faults: ArmEmulatorFaults = {
      apply: update,
      throttle: (count, retryAfterSeconds = 1) => update({ throttle: { count, retryAfterSeconds } }),
      serverErrors: (count, statusCode = 503) => update({ serverErrors: { count, statusCode } }),
      failNextCreate: (error) => update({ failNextCreate: error ?? true }),
      failNextExpansion: (error) => update({ failNextExpansion: error ?? true }),
      rollBackNextExpansion: (error) => update({ rollBackNextExpansion: error ?? true }),
      expansionDuration: (duration) => update({ expansionMillis: millis(duration, 0) }),
      rollbackDuration: (duration) => update({ rollbackMillis: millis(duration, 0) }),
      filesystemQuota: (max) => update({ filesystemQuota: max ?? null }),
      creationDuration: (duration) => update({ creationMillis: millis(duration, 0) }),
      deletionDuration: (duration) => update({ deletionMillis: millis(duration, 0) }),
      subnetFreeAddresses: (subnetId, free) => update({ subnetFreeAddresses: { [subnetId]: free } }),
      forbidden: (on) => update({ forbidden: on }),
      latestApiVersion: (version) => update({ latestApiVersion: version ?? null }),
      storageCacheMissing: (missing) => update({ storageCacheMissing: missing }),
      failNextImport: (message) => update({ failNextImport: message === undefined ? true : { message } }),
      partialNextImport: (errors = 1, message) =>
        update({ partialNextImport: message === undefined ? { errors } : { errors, message } }),
      failNextArchive: (error) => update({ failNextArchive: error ?? true }),
      throttleJobs: (count, retryAfterSeconds = 1) => update({ throttleJobs: { count, retryAfterSeconds } }),
      revokeStorageRoles: (roles) => update({ revokeStorageRoles: roles }),
      denyContainerRead: (on) => update({ denyContainerRead: on }),
      denyRoleAssignmentRead: (on) => update({ denyRoleAssignmentRead: on }),
      reset: update({ reset: true }),
      current: Effect.sync(() => state.faults())
    }
    return {
      url: baseUrl,
      port,
      certificatePem,
      subscriptionId: state.settings.subscriptionId,
      faults,
      counters: Effect.sync(() => state.counters()),
      seed: (filesystem) => Effect.sync(() => state.seed(filesystem, clock()))
    } satisfies ArmEmulator
  })

/** A local ARM (Microsoft.StorageCache) over HTTPS, for tests and the simulation. */
export const ArmEmulator = { start } as const
