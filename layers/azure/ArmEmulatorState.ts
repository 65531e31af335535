/**
 * The in-memory Microsoft.StorageCache of the ARM emulator: filesystems, long-running
 * operations, SKUs, subnets, faults and counters. Plain synchronous code, driven by the HTTP
 * handler in ArmEmulator.ts; time is the real clock, read through `now` so that a state is
 * computed when it is asked for (a creation is Succeeded once its duration has passed).
 */
import * as Crypto from "node:crypto"
import { type HsmSettings, sameHsmSettings } from "./AmlfsHsm.js"
import {
  EmulatorHsm,
  type FilesystemHsm,
  type HsmFaultRequest,
  type HsmFaultsSnapshot,
  type HsmWorker,
  type WorkTarget
} from "./ArmEmulatorHsmState.js"
import { EmulatorStorage, type StorageFaultRequest, type StorageFaultsSnapshot } from "./ArmEmulatorStorageState.js"
import { type HsmTimings, importJobAt, isImportJobActive } from "./hsmJobTimeline.js"

/** An AMLFS SKU as the emulator sells it. */
export interface EmulatorSku {
  readonly name: string
  /** "OSS capacity increment (TiB)": capacity must be a multiple of it (and at least it). */
  readonly incrementTiB: number
  /** "default maximum capacity (TiB)". */
  readonly maximumTiB: number
  /** "large cluster maximum capacity (TiB)" (listed, not enforced). */
  readonly largeClusterMaximumTiB: number
  /** MB/s per TiB: throughputProvisionedMBps = storageCapacityTiB * this. */
  readonly throughputPerTiB: number
}

/**
 * Increments and default maxima from the Azure Managed Lustre documentation's SKU table
 * (Premium-40: 48 TiB steps up to 768 TiB; 125/250/500: 16/8/4 TiB steps up to 128 TiB). The
 * large-cluster maxima are placeholders: ARM lists them, the driver does not read them.
 */
export const defaultSkus: ReadonlyArray<EmulatorSku> = [
  { name: "AMLFS-Durable-Premium-40", incrementTiB: 48, maximumTiB: 768, largeClusterMaximumTiB: 1536, throughputPerTiB: 40 },
  { name: "AMLFS-Durable-Premium-125", incrementTiB: 16, maximumTiB: 128, largeClusterMaximumTiB: 1024, throughputPerTiB: 125 },
  { name: "AMLFS-Durable-Premium-250", incrementTiB: 8, maximumTiB: 128, largeClusterMaximumTiB: 1024, throughputPerTiB: 250 },
  { name: "AMLFS-Durable-Premium-500", incrementTiB: 4, maximumTiB: 128, largeClusterMaximumTiB: 1024, throughputPerTiB: 500 }
]

/** A region the emulator offers AMLFS in, with its availability zones (none: not zonal). */
export interface EmulatorLocation {
  readonly name: string
  readonly zones: ReadonlyArray<string>
}

export const defaultLocations: ReadonlyArray<EmulatorLocation> = [
  { name: "eastus", zones: ["1", "2", "3"] },
  { name: "westus", zones: [] }
]

/** A /24 minus Azure's 5 reserved addresses. */
export const defaultSubnetFreeAddresses = 251

/**
 * Addresses an AMLFS cluster takes from its subnet. ARM does not publish its formula; this is
 * the emulator's stand-in: 8 plus 2 per capacity increment (a 768 TiB Premium-40 needs 40).
 */
export const requiredSubnetAddresses = (sku: EmulatorSku, storageCapacityTiB: number): number =>
  8 + 2 * Math.max(1, Math.ceil(storageCapacityTiB / sku.incrementTiB))

/** ARM's error body: `{ error: { code, message } }`, plus extra top-level fields for some APIs. */
export interface ArmErrorReply {
  readonly statusCode: number
  readonly code: string
  readonly message: string
  readonly headers?: Readonly<Record<string, string>>
  readonly extra?: Readonly<Record<string, unknown>>
}

export interface OperationError {
  readonly code: string
  readonly message: string
}

export type ProvisioningState = "Creating" | "Succeeded" | "Failed" | "Deleting" | "Updating" | "Canceled"

export interface Health {
  readonly state: string
  readonly statusCode: string
  readonly statusDescription: string
}

/** What a PUT asked for, in the emulator's own terms. */
export interface FilesystemSpec {
  readonly location: string
  readonly skuName: string
  readonly storageCapacityTiB: number
  readonly filesystemSubnet: string
  readonly zones: ReadonlyArray<string>
  readonly tags: Readonly<Record<string, string>>
  readonly maintenanceWindow: { readonly dayOfWeek: string; readonly timeOfDayUTC: string }
  /** User-assigned identity ARM ids; empty: no identity. */
  readonly identities: ReadonlyArray<string>
  /** hsm.settings (blob integration), if the PUT had them. */
  readonly hsm: HsmSettings | undefined
}

export type ExpansionJobState = "InProgress" | "Completed" | "Failed" | "Deleting" | "RollingBack"

/** How an expansion ends once it has run: it completes, fails, or rolls back and then fails. */
export type ExpansionOutcome =
  | { readonly _tag: "Completed" }
  | { readonly _tag: "Failed"; readonly error: OperationError }
  | { readonly _tag: "RolledBack"; readonly error: OperationError }

export interface ExpansionJobRecord {
  readonly name: string
  readonly location: string
  readonly tags: Readonly<Record<string, string>>
  readonly newStorageCapacityTiB: number
  readonly startTime: Date
  /** InProgress until then. */
  readonly runEndsAt: number
  /** RollingBack until then (equal to runEndsAt unless the outcome is RolledBack). */
  readonly rollbackEndsAt: number
  readonly outcome: ExpansionOutcome
  /** Its Azure-AsyncOperation, which ends with the job. */
  readonly operationId: string
  status: ExpansionJobState
  provisioningState: ProvisioningState
  percentComplete: number
  statusCode: string | undefined
  statusMessage: string | undefined
  completionTime: Date | undefined
}

export interface FilesystemRecord {
  readonly resourceGroup: string
  readonly name: string
  spec: FilesystemSpec
  /** The actual capacity, expansions included (spec.storageCapacityTiB never changes). */
  currentStorageCapacityTiB: number
  /** By lower-case job name. */
  readonly expansionJobs: Map<string, ExpansionJobRecord>
  provisioningState: ProvisioningState
  health: Health
  readonly mgsAddress: string
  /** Whether it ever reached Succeeded: ARM reports clientInfo (the MGS address) from then on. */
  provisioned: boolean
  readonly createdAt: Date
  lastModifiedAt: Date
  /** The running or last operation on this filesystem. */
  operationId: string | undefined
  /** Its blob integration and jobs, when it was created with hsm.settings. */
  hsm: FilesystemHsm | undefined
}

export type OperationStatus = "InProgress" | "Succeeded" | "Failed" | "Canceled"

export interface OperationRecord {
  readonly id: string
  /** A job's operation ends with the job (an import) or once it is created (an auto job). */
  readonly kind: "create" | "delete" | "expand" | "job"
  readonly location: string
  readonly filesystemKey: string
  readonly startTime: Date
  readonly endsAt: number
  /** How it ends when its time has come. */
  readonly outcome: { readonly _tag: "Succeeded" } | { readonly _tag: "Failed"; readonly error: OperationError }
  status: OperationStatus
  endTime: Date | undefined
  error: OperationError | undefined
}

/** The faults in force, as `GET /emulator/faults` shows them. */
export interface FaultsSnapshot extends HsmFaultsSnapshot, StorageFaultsSnapshot {
  readonly throttle: { readonly remaining: number; readonly retryAfterSeconds: number }
  readonly serverErrors: { readonly remaining: number; readonly statusCode: number }
  readonly failNextCreates: ReadonlyArray<OperationError>
  readonly filesystemQuota: number | null
  readonly creationMillis: number
  readonly deletionMillis: number
  readonly operationRetryAfterSeconds: number
  /** The outcomes the next expansions take, in order (then: Completed). */
  readonly nextExpansions: ReadonlyArray<ExpansionOutcome>
  readonly expansionMillis: number
  readonly rollbackMillis: number
  readonly subnetFreeAddresses: Readonly<Record<string, number>>
  readonly defaultSubnetFreeAddresses: number
  readonly forbidden: boolean
  readonly latestApiVersion: string | null
  readonly storageCacheMissing: boolean
}

/**
 * A change of faults: what `POST /emulator/faults` accepts as JSON, and what the programmatic
 * API applies. Every field is optional; `reset` first clears every fault (durations and subnet
 * sizes back to the emulator's start options).
 */
export interface FaultRequest extends HsmFaultRequest, StorageFaultRequest {
  readonly reset?: boolean
  /** The next `count` ARM requests answer 429 with `Retry-After: retryAfterSeconds` (default 1). */
  readonly throttle?: { readonly count: number; readonly retryAfterSeconds?: number }
  /** The next `count` ARM requests answer `statusCode` (500 or 503, default 503). */
  readonly serverErrors?: { readonly count: number; readonly statusCode?: number }
  /** The next creation ends Failed, with this error (or ARM's InternalExecutionError). */
  readonly failNextCreate?: boolean | OperationError
  /** The next expansion ends Failed, with this error (or the emulator's ExpansionFailed). */
  readonly failNextExpansion?: boolean | OperationError
  /** The next expansion rolls back (RollingBack, then Failed with this error), capacity unchanged. */
  readonly rollBackNextExpansion?: boolean | OperationError
  /** How long an expansion runs (InProgress -> Completed/Failed/RollingBack). */
  readonly expansionMillis?: number
  /** How long a rollback runs (RollingBack -> Failed). */
  readonly rollbackMillis?: number
  /** At most this many filesystems in the subscription; a PUT of one more is 409 QuotaExceeded. null: no limit. */
  readonly filesystemQuota?: number | null
  /** How long a creation runs (Creating -> Succeeded/Failed). */
  readonly creationMillis?: number
  /** How long a deletion runs (Deleting -> gone). */
  readonly deletionMillis?: number
  /** Free addresses per subnet ARM id (before the emulator's filesystems take theirs). */
  readonly subnetFreeAddresses?: Readonly<Record<string, number>>
  /** Every ARM request answers 403 AuthorizationFailed (true) or not (false). */
  readonly forbidden?: boolean
  /**
   * The emulator is an ARM that lags behind (a sovereign cloud, Azure Stack): a newer api-version
   * is 400 NoRegisteredProviderFound, and expansionJobs (2026-01-01) are 404 InvalidResourceType
   * when this is older. null: every version from 2023-05-01 on.
   */
  readonly latestApiVersion?: string | null
  /** The emulator is an ARM without Microsoft.StorageCache at all: its routes are 404 InvalidResourceNamespace. */
  readonly storageCacheMissing?: boolean
}

export interface RequestLogEntry {
  readonly method: string
  readonly path: string
  readonly statusCode: number
  /** When it was answered (ms since the epoch): benchmarks time the driver's reads with it. */
  readonly at: number
}

/** How many requests the emulator saw, for tests. Keys are filesystem names as sent. */
export interface ArmEmulatorCounters {
  readonly putsByName: Readonly<Record<string, number>>
  readonly getsByName: Readonly<Record<string, number>>
  readonly deletesByName: Readonly<Record<string, number>>
  /** PUTs of expansionJobs, per filesystem name as sent (refused ones included). */
  readonly expansionPutsByFilesystem: Readonly<Record<string, number>>
  /** Expansion jobs actually started, per filesystem name as sent. */
  readonly expansionsStartedByFilesystem: Readonly<Record<string, number>>
  /** PUTs of import, auto-export and auto-import jobs per filesystem name as sent (refused ones included). */
  readonly jobPutsByFilesystem: Readonly<Record<string, number>>
  /** archive requests per filesystem name as sent (refused ones included). */
  readonly archivesByFilesystem: Readonly<Record<string, number>>
  /** Every request (control endpoints excluded), in order. */
  readonly requests: ReadonlyArray<RequestLogEntry>
}

/** A filesystem that exists when the emulator starts, or that a test adds. */
export interface SeedFilesystem {
  readonly resourceGroup: string
  readonly name: string
  readonly location?: string
  readonly skuName?: string
  readonly storageCapacityTiB?: number
  readonly filesystemSubnet?: string
  readonly zones?: ReadonlyArray<string>
  readonly tags?: Readonly<Record<string, string>>
  /** Default Succeeded; Creating and Deleting run for the configured durations from now. */
  readonly provisioningState?: "Succeeded" | "Failed" | "Creating" | "Deleting"
  /** Default: the next 10.0.<n>.4. */
  readonly mgsAddress?: string
  readonly health?: { readonly state: string; readonly description: string }
  /** Blob integration it was created with (no jobs: created long ago). */
  readonly hsm?: HsmSettings
}

export interface EmulatorSettings {
  readonly subscriptionId: string
  readonly skus: ReadonlyArray<EmulatorSku>
  readonly locations: ReadonlyArray<EmulatorLocation>
  readonly creationMillis: number
  readonly deletionMillis: number
  readonly expansionMillis: number
  readonly rollbackMillis: number
  readonly operationRetryAfterSeconds: number
  readonly defaultSubnetFreeAddresses: number
  readonly subnetFreeAddresses: Readonly<Record<string, number>>
  readonly filesystemQuota: number | undefined
  readonly hsmTimings: HsmTimings
}

export const internalExecutionError: OperationError = {
  code: "InternalExecutionError",
  message: "An internal execution error occurred. Please retry later."
}

export const expansionFailedError: OperationError = {
  code: "ExpansionFailed",
  message: "The expansion of the AML file system failed: an internal error occurred while adding storage. The file system keeps its previous capacity."
}

export const expansionRolledBackError: OperationError = {
  code: "ExpansionRolledBack",
  message: "The expansion of the AML file system could not be completed and was rolled back. The file system keeps its previous capacity."
}

const increment = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)
const healthAvailable: Health = { state: "Available", statusCode: "0", statusDescription: "amlFilesystem is ok." }
const healthExpanding: Health = { state: "Expanding", statusCode: "2", statusDescription: "amlFilesystem is expanding." }
const healthTransitioning: Health = { state: "Transitioning", statusCode: "1", statusDescription: "amlFilesystem is transitioning." }

export const filesystemKey = (resourceGroup: string, name: string) => `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((x) => b.some((y) => y.toLowerCase() === x.toLowerCase()))

export class EmulatorState {
  readonly filesystems = new Map<string, FilesystemRecord>()
  readonly operations = new Map<string, OperationRecord>()
  private readonly puts = new Map<string, number>()
  private readonly gets = new Map<string, number>()
  private readonly deletes = new Map<string, number>()
  private readonly expansionPuts = new Map<string, number>()
  private readonly expansionsStarted = new Map<string, number>()
  private readonly jobPuts = new Map<string, number>()
  private readonly archives = new Map<string, number>()
  private readonly requests: Array<RequestLogEntry> = []
  private nextAddress = 0

  throttle = { remaining: 0, retryAfterSeconds: 1 }
  serverErrors = { remaining: 0, statusCode: 503 }
  failNextCreates: Array<OperationError> = []
  nextExpansions: Array<ExpansionOutcome> = []
  expansionMillis: number
  rollbackMillis: number
  filesystemQuota: number | undefined
  creationMillis: number
  deletionMillis: number
  subnetFreeAddresses = new Map<string, number>()
  forbidden = false
  latestApiVersion: string | undefined = undefined
  storageCacheMissing = false

  /** Blob integration: jobs, archives, their timings and faults. */
  readonly hsm: EmulatorHsm

  /**
   * `storage`: the containers and role assignments the blob-integration preflight reads (by
   * default every container exists and the AMLFS roles are granted).
   */
  constructor(
    readonly settings: EmulatorSettings,
    worker?: HsmWorker,
    readonly storage: EmulatorStorage = new EmulatorStorage(() => "exists", 100)
  ) {
    this.hsm = new EmulatorHsm(settings.hsmTimings, worker)
    this.filesystemQuota = settings.filesystemQuota
    this.creationMillis = settings.creationMillis
    this.deletionMillis = settings.deletionMillis
    this.expansionMillis = settings.expansionMillis
    this.rollbackMillis = settings.rollbackMillis
    this.resetSubnets()
  }

  private resetSubnets() {
    this.subnetFreeAddresses = new Map(
      Object.entries(this.settings.subnetFreeAddresses).map(([id, n]) => [id.toLowerCase(), n])
    )
  }

  // ---- counters -------------------------------------------------------------------------

  countPut(name: string) {
    increment(this.puts, name)
  }
  countGet(name: string) {
    increment(this.gets, name)
  }
  countDelete(name: string) {
    increment(this.deletes, name)
  }
  countExpansionPut(filesystemName: string) {
    increment(this.expansionPuts, filesystemName)
  }
  countJobPut(filesystemName: string) {
    increment(this.jobPuts, filesystemName)
  }
  countArchive(filesystemName: string) {
    increment(this.archives, filesystemName)
  }
  logRequest(entry: RequestLogEntry) {
    this.requests.push(entry)
  }
  counters(): ArmEmulatorCounters {
    return {
      putsByName: Object.fromEntries(this.puts),
      getsByName: Object.fromEntries(this.gets),
      deletesByName: Object.fromEntries(this.deletes),
      expansionPutsByFilesystem: Object.fromEntries(this.expansionPuts),
      expansionsStartedByFilesystem: Object.fromEntries(this.expansionsStarted),
      jobPutsByFilesystem: Object.fromEntries(this.jobPuts),
      archivesByFilesystem: Object.fromEntries(this.archives),
      requests: [...this.requests]
    }
  }

  // ---- faults ---------------------------------------------------------------------------

  applyFaults(request: FaultRequest) {
    this.hsm.applyFaults(request)
    this.storage.applyFaults(request)
    if (request.reset === true) {
      this.throttle = { remaining: 0, retryAfterSeconds: 1 }
      this.serverErrors = { remaining: 0, statusCode: 503 }
      this.failNextCreates = []
      this.filesystemQuota = this.settings.filesystemQuota
      this.creationMillis = this.settings.creationMillis
      this.deletionMillis = this.settings.deletionMillis
      this.nextExpansions = []
      this.expansionMillis = this.settings.expansionMillis
      this.rollbackMillis = this.settings.rollbackMillis
      this.resetSubnets()
      this.forbidden = false
      this.latestApiVersion = undefined
      this.storageCacheMissing = false
    }
    if (request.throttle !== undefined) {
      this.throttle = { remaining: request.throttle.count, retryAfterSeconds: request.throttle.retryAfterSeconds ?? 1 }
    }
    if (request.serverErrors !== undefined) {
      this.serverErrors = { remaining: request.serverErrors.count, statusCode: request.serverErrors.statusCode ?? 503 }
    }
    if (request.failNextCreate !== undefined && request.failNextCreate !== false) {
      this.failNextCreates.push(request.failNextCreate === true ? internalExecutionError : request.failNextCreate)
    }
    if (request.failNextExpansion !== undefined && request.failNextExpansion !== false) {
      this.nextExpansions.push({ _tag: "Failed", error: request.failNextExpansion === true ? expansionFailedError : request.failNextExpansion })
    }
    if (request.rollBackNextExpansion !== undefined && request.rollBackNextExpansion !== false) {
      this.nextExpansions.push({
        _tag: "RolledBack",
        error: request.rollBackNextExpansion === true ? expansionRolledBackError : request.rollBackNextExpansion
      })
    }
    if (request.expansionMillis !== undefined) this.expansionMillis = request.expansionMillis
    if (request.rollbackMillis !== undefined) this.rollbackMillis = request.rollbackMillis
    if (request.filesystemQuota !== undefined) {
      this.filesystemQuota = request.filesystemQuota === null ? undefined : request.filesystemQuota
    }
    if (request.creationMillis !== undefined) this.creationMillis = request.creationMillis
    if (request.deletionMillis !== undefined) this.deletionMillis = request.deletionMillis
    if (request.subnetFreeAddresses !== undefined) {
      for (const [id, n] of Object.entries(request.subnetFreeAddresses)) this.subnetFreeAddresses.set(id.toLowerCase(), n)
    }
    if (request.forbidden !== undefined) this.forbidden = request.forbidden
    if (request.latestApiVersion !== undefined) this.latestApiVersion = request.latestApiVersion ?? undefined
    if (request.storageCacheMissing !== undefined) this.storageCacheMissing = request.storageCacheMissing
  }

  faults(): FaultsSnapshot {
    return {
      ...this.hsm.faults(),
      ...this.storage.faults(),
      throttle: { ...this.throttle },
      serverErrors: { ...this.serverErrors },
      failNextCreates: [...this.failNextCreates],
      filesystemQuota: this.filesystemQuota ?? null,
      creationMillis: this.creationMillis,
      deletionMillis: this.deletionMillis,
      operationRetryAfterSeconds: this.settings.operationRetryAfterSeconds,
      nextExpansions: [...this.nextExpansions],
      expansionMillis: this.expansionMillis,
      rollbackMillis: this.rollbackMillis,
      subnetFreeAddresses: Object.fromEntries(this.subnetFreeAddresses),
      defaultSubnetFreeAddresses: this.settings.defaultSubnetFreeAddresses,
      forbidden: this.forbidden,
      latestApiVersion: this.latestApiVersion ?? null,
      storageCacheMissing: this.storageCacheMissing
    }
  }

  /** The fault that answers this request instead of the API, if any (consumes one). */
  takeRequestFault(operationHint: string, scope: string): ArmErrorReply | undefined {
    if (this.forbidden) {
      return {
        statusCode: 403,
        code: "AuthorizationFailed",
        message:
          `The client '00000000-0000-0000-0000-00000000c5c1' with object id '00000000-0000-0000-0000-00000000c5c1' does not have authorization to perform action '${operationHint}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`
      }
    }
    if (this.throttle.remaining > 0) {
      this.throttle.remaining--
      return {
        statusCode: 429,
        code: "TooManyRequests",
        message:
          "The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits",
        headers: { "retry-after": String(this.throttle.retryAfterSeconds), "x-ms-ratelimit-remaining-subscription-reads": "0" }
      }
    }
    if (this.serverErrors.remaining > 0) {
      this.serverErrors.remaining--
      const statusCode = this.serverErrors.statusCode
      return statusCode === 503
        ? { statusCode, code: "ServiceUnavailable", message: "The service is temporarily unavailable. Please retry later." }
        : { statusCode, code: "InternalServerError", message: "Encountered internal server error. Please try again." }
    }
    return undefined
  }

  // ---- SKUs and subnets -----------------------------------------------------------------

  findSku(name: string): EmulatorSku | undefined {
    return this.settings.skus.find((sku) => sku.name.toLowerCase() === name.toLowerCase())
  }

  findLocation(name: string): EmulatorLocation | undefined {
    const normalized = name.replace(/\s+/g, "").toLowerCase()
    return this.settings.locations.find((location) => location.name.toLowerCase() === normalized)
  }

  /** Free addresses left in a subnet once the emulator's filesystems in it took theirs. */
  freeAddresses(subnetId: string, excludingKey?: string): number {
    const configured = this.subnetFreeAddresses.get(subnetId.toLowerCase()) ?? this.settings.defaultSubnetFreeAddresses
    let used = 0
    for (const [key, fs] of this.filesystems) {
      if (key === excludingKey || fs.spec.filesystemSubnet.toLowerCase() !== subnetId.toLowerCase()) continue
      const sku = this.findSku(fs.spec.skuName)
      if (sku !== undefined) used += requiredSubnetAddresses(sku, fs.spec.storageCapacityTiB)
    }
    return Math.max(0, configured - used)
  }

  /** checkAmlFSSubnets' verdict: undefined when the filesystem fits. */
  subnetRefusal(subnetId: string, sku: EmulatorSku, storageCapacityTiB: number, excludingKey?: string): string | undefined {
    const required = requiredSubnetAddresses(sku, storageCapacityTiB)
    const free = this.freeAddresses(subnetId, excludingKey)
    return required <= free
      ? undefined
      : `The subnet '${subnetId}' does not have enough available IP addresses for an AML file system of ${storageCapacityTiB} TiB with SKU ${sku.name}: ${required} are required, ${free} are available.`
  }

  // ---- filesystems ----------------------------------------------------------------------

  /** Completes every operation whose time has come. */
  tick(now: number) {
    for (const op of this.operations.values()) {
      if (op.kind === "expand" || op.kind === "job" || op.status !== "InProgress" || op.endsAt > now) continue
      op.status = op.outcome._tag
      op.endTime = new Date(now)
      op.error = op.outcome._tag === "Failed" ? op.outcome.error : undefined
      const fs = this.filesystems.get(op.filesystemKey)
      if (fs === undefined || fs.operationId !== op.id) continue
      if (op.kind === "delete") {
        // Its expansion jobs go with it; an expansion still running ends Canceled.
        for (const job of fs.expansionJobs.values()) {
          const expansion = this.operations.get(job.operationId)
          if (expansion?.status === "InProgress") {
            expansion.status = "Canceled"
            expansion.endTime = new Date(now)
          }
        }
        if (fs.hsm !== undefined) this.hsm.stopAll(fs.hsm)
        this.filesystems.delete(op.filesystemKey)
      } else if (op.outcome._tag === "Succeeded") {
        fs.provisioningState = "Succeeded"
        fs.provisioned = true
        fs.health = healthAvailable
        fs.lastModifiedAt = new Date(now)
        if (fs.hsm !== undefined) this.hsm.creationSucceeded(EmulatorState.workTarget(fs), fs.hsm)
      } else {
        // As ARM may: the health names no reason; the operation's error does.
        fs.provisioningState = "Failed"
        fs.health = { state: "Unavailable", statusCode: op.outcome.error.code, statusDescription: "" }
        fs.lastModifiedAt = new Date(now)
      }
    }
    for (const fs of this.filesystems.values()) {
      for (const job of fs.expansionJobs.values()) this.tickExpansion(fs, job, now)
      if (fs.hsm !== undefined && fs.provisioningState === "Succeeded") {
        this.hsm.tick(EmulatorState.workTarget(fs), fs.hsm, now)
        this.endJobOperations(fs.hsm, now)
      }
    }
  }

  /** What the HSM worker needs of a filesystem. */
  static workTarget(fs: FilesystemRecord): WorkTarget {
    return { mgsAddress: fs.mgsAddress, settings: fs.hsm?.settings ?? { container: "", loggingContainer: "", importPrefixesInitial: [] } }
  }

  /** A job's operation: it ends with the import job, or at once for an auto job (its resource exists). */
  startJobOperation(fs: FilesystemRecord, now: number): OperationRecord {
    return this.startOperation("job", filesystemKey(fs.resourceGroup, fs.name), fs.spec.location, 0, now, undefined)
  }

  private endJobOperations(hsm: FilesystemHsm, now: number) {
    const end = (operationId: string | undefined, status: "Succeeded" | "Failed" | "Canceled", error?: OperationError) => {
      const op = operationId === undefined ? undefined : this.operations.get(operationId)
      if (op === undefined || op.status !== "InProgress") return
      op.status = status
      op.endTime = new Date(now)
      op.error = error
    }
    for (const job of hsm.importJobs) {
      if (isImportJobActive(job.record, now, this.hsm.timings)) continue
      const { state, statusMessage } = importJobAt(job.record, now, this.hsm.timings).status
      if (state === "Failed") end(job.operationId, "Failed", { code: "ImportJobFailed", message: statusMessage ?? "" })
      else end(job.operationId, state === "Canceled" ? "Canceled" : "Succeeded")
    }
    for (const job of [...hsm.autoExportJobs, ...hsm.autoImportJobs]) end(job.operationId, "Succeeded")
  }

  /** Moves a running expansion on to where it is at `now`; its effects on the filesystem with it. */
  private tickExpansion(fs: FilesystemRecord, job: ExpansionJobRecord, now: number) {
    if (job.status !== "InProgress" && job.status !== "RollingBack") return
    if (now < job.runEndsAt) {
      const span = Math.max(1, job.runEndsAt - job.startTime.getTime())
      job.percentComplete = Math.min(99, Math.floor((100 * (now - job.startTime.getTime())) / span))
      return
    }
    const op = this.operations.get(job.operationId)
    const finish = (status: "Completed" | "Failed", at: number, error: OperationError | undefined) => {
      job.status = status
      job.provisioningState = status === "Completed" ? "Succeeded" : "Failed"
      job.completionTime = new Date(at)
      job.statusCode = error?.code
      job.statusMessage = error === undefined ? "Expansion completed successfully" : error.message
      if (status === "Completed") {
        job.percentComplete = 100
        fs.currentStorageCapacityTiB = job.newStorageCapacityTiB
      }
      if (fs.provisioningState === "Succeeded") fs.health = healthAvailable
      fs.lastModifiedAt = new Date(at)
      if (op !== undefined && op.status === "InProgress") {
        op.status = status === "Completed" ? "Succeeded" : "Failed"
        op.endTime = new Date(at)
        op.error = error
      }
    }
    switch (job.outcome._tag) {
      case "Completed":
        return finish("Completed", job.runEndsAt, undefined)
      case "Failed":
        return finish("Failed", job.runEndsAt, job.outcome.error)
      case "RolledBack":
        if (now < job.rollbackEndsAt) {
          job.status = "RollingBack"
          job.statusCode = job.outcome.error.code
          job.statusMessage = `Rolling back: ${job.outcome.error.message}`
          return
        }
        return finish("Failed", job.rollbackEndsAt, job.outcome.error)
    }
  }

  /** The job of `fs` that is running (InProgress, RollingBack or Deleting), if any. */
  static runningExpansion(fs: FilesystemRecord): ExpansionJobRecord | undefined {
    return [...fs.expansionJobs.values()].find((job) => job.status === "InProgress" || job.status === "RollingBack" || job.status === "Deleting")
  }

  /** Starts an expansion job (the caller has validated it). */
  startExpansion(
    fs: FilesystemRecord,
    jobName: string,
    newStorageCapacityTiB: number,
    tags: Readonly<Record<string, string>>,
    now: number
  ): ExpansionJobRecord {
    const outcome = this.nextExpansions.shift() ?? { _tag: "Completed" }
    const runEndsAt = now + this.expansionMillis
    const rollbackEndsAt = outcome._tag === "RolledBack" ? runEndsAt + this.rollbackMillis : runEndsAt
    const op = this.startOperation("expand", filesystemKey(fs.resourceGroup, fs.name), fs.spec.location, rollbackEndsAt - now, now, undefined)
    const job: ExpansionJobRecord = {
      name: jobName,
      location: fs.spec.location,
      tags,
      newStorageCapacityTiB,
      startTime: new Date(now),
      runEndsAt,
      rollbackEndsAt,
      outcome,
      operationId: op.id,
      status: "InProgress",
      provisioningState: "Creating",
      percentComplete: 0,
      statusCode: undefined,
      statusMessage: undefined,
      completionTime: undefined
    }
    fs.expansionJobs.set(jobName.toLowerCase(), job)
    fs.health = healthExpanding
    fs.lastModifiedAt = new Date(now)
    increment(this.expansionsStarted, fs.name)
    // An expansion that takes no time is over at once.
    this.tickExpansion(fs, job, now)
    return job
  }

  private allocateAddress(): string {
    const n = this.nextAddress++
    return `10.${Math.floor(n / 256) % 256}.${n % 256}.4`
  }

  private startOperation(kind: OperationRecord["kind"], key: string, location: string, millis: number, now: number, failure: OperationError | undefined): OperationRecord {
    const op: OperationRecord = {
      id: Crypto.randomUUID(),
      kind,
      location,
      filesystemKey: key,
      startTime: new Date(now),
      endsAt: now + millis,
      outcome: failure === undefined ? { _tag: "Succeeded" } : { _tag: "Failed", error: failure },
      status: "InProgress",
      endTime: undefined,
      error: undefined
    }
    this.operations.set(op.id, op)
    return op
  }

  /** Starts a creation (a new filesystem, or a new attempt on a Failed one). */
  startCreate(resourceGroup: string, name: string, spec: FilesystemSpec, now: number): { fs: FilesystemRecord; op: OperationRecord } {
    const key = filesystemKey(resourceGroup, name)
    const existing = this.filesystems.get(key)
    const op = this.startOperation("create", key, spec.location, this.creationMillis, now, this.failNextCreates.shift())
    if (existing?.hsm !== undefined) this.hsm.stopAll(existing.hsm)
    const fs: FilesystemRecord = {
      resourceGroup: existing?.resourceGroup ?? resourceGroup,
      name: existing?.name ?? name,
      spec,
      currentStorageCapacityTiB: spec.storageCapacityTiB,
      expansionJobs: new Map(),
      provisioningState: "Creating",
      health: healthTransitioning,
      mgsAddress: existing?.mgsAddress ?? this.allocateAddress(),
      provisioned: false,
      createdAt: existing?.createdAt ?? new Date(now),
      lastModifiedAt: new Date(now),
      operationId: op.id,
      hsm: spec.hsm === undefined ? undefined : this.hsm.forCreation(spec.hsm, spec.location, op.endsAt, op.outcome._tag === "Failed")
    }
    this.filesystems.set(key, fs)
    return { fs, op }
  }

  /** Starts a deletion, or returns the one already running. */
  startDelete(fs: FilesystemRecord, now: number): OperationRecord {
    const running = fs.operationId === undefined ? undefined : this.operations.get(fs.operationId)
    if (running !== undefined && running.kind === "delete" && running.status === "InProgress") return running
    if (running !== undefined && running.status === "InProgress") {
      running.status = "Canceled"
      running.endTime = new Date(now)
    }
    const op = this.startOperation("delete", filesystemKey(fs.resourceGroup, fs.name), fs.spec.location, this.deletionMillis, now, undefined)
    fs.operationId = op.id
    fs.provisioningState = "Deleting"
    fs.health = healthTransitioning
    fs.lastModifiedAt = new Date(now)
    return op
  }

  /** Whether a PUT of `spec` on a Succeeded filesystem asks for what it already is. */
  static sameImmutableSpec(a: FilesystemSpec, b: FilesystemSpec): boolean {
    return a.location.toLowerCase() === b.location.toLowerCase() &&
      a.skuName.toLowerCase() === b.skuName.toLowerCase() &&
      a.storageCapacityTiB === b.storageCapacityTiB &&
      a.filesystemSubnet.toLowerCase() === b.filesystemSubnet.toLowerCase() &&
      sameSet(a.zones, b.zones) &&
      sameSet(a.identities, b.identities) &&
      sameHsmSettings(a.hsm, b.hsm)
  }

  seed(seed: SeedFilesystem, now: number) {
    const location = seed.location ?? this.settings.locations[0]?.name ?? "eastus"
    const skuName = seed.skuName ?? "AMLFS-Durable-Premium-125"
    const spec: FilesystemSpec = {
      location,
      skuName,
      storageCapacityTiB: seed.storageCapacityTiB ?? this.findSku(skuName)?.incrementTiB ?? 16,
      filesystemSubnet: seed.filesystemSubnet ??
        `/subscriptions/${this.settings.subscriptionId}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/amlfs`,
      zones: seed.zones ?? [],
      tags: seed.tags ?? {},
      maintenanceWindow: { dayOfWeek: "Saturday", timeOfDayUTC: "22:00" },
      identities: [],
      hsm: seed.hsm
    }
    const key = filesystemKey(seed.resourceGroup, seed.name)
    const state = seed.provisioningState ?? "Succeeded"
    const health: Health = seed.health === undefined
      ? state === "Succeeded"
        ? healthAvailable
        : state === "Failed"
        ? { state: "Unavailable", statusCode: internalExecutionError.code, statusDescription: internalExecutionError.message }
        : healthTransitioning
      : { state: seed.health.state, statusCode: seed.health.state === "Available" ? "0" : "1", statusDescription: seed.health.description }
    const fs: FilesystemRecord = {
      resourceGroup: seed.resourceGroup,
      name: seed.name,
      spec,
      currentStorageCapacityTiB: spec.storageCapacityTiB,
      expansionJobs: new Map(),
      provisioningState: state,
      health,
      mgsAddress: seed.mgsAddress ?? this.allocateAddress(),
      provisioned: state === "Succeeded" || state === "Deleting",
      createdAt: new Date(now),
      lastModifiedAt: new Date(now),
      operationId: undefined,
      hsm: seed.hsm === undefined ? undefined : this.hsm.forSeed(seed.hsm)
    }
    this.filesystems.set(key, fs)
    if (state === "Creating") {
      fs.operationId = this.startOperation("create", key, location, this.creationMillis, now, undefined).id
    } else if (state === "Deleting") {
      fs.operationId = this.startOperation("delete", key, location, this.deletionMillis, now, undefined).id
    }
  }
}
