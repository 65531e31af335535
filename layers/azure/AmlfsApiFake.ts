import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Semaphore from "effect/Semaphore"
import {
  type AmlfsHsmCalls,
  type AmlFilesystem,
  type AmlfsSku,
  AmlfsApi,
  type AmlFilesystemSpec,
  ArmError,
  type ArmOperation,
  type ExpansionJob,
  effectivePrefixes,
  hsmSettingsProblem,
  INITIAL_IMPORT_JOB_NAME,
  sameHsmSettings,
  SubnetRefused
} from "./AmlfsApi.js"
import { type FakeHsmState, makeHsmApi } from "./AmlfsApiFakeHsm.js"
import {
  defaultLocations,
  defaultSkus,
  defaultSubnetFreeAddresses,
  internalExecutionError,
  requiredSubnetAddresses as emulatorSubnetAddresses
} from "./ArmEmulatorState.js"
import {
  type ArchiveOutcome,
  archiveFailedError,
  archiveStatusAt,
  type HsmTimings,
  importFailedMessage,
  type ImportJobRecord,
  type ImportOutcome,
  importPartialMessage
} from "./hsmJobTimeline.js"

/**
 * A deterministic, in-memory AmlfsApi for unit and model-based tests.
 *
 * What it fakes, and how honestly:
 * - Time is virtual: a creation started at t is Creating until t + createDurationMillis, then
 *   Succeeded (or Failed when scripted); a deletion is Deleting for deleteDurationMillis, then
 *   the filesystem is gone. Every call computes the state from `Clock.currentTimeMillis`, so
 *   `TestClock.adjust` drives it. Nothing runs in the background.
 * - The rules are the ARM emulator's (ArmEmulatorState.ts, with its SKU, location and subnet
 *   tables), and test/layers/amlfsApi.contract.test.ts runs the same scenarios through both, so a
 *   test means the same through either: a PUT over a Creating or Deleting filesystem is 409
 *   Conflict; a PUT over a Succeeded one with the same immutable fields (location, SKU, capacity,
 *   subnet, zones, identities) is a no-op success that takes the new tags and maintenance window,
 *   with other immutable fields 400 PropertyChangeNotAllowed; a PUT over a Failed one starts a new
 *   attempt (same MGS address); a DELETE of an absent filesystem succeeds (the interface counts
 *   404 as done), of a Creating one cancels the creation and deletes, of a Deleting one changes
 *   nothing.
 * - A PUT is checked against the SKU list: a location not offered is 400
 *   LocationNotAvailableForResourceType, an unknown SKU 400 InvalidSku, a capacity that is not a
 *   multiple of the increment within the maximum 400 InvalidParameter, a zone not offered 400
 *   InvalidAvailabilityZone. ARM does more (subnet delegation, identities, policies): neither
 *   model checks that.
 * - Quota: at most `filesystemQuota` filesystems (all states) exist at once; one more is 409
 *   QuotaExceeded with ARM's "Operation results in exceeding quota limits of resource type AmlFilesystem".
 * - Subnets: each has `subnetFreeAddresses` (default 251, a /24 minus Azure's 5) before the
 *   fake's filesystems in it take theirs; a filesystem needs `requiredSubnetAddresses`, which is
 *   the emulator's stand-in, NOT ARM's unpublished formula. `checkSubnet` refuses a subnet
 *   without room, and so does a PUT (400 InvalidSubnet).
 * - A creation is a long-running operation: `beginCreate` returns it, and reading it says
 *   InProgress, then Succeeded or Failed with ARM's error (Canceled when a deletion cut it). A
 *   Failed filesystem's health says Unavailable with no description, as ARM may: the reason is the
 *   operation's.
 * - Faults are scripted, not random: `failures` is a queue of ArmErrors; each call takes the
 *   first one aimed at its operation (or at any) and fails with it. `failNextCreates` holds the
 *   errors the next creations end Failed with (`failNextCreate` queues one).
 * - Every call is recorded in `calls` with its virtual time, so tests count PUTs, GETs and
 *   DELETEs per name and reads per minute.
 * - Expansion jobs follow the emulator too: a job is InProgress for expansionDurationMillis
 *   (health Expanding, currentStorageCapacityTiB still the old one), then Completed (the new
 *   capacity; storageCapacityTiB never changes), or Failed, or, scripted, RollingBack for
 *   rollbackDurationMillis and then Failed with the capacity unchanged. The same job name with the
 *   same capacity is accepted again without a second job; with another capacity it is 400
 *   PropertyChangeNotAllowed; another job while one runs, or on a filesystem that is not
 *   Succeeded, is 409 Conflict; a capacity that is not a multiple of the SKU step, above its
 *   maximum, or not above the current capacity is 400 InvalidParameter.
 * - Blob integration follows the emulator through the same timelines and rules
 *   (hsmJobTimeline.ts, hsmJobRules.ts): a creation with hsm.settings starts the import job
 *   INITIAL_IMPORT_JOB_NAME when it succeeds; import jobs run for `hsmTimings.importMillis`,
 *   archives for `archiveMillis`, auto-export iterations and auto-import scans every interval;
 *   cancels and disables take `cancelMillis`. There are no files: every count is 0. Scripted:
 *   `failNextImport`, `partialNextImport`, `failNextArchive` (the next job or archive created).
 */

export type AmlfsOperation =
  | "get"
  | "beginCreate"
  | "beginDelete"
  | "getExpansionJob"
  | "beginExpansion"
  | "listExpansionJobs"
  | "listSkus"
  | "requiredSubnetSize"
  | "checkSubnet"
  | "getOperation"
  | keyof AmlfsHsmCalls

/** One call the fake saw, at a virtual time. `name` is the filesystem name for the filesystem and expansion calls. */
export interface AmlfsCall {
  readonly operation: AmlfsOperation
  readonly resourceGroup: string | undefined
  readonly name: string | undefined
  readonly atMillis: number
  /** The expansion job, for getExpansionJob and beginExpansion. */
  readonly job?: string
  /** A scripted failure answered it (as the emulator's faults answer before the API sees the request). */
  readonly failedByScript?: true
}

/** The ARM operation (ArmError.operation, as the live layer names it) of each call of the fake. */
export const armOperationOf: { readonly [Operation in AmlfsOperation]: string } = {
  get: "getAmlFilesystem",
  beginCreate: "createAmlFilesystem",
  beginDelete: "deleteAmlFilesystem",
  getExpansionJob: "getExpansionJob",
  beginExpansion: "createExpansionJob",
  listExpansionJobs: "listExpansionJobs",
  listSkus: "listSkus",
  requiredSubnetSize: "getRequiredAmlFSSubnetsSize",
  checkSubnet: "checkAmlFSSubnets",
  getOperation: "getAsyncOperation",
  beginImportJob: "createImportJob",
  getImportJob: "getImportJob",
  listImportJobs: "listImportJobs",
  cancelImportJob: "cancelImportJob",
  beginAutoExportJob: "createAutoExportJob",
  getAutoExportJob: "getAutoExportJob",
  listAutoExportJobs: "listAutoExportJobs",
  disableAutoExportJob: "disableAutoExportJob",
  beginAutoImportJob: "createAutoImportJob",
  getAutoImportJob: "getAutoImportJob",
  listAutoImportJobs: "listAutoImportJobs",
  disableAutoImportJob: "disableAutoImportJob",
  archive: "archiveAmlFilesystem",
  cancelArchive: "cancelArchiveAmlFilesystem"
}

/** A queued failure: the next call of `operation` (any operation when undefined) fails with `error`. */
export interface ScriptedFailure {
  readonly error: ArmError
  readonly operation: AmlfsOperation | undefined
}

/** How a fake expansion ends. */
export type FakeExpansionOutcome =
  | { readonly _tag: "Completed" }
  | { readonly _tag: "Failed"; readonly code: string; readonly message: string }
  | { readonly _tag: "RolledBack"; readonly code: string; readonly message: string }

/** An expansion job as the fake keeps it; its status at a time is `expansionStatusAt`. */
export interface FakeExpansionJob {
  readonly name: string
  readonly newStorageCapacityTiB: number
  readonly startedAtMillis: number
  /** InProgress until then. */
  readonly runEndsAtMillis: number
  /** RollingBack until then (equal to runEndsAtMillis unless the outcome is RolledBack). */
  readonly rollbackEndsAtMillis: number
  readonly outcome: FakeExpansionOutcome
}

export type FakeExpansionStatus = "InProgress" | "RollingBack" | "Completed" | "Failed"

export const expansionStatusAt = (job: FakeExpansionJob, now: number): FakeExpansionStatus =>
  now < job.runEndsAtMillis
    ? "InProgress"
    : job.outcome._tag === "Completed"
    ? "Completed"
    : job.outcome._tag === "RolledBack" && now < job.rollbackEndsAtMillis
    ? "RollingBack"
    : "Failed"

/** The capacity of `fs` at `now`: its creation capacity grown by every expansion completed by then. */
export const currentCapacityAt = (fs: FakeFilesystem, now: number): number =>
  fs.expansions.reduce(
    (capacity, job) => expansionStatusAt(job, now) === "Completed" ? Math.max(capacity, job.newStorageCapacityTiB) : capacity,
    fs.spec.storageCapacityTiB
  )

const runningExpansionAt = (fs: FakeFilesystem, now: number): FakeExpansionJob | undefined =>
  fs.expansions.find((job) => {
    const status = expansionStatusAt(job, now)
    return status === "InProgress" || status === "RollingBack"
  })

export const DEFAULT_EXPANSION_FAILED = {
  code: "ExpansionFailed",
  message: "The expansion of the AML file system failed: an internal error occurred while adding storage. The file system keeps its previous capacity."
} as const
export const DEFAULT_EXPANSION_ROLLED_BACK = {
  code: "ExpansionRolledBack",
  message: "The expansion of the AML file system could not be completed and was rolled back. The file system keeps its previous capacity."
} as const

/** ARM's reason for a failed operation. */
export interface FakeOperationError {
  readonly code: string
  readonly message: string
}

/** A creation's long-running operation; its status at a time is `operationStatusAt`. */
export interface FakeOperation {
  readonly id: string
  readonly filesystemKey: string
  readonly endsAtMillis: number
  /** How it ends, unless a deletion cancels it first. */
  readonly error: FakeOperationError | undefined
  /** When a deletion cut it, if one did. */
  readonly canceledAtMillis: number | undefined
}

export const operationStatusAt = (op: FakeOperation, now: number): "InProgress" | "Succeeded" | "Failed" | "Canceled" =>
  op.canceledAtMillis !== undefined && now >= op.canceledAtMillis
    ? "Canceled"
    : now < op.endsAtMillis
    ? "InProgress"
    : op.error === undefined
    ? "Succeeded"
    : "Failed"

/** A filesystem as the fake keeps it; its state at a time is `provisioningStateAt`. */
export interface FakeFilesystem {
  readonly resourceGroup: string
  readonly name: string
  readonly spec: AmlFilesystemSpec
  readonly createdAtMillis: number
  /** When the current creation attempt ends. */
  readonly createEndsAtMillis: number
  readonly outcome: "Succeeded" | "Failed"
  /** health.statusDescription once Failed: empty for a creation that failed (its operation says why). */
  readonly failedHealthDescription: string
  /** The current creation attempt's operation, when the fake started one. */
  readonly operationId: string | undefined
  readonly mgsAddress: string
  /** When a deletion was accepted, and when it ends; undefined while none is. */
  readonly deleteEndsAtMillis: number | undefined
  /** Whether it was provisioned when its deletion started: ARM still reports its MGS address while Deleting. */
  readonly provisionedWhenDeleted?: boolean
  /** Its expansion jobs, oldest first. */
  readonly expansions: ReadonlyArray<FakeExpansionJob>
  /** Its blob integration (spec.hsm) and jobs, when it was created with one. */
  readonly hsm?: FakeHsmState
}

export type FakeState = "Creating" | "Succeeded" | "Failed" | "Deleting" | "Gone"

export const provisioningStateAt = (fs: FakeFilesystem, now: number): FakeState =>
  fs.deleteEndsAtMillis !== undefined
    ? now >= fs.deleteEndsAtMillis ? "Gone" : "Deleting"
    : now < fs.createEndsAtMillis
    ? "Creating"
    : fs.outcome

/** The ARM emulator's SKUs in its locations: the documented increments and maxima, zonal in eastus only. */
export const defaultFakeSkus: ReadonlyArray<AmlfsSku> = defaultLocations.flatMap((location) =>
  defaultSkus.map((sku) => ({
    name: sku.name,
    incrementTiB: sku.incrementTiB,
    maximumTiB: sku.maximumTiB,
    location: location.name,
    zones: location.zones
  }))
)

/** A /24 minus the 5 addresses Azure reserves. */
export const DEFAULT_SUBNET_FREE_ADDRESSES = defaultSubnetFreeAddresses
export const DEFAULT_CREATE_MILLIS = 10 * 60_000
export const DEFAULT_DELETE_MILLIS = 2 * 60_000
export const DEFAULT_EXPANSION_MILLIS = 20 * 60_000
export const DEFAULT_ROLLBACK_MILLIS = 5 * 60_000
export const DEFAULT_HSM_TIMINGS: HsmTimings = {
  importMillis: 5 * 60_000,
  archiveMillis: 5 * 60_000,
  autoExportIntervalMillis: 10 * 60_000,
  autoImportIntervalMillis: 10 * 60_000,
  cancelMillis: 60_000
}

/** The emulator's stand-in for ARM's subnet sizing: 8 plus 2 per capacity increment. */
export const requiredSubnetAddresses = (incrementTiB: number, storageCapacityTiB: number): number =>
  emulatorSubnetAddresses({ name: "", incrementTiB, maximumTiB: 0, largeClusterMaximumTiB: 0, throughputPerTiB: 0 }, storageCapacityTiB)

export const QUOTA_MESSAGE = "Operation results in exceeding quota limits of resource type AmlFilesystem"

/** Why a creation the fake was told to fail ends Failed, unless told otherwise (the emulator's). */
export const DEFAULT_CREATE_FAILURE: FakeOperationError = internalExecutionError

/** ARM's rule for filesystem and job names: 2 to 80 characters, alphanumeric at both ends. */
const namePattern = /^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/
const invalidName = (operation: string, name: string) =>
  armError(
    operation,
    400,
    "InvalidResourceName",
    `Resource name ${name} is invalid. The name can be up to 80 characters long. It can contain only alphanumeric characters, ` +
      "underscores and hyphens. It must start and end with an alphanumeric."
  )

const keyOf = (resourceGroup: string, name: string) => `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((x) => b.some((y) => y.toLowerCase() === x.toLowerCase()))

/** The immutable fields of `a` that `b` asks to change (what ARM would refuse to update). */
const changedImmutableFields = (a: AmlFilesystemSpec, b: AmlFilesystemSpec): ReadonlyArray<string> => [
  ...(a.location.toLowerCase() === b.location.toLowerCase() ? [] : ["location"]),
  ...(a.skuName.toLowerCase() === b.skuName.toLowerCase() ? [] : ["sku"]),
  ...(a.storageCapacityTiB === b.storageCapacityTiB ? [] : ["storageCapacityTiB"]),
  ...(a.filesystemSubnet.toLowerCase() === b.filesystemSubnet.toLowerCase() ? [] : ["filesystemSubnet"]),
  ...(sameSet(a.zones, b.zones) ? [] : ["zones"]),
  ...(sameSet(a.identities, b.identities) ? [] : ["identity"]),
  ...(sameHsmSettings(a.hsm, b.hsm) ? [] : ["hsm"])
]

const armError = (operation: string, statusCode: number, code: string, message: string) =>
  new ArmError({ operation, statusCode, code, message, retryAfterMillis: undefined })

/** ARM-shaped errors for scripting faults. */
export const armErrors = {
  throttled: (retryAfterMillis = 1000) =>
    new ArmError({
      operation: "scripted",
      statusCode: 429,
      code: "TooManyRequests",
      message: "The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00.",
      retryAfterMillis
    }),
  unavailable: () => armError("scripted", 503, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
  internal: () => armError("scripted", 500, "InternalServerError", "Encountered internal server error. Please try again."),
  forbidden: () =>
    armError(
      "scripted",
      403,
      "AuthorizationFailed",
      "The client does not have authorization to perform action 'Microsoft.StorageCache/amlFilesystems/write' over the scope or the scope is invalid."
    )
}

/** A filesystem that exists when the test starts (or that it adds later with `seed`). */
export interface FakeSeed {
  readonly resourceGroup: string
  readonly name: string
  readonly spec?: Partial<AmlFilesystemSpec>
  /** Default Succeeded; Creating and Deleting run for the configured durations from now. */
  readonly state?: "Succeeded" | "Failed" | "Creating" | "Deleting"
}

export interface FakeCounters {
  readonly putsByName: Readonly<Record<string, number>>
  readonly getsByName: Readonly<Record<string, number>>
  readonly deletesByName: Readonly<Record<string, number>>
  /** beginExpansion calls per filesystem name as sent (refused ones included), like the emulator's. */
  readonly expansionPutsByFilesystem: Readonly<Record<string, number>>
  /** PUTs of import, auto-export and auto-import jobs per filesystem name as sent (refused ones included). */
  readonly jobPutsByFilesystem: Readonly<Record<string, number>>
  /** archive calls per filesystem name as sent (refused ones included). */
  readonly archivesByFilesystem: Readonly<Record<string, number>>
}

const tally = (calls: ReadonlyArray<AmlfsCall>, ...operations: ReadonlyArray<AmlfsOperation>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const call of calls) {
    if (operations.includes(call.operation) && call.name !== undefined && call.failedByScript === undefined) {
      counts[call.name] = (counts[call.name] ?? 0) + 1
    }
  }
  return counts
}

export interface AmlfsApiFakeOptions {
  readonly skus?: ReadonlyArray<AmlfsSku>
  readonly createDurationMillis?: number
  readonly deleteDurationMillis?: number
  /** At most this many filesystems; undefined: no limit. */
  readonly filesystemQuota?: number
  readonly defaultSubnetFreeAddresses?: number
  /** Free addresses per subnet ARM id (compared case-insensitively). */
  readonly subnetFreeAddresses?: Readonly<Record<string, number>>
  readonly failures?: ReadonlyArray<ScriptedFailure>
  /** The next creations end Failed: this many with DEFAULT_CREATE_FAILURE, or with these errors. */
  readonly failNextCreates?: number | ReadonlyArray<FakeOperationError>
  readonly filesystems?: ReadonlyArray<FakeSeed>
  readonly expansionDurationMillis?: number
  readonly rollbackDurationMillis?: number
  /** The outcomes of the next expansions, in order (then: Completed). */
  readonly nextExpansions?: ReadonlyArray<FakeExpansionOutcome>
  readonly hsmTimings?: Partial<HsmTimings>
}

export class AmlfsApiFake extends Context.Service<AmlfsApiFake, {
  /** By `<resource group>/<name>`, lower case (ARM names are case-insensitive); gone ones are pruned on the next call. */
  readonly filesystems: Ref.Ref<ReadonlyMap<string, FakeFilesystem>>
  readonly skus: Ref.Ref<ReadonlyArray<AmlfsSku>>
  readonly failures: Ref.Ref<ReadonlyArray<ScriptedFailure>>
  /** The errors the next creations end Failed with, in order. */
  readonly failNextCreates: Ref.Ref<ReadonlyArray<FakeOperationError>>
  /** The next creation ends Failed with this error (default DEFAULT_CREATE_FAILURE). */
  readonly failNextCreate: (error?: FakeOperationError) => Effect.Effect<void>
  /** How long blob-integration jobs take. */
  readonly hsmTimings: Ref.Ref<HsmTimings>
  /** How the next import jobs end (a creation's initial import included), in order (then: Completed). */
  readonly nextImports: Ref.Ref<ReadonlyArray<ImportOutcome>>
  /** The next import job ends Failed with this status message. */
  readonly failNextImport: (message?: string) => Effect.Effect<void>
  /** The next import job ends CompletedPartial with this many errors. */
  readonly partialNextImport: (errors?: number, message?: string) => Effect.Effect<void>
  /** How the next archives end, in order (then: Completed). */
  readonly nextArchives: Ref.Ref<ReadonlyArray<ArchiveOutcome>>
  /** The next archive ends Failed with this error. */
  readonly failNextArchive: (error?: { readonly code: string; readonly message: string }) => Effect.Effect<void>
  /** Creation operations by id. */
  readonly operations: Ref.Ref<ReadonlyMap<string, FakeOperation>>
  readonly filesystemQuota: Ref.Ref<number | undefined>
  readonly defaultSubnetFreeAddresses: Ref.Ref<number>
  readonly subnetFreeAddresses: Ref.Ref<ReadonlyMap<string, number>>
  readonly createDurationMillis: Ref.Ref<number>
  readonly deleteDurationMillis: Ref.Ref<number>
  readonly expansionDurationMillis: Ref.Ref<number>
  readonly rollbackDurationMillis: Ref.Ref<number>
  /** The outcomes the next expansions take, in order (then: Completed). */
  readonly nextExpansions: Ref.Ref<ReadonlyArray<FakeExpansionOutcome>>
  /** The next expansion ends Failed with this error (default ExpansionFailed). */
  readonly failNextExpansion: (error?: { readonly code: string; readonly message: string }) => Effect.Effect<void>
  /** The next expansion rolls back, then ends Failed with this error (default ExpansionRolledBack). */
  readonly rollBackNextExpansion: (error?: { readonly code: string; readonly message: string }) => Effect.Effect<void>
  readonly calls: Ref.Ref<ReadonlyArray<AmlfsCall>>
  /** How many MGS addresses were handed out (each filesystem keeps its own across retries). */
  readonly addressesAllocated: Ref.Ref<number>
  /** Queues `times` failures with `error` for `operation` (any operation when not given). */
  readonly failNext: (error: ArmError, options?: { readonly times?: number; readonly operation?: AmlfsOperation }) => Effect.Effect<void>
  /** How many calls of `operation` the fake saw (for one filesystem name when given, case-insensitively). */
  readonly count: (operation: AmlfsOperation, name?: string) => Effect.Effect<number>
  /** PUTs, GETs and DELETEs per filesystem name as sent, shaped like the emulator's counters. */
  readonly counters: Effect.Effect<FakeCounters>
  /** The state of a filesystem now; "Gone" when absent. */
  readonly stateOf: (resourceGroup: string, name: string) => Effect.Effect<FakeState>
  /** Adds a filesystem as if it had been created outside the test. */
  readonly seed: (seed: FakeSeed) => Effect.Effect<void>
}>()("azurelustre/azure/AmlfsApiFake") {
  static readonly layer = (options: AmlfsApiFakeOptions = {}): Layer.Layer<AmlfsApi | AmlfsApiFake> =>
    Layer.effect(AmlfsApi, Effect.gen(function*() {
      const fake = yield* AmlfsApiFake
      for (const seed of options.filesystems ?? []) yield* fake.seed(seed)
      return makeApi(fake)
    })).pipe(Layer.provideMerge(Layer.effect(AmlfsApiFake, makeFake(options))))
}

export type Fake = Context.Service.Shape<typeof AmlfsApiFake>

const makeFake = (options: AmlfsApiFakeOptions) =>
  Effect.gen(function*() {
    const filesystems = yield* Ref.make<ReadonlyMap<string, FakeFilesystem>>(new Map())
    const calls = yield* Ref.make<ReadonlyArray<AmlfsCall>>([])
    const failures = yield* Ref.make<ReadonlyArray<ScriptedFailure>>(options.failures ?? [])
    const createDurationMillis = yield* Ref.make(options.createDurationMillis ?? DEFAULT_CREATE_MILLIS)
    const deleteDurationMillis = yield* Ref.make(options.deleteDurationMillis ?? DEFAULT_DELETE_MILLIS)
    const addressesAllocated = yield* Ref.make(0)
    const nextExpansions = yield* Ref.make<ReadonlyArray<FakeExpansionOutcome>>(options.nextExpansions ?? [])
    const nextImports = yield* Ref.make<ReadonlyArray<ImportOutcome>>([])
    const nextArchives = yield* Ref.make<ReadonlyArray<ArchiveOutcome>>([])
    const failNextCreates = yield* Ref.make<ReadonlyArray<FakeOperationError>>(
      typeof options.failNextCreates === "number"
        ? Array.from({ length: options.failNextCreates }, () => DEFAULT_CREATE_FAILURE)
        : options.failNextCreates ?? []
    )

    const fake: Fake = {
      filesystems,
      skus: yield* Ref.make(options.skus ?? defaultFakeSkus),
      failures,
      failNextCreates,
      failNextCreate: (error = DEFAULT_CREATE_FAILURE) => Ref.update(failNextCreates, (queued) => [...queued, error]),
      hsmTimings: yield* Ref.make<HsmTimings>({ ...DEFAULT_HSM_TIMINGS, ...options.hsmTimings }),
      nextImports,
      failNextImport: (message = importFailedMessage) =>
        Ref.update(nextImports, (queued): ReadonlyArray<ImportOutcome> => [...queued, { _tag: "Failed", message }]),
      partialNextImport: (errors = 1, message = importPartialMessage(errors)) =>
        Ref.update(nextImports, (queued): ReadonlyArray<ImportOutcome> => [...queued, { _tag: "CompletedPartial", errors, message }]),
      nextArchives,
      failNextArchive: (error = archiveFailedError) =>
        Ref.update(nextArchives, (queued): ReadonlyArray<ArchiveOutcome> => [...queued, { _tag: "Failed", code: error.code, message: error.message }]),
      operations: yield* Ref.make<ReadonlyMap<string, FakeOperation>>(new Map()),
      filesystemQuota: yield* Ref.make<number | undefined>(options.filesystemQuota),
      defaultSubnetFreeAddresses: yield* Ref.make(options.defaultSubnetFreeAddresses ?? DEFAULT_SUBNET_FREE_ADDRESSES),
      subnetFreeAddresses: yield* Ref.make<ReadonlyMap<string, number>>(
        new Map(Object.entries(options.subnetFreeAddresses ?? {}).map(([id, n]) => [id.toLowerCase(), n]))
      ),
      createDurationMillis,
      deleteDurationMillis,
      expansionDurationMillis: yield* Ref.make(options.expansionDurationMillis ?? DEFAULT_EXPANSION_MILLIS),
      rollbackDurationMillis: yield* Ref.make(options.rollbackDurationMillis ?? DEFAULT_ROLLBACK_MILLIS),
      nextExpansions,
      failNextExpansion: (error = DEFAULT_EXPANSION_FAILED) =>
        Ref.update(nextExpansions, (queued): ReadonlyArray<FakeExpansionOutcome> => [...queued, { _tag: "Failed", code: error.code, message: error.message }]),
      rollBackNextExpansion: (error = DEFAULT_EXPANSION_ROLLED_BACK) =>
        Ref.update(nextExpansions, (queued): ReadonlyArray<FakeExpansionOutcome> => [
          ...queued,
          { _tag: "RolledBack", code: error.code, message: error.message }
        ]),
      calls,
      addressesAllocated,
      failNext: (error, { operation, times = 1 } = {}) =>
        Ref.update(failures, (queued) => [...queued, ...Array.from({ length: times }, () => ({ error, operation }))]),
      count: (operation, name) =>
        Effect.map(
          Ref.get(calls),
          (all) =>
            all.filter((call) =>
              call.operation === operation &&
              (name === undefined || call.name?.toLowerCase() === name.toLowerCase())
            ).length
        ),
      counters: Effect.map(Ref.get(calls), (all) => ({
        putsByName: tally(all, "beginCreate"),
        getsByName: tally(all, "get"),
        deletesByName: tally(all, "beginDelete"),
        expansionPutsByFilesystem: tally(all, "beginExpansion"),
        jobPutsByFilesystem: tally(all, "beginImportJob", "beginAutoExportJob", "beginAutoImportJob"),
        archivesByFilesystem: tally(all, "archive")
      })),
      stateOf: (resourceGroup, name) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const fs = (yield* Ref.get(filesystems)).get(keyOf(resourceGroup, name))
          return fs === undefined ? "Gone" : provisioningStateAt(fs, now)
        }),
      seed: (seed) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const createMillis = yield* Ref.get(createDurationMillis)
          const deleteMillis = yield* Ref.get(deleteDurationMillis)
          const state = seed.state ?? "Succeeded"
          const mgsAddress = yield* allocateMgsAddress(fake)
          const fs: FakeFilesystem = {
            resourceGroup: seed.resourceGroup,
            name: seed.name,
            spec: {
              location: "eastus",
              skuName: "AMLFS-Durable-Premium-125",
              storageCapacityTiB: 16,
              filesystemSubnet: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/${seed.resourceGroup}` +
                `/providers/Microsoft.Network/virtualNetworks/vnet/subnets/amlfs`,
              zones: [],
              maintenanceWindow: { dayOfWeek: "Saturday", timeOfDayUTC: "22:00" },
              tags: {},
              identities: [],
              ...seed.spec
            },
            createdAtMillis: now,
            createEndsAtMillis: state === "Creating" ? now + createMillis : now,
            outcome: state === "Failed" ? "Failed" : "Succeeded",
            failedHealthDescription: DEFAULT_CREATE_FAILURE.message,
            operationId: undefined,
            mgsAddress,
            deleteEndsAtMillis: state === "Deleting" ? now + deleteMillis : undefined,
            provisionedWhenDeleted: state === "Deleting",
            expansions: [],
            ...(seed.spec?.hsm === undefined ? {} : { hsm: emptyHsm(seed.spec.hsm) })
          }
          yield* Ref.update(filesystems, (all) => new Map(all).set(keyOf(seed.resourceGroup, seed.name), fs))
        })
    }
    return fake
  })

const emptyHsm = (settings: NonNullable<AmlFilesystemSpec["hsm"]>): FakeHsmState => ({
  settings,
  importJobs: [],
  autoExportJobs: [],
  autoImportJobs: [],
  archives: []
})

const toAmlFilesystem = (fs: FakeFilesystem, state: Exclude<FakeState, "Gone">, now: number, timings: HsmTimings): AmlFilesystem => ({
  name: fs.name,
  resourceGroup: fs.resourceGroup,
  location: fs.spec.location,
  tags: fs.spec.tags,
  skuName: fs.spec.skuName,
  zones: fs.spec.zones,
  storageCapacityTiB: fs.spec.storageCapacityTiB,
  currentStorageCapacityTiB: currentCapacityAt(fs, now),
  provisioningState: state,
  health: state === "Succeeded" && runningExpansionAt(fs, now) !== undefined
    ? { state: "Expanding", description: "amlFilesystem is expanding." }
    : state === "Succeeded"
    ? { state: "Available", description: "amlFilesystem is ok." }
    : state === "Failed"
    ? { state: "Unavailable", description: fs.failedHealthDescription }
    : { state: "Transitioning", description: "amlFilesystem is transitioning." },
  mgsAddress: state === "Succeeded" || (state === "Deleting" && fs.provisionedWhenDeleted === true) ? fs.mgsAddress : undefined,
  filesystemSubnet: fs.spec.filesystemSubnet,
  createdAt: new Date(fs.createdAtMillis),
  hsm: fs.hsm === undefined
    ? undefined
    : {
      ...fs.hsm.settings,
      importPrefixesInitial: effectivePrefixes(fs.hsm.settings.importPrefixesInitial),
      archiveStatus: fs.hsm.archives.map((archive) => archiveStatusAt(archive, now, timings))
    }
})

/** What a PUT's spec asks that the SKU list cannot give, as the emulator refuses it; undefined when it fits. */
const specProblem = (skus: ReadonlyArray<AmlfsSku>, spec: AmlFilesystemSpec): FakeOperationError | undefined => {
  const inLocation = skus.filter((sku) => sku.location.toLowerCase() === spec.location.replace(/\s+/g, "").toLowerCase())
  if (inLocation.length === 0) {
    return {
      code: "LocationNotAvailableForResourceType",
      message: `The provided location '${spec.location}' is not available for resource type 'Microsoft.StorageCache/amlFilesystems'. ` +
        `List of available regions for the resource type is '${[...new Set(skus.map((s) => s.location))].join(",")}'.`
    }
  }
  const sku = inLocation.find((s) => s.name.toLowerCase() === spec.skuName.toLowerCase())
  if (sku === undefined) {
    return {
      code: "InvalidSku",
      message: `The SKU '${spec.skuName}' is not available for AML file systems. Available SKUs: ${inLocation.map((s) => s.name).join(", ")}.`
    }
  }
  const tib = spec.storageCapacityTiB
  if (!(tib > 0) || tib % sku.incrementTiB !== 0 || tib > sku.maximumTiB) {
    return {
      code: "InvalidParameter",
      message: `The storage capacity ${tib} TiB is not valid for SKU ${sku.name}: it must be a multiple of ${sku.incrementTiB} TiB, ` +
        `from ${sku.incrementTiB} to ${sku.maximumTiB} TiB.`
    }
  }
  if (spec.zones.length > 1) return { code: "InvalidParameter", message: "The property 'zones' should only contain a single element." }
  const hsmProblem = spec.hsm === undefined ? undefined : hsmSettingsProblem(spec.hsm)
  if (hsmProblem !== undefined) return { code: "InvalidParameter", message: hsmProblem }
  const zone = spec.zones[0]
  if (zone !== undefined && !sku.zones.includes(zone)) {
    return {
      code: "InvalidAvailabilityZone",
      message: sku.zones.length === 0
        ? `The location '${sku.location}' does not support availability zones for AML file systems.`
        : `The zone '${zone}' is not available in '${sku.location}': available zones are ${sku.zones.join(", ")}.`
    }
  }
  return undefined
}

/** The next MGS address: 10.0.0.4, 10.0.1.4, ... in creation order, never reused. */
const allocateMgsAddress = (fake: Fake) =>
  Ref.modify(fake.addressesAllocated, (n): [string, number] => [`10.${Math.floor(n / 256) % 256}.${n % 256}.4`, n + 1])

const makeApi = (fake: Fake) => {
  /** One call at a time, as if ARM handled the requests in order: each call is atomic. */
  const serial = Semaphore.makeUnsafe(1)
  const oneAtATime = <A, E, R>(self: Effect.Effect<A, E, R>) => serial.withPermit(self)

  /** Records the call, drops filesystems whose deletion finished, and takes a scripted failure. */
  const begin = (operation: AmlfsOperation, resourceGroup?: string, name?: string, job?: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const failure = yield* Ref.modify(fake.failures, (queued): [ScriptedFailure | undefined, ReadonlyArray<ScriptedFailure>] => {
        const at = queued.findIndex((f) => f.operation === undefined || f.operation === operation)
        return at < 0 ? [undefined, queued] : [queued[at], [...queued.slice(0, at), ...queued.slice(at + 1)]]
      })
      const call: AmlfsCall = {
        operation,
        resourceGroup,
        name,
        atMillis: now,
        ...(job === undefined ? {} : { job }),
        ...(failure === undefined ? {} : { failedByScript: true as const })
      }
      yield* Ref.update(fake.calls, (calls) => [...calls, call])
      if (failure !== undefined) {
        const error = failure.error
        // A scripted error is named after the call it answers, as the live layer names its errors.
        return yield* Effect.fail(
          error.operation === "scripted"
            ? new ArmError({
              operation: armOperationOf[operation],
              statusCode: error.statusCode,
              code: error.code,
              message: error.message,
              retryAfterMillis: error.retryAfterMillis
            })
            : error
        )
      }
      yield* Ref.update(fake.filesystems, (all) => {
        const gone = [...all].filter(([, fs]) => provisioningStateAt(fs, now) === "Gone")
        if (gone.length === 0) return all
        const kept = new Map(all)
        for (const [key] of gone) kept.delete(key)
        return kept
      })
      return now
    })

  /**
   * The import a creation with hsm.settings starts once it succeeds, as AMLFS does with
   * importPrefixesInitial (ARM's default "/"): Skip conflicts, any number of errors.
   */
  const initialImportOf = (spec: AmlFilesystemSpec, createEndsAtMillis: number) =>
    Effect.gen(function*() {
      const timings = yield* Ref.get(fake.hsmTimings)
      const outcome = yield* Ref.modify(fake.nextImports, (queued): [ImportOutcome, ReadonlyArray<ImportOutcome>] => [
        queued[0] ?? { _tag: "Completed" },
        queued.slice(1)
      ])
      const job: ImportJobRecord = {
        name: INITIAL_IMPORT_JOB_NAME,
        location: spec.location,
        importPrefixes: effectivePrefixes(spec.hsm?.importPrefixesInitial ?? []),
        conflictResolutionMode: "Skip",
        maximumErrors: -1,
        startedAt: createEndsAtMillis,
        runEndsAt: createEndsAtMillis + timings.importMillis,
        outcome,
        cancelRequestedAt: undefined,
        walk: undefined
      }
      return job
    })

  const findSku = (skuName: string) =>
    Effect.map(Ref.get(fake.skus), (skus) => skus.find((sku) => sku.name.toLowerCase() === skuName.toLowerCase()))

  /** Free addresses left in a subnet once the fake's filesystems (but `excludingKey`) took theirs. */
  const freeAddresses = (subnetId: string, excludingKey?: string) =>
    Effect.gen(function*() {
      const configured = (yield* Ref.get(fake.subnetFreeAddresses)).get(subnetId.toLowerCase()) ??
        (yield* Ref.get(fake.defaultSubnetFreeAddresses))
      const skus = yield* Ref.get(fake.skus)
      let used = 0
      for (const [key, fs] of yield* Ref.get(fake.filesystems)) {
        if (key === excludingKey || fs.spec.filesystemSubnet.toLowerCase() !== subnetId.toLowerCase()) continue
        const sku = skus.find((s) => s.name.toLowerCase() === fs.spec.skuName.toLowerCase())
        if (sku !== undefined) used += requiredSubnetAddresses(sku.incrementTiB, fs.spec.storageCapacityTiB)
      }
      return Math.max(0, configured - used)
    })

  const get = Effect.fn("AmlfsApiFake.get")(function*(resourceGroup: string, name: string) {
    const now = yield* begin("get", resourceGroup, name)
    const fs = (yield* Ref.get(fake.filesystems)).get(keyOf(resourceGroup, name))
    if (fs === undefined) return Option.none<AmlFilesystem>()
    const state = provisioningStateAt(fs, now)
    return state === "Gone" ? Option.none<AmlFilesystem>() : Option.some(toAmlFilesystem(fs, state, now, yield* Ref.get(fake.hsmTimings)))
  }, oneAtATime)

  const subnetRefusal = Effect.fnUntraced(function*(subnetId: string, skuName: string, storageCapacityTiB: number, excludingKey?: string) {
    const sku = yield* findSku(skuName)
    if (sku === undefined) return undefined
    const required = requiredSubnetAddresses(sku.incrementTiB, storageCapacityTiB)
    const free = yield* freeAddresses(subnetId, excludingKey)
    return required <= free ? undefined : `The subnet '${subnetId}' does not have enough available IP addresses for an AML file system of ` +
      `${storageCapacityTiB} TiB with SKU ${sku.name}: ${required} are required, ${free} are available.`
  })

  /** The operation a creation reads through; one GET per read, as ARM's. */
  const operationOf = (id: string): ArmOperation => ({
    read: Effect.gen(function*() {
      const now = yield* begin("getOperation")
      const op = (yield* Ref.get(fake.operations)).get(id)
      if (op === undefined) return yield* armError("getAsyncOperation", 404, "NotFound", `The operation '${id}' was not found.`)
      const status = operationStatusAt(op, now)
      return { status, error: status === "Failed" ? op.error : undefined }
    }).pipe(oneAtATime)
  })

  const beginCreate = Effect.fn("AmlfsApiFake.beginCreate")(function*(resourceGroup: string, name: string, spec: AmlFilesystemSpec) {
    const now = yield* begin("beginCreate", resourceGroup, name)
    const operation = "createAmlFilesystem"
    if (!namePattern.test(name)) return yield* invalidName(operation, name)
    const problem = specProblem(yield* Ref.get(fake.skus), spec)
    if (problem !== undefined) return yield* armError(operation, 400, problem.code, problem.message)
    const all = yield* Ref.get(fake.filesystems)
    const key = keyOf(resourceGroup, name)
    const existing = all.get(key)
    const state = existing === undefined ? "Gone" : provisioningStateAt(existing, now)
    switch (state) {
      case "Creating":
      case "Deleting":
        return yield* armError(
          operation,
          409,
          "Conflict",
          `The AML file system '${existing?.name ?? name}' is busy: an operation is in progress (provisioningState ${state}). ` +
            "Retry the request after it completes."
        )
      case "Succeeded": {
        if (existing === undefined) return Option.none<ArmOperation>()
        if (changedImmutableFields(existing.spec, spec).length > 0) {
          return yield* armError(
            operation,
            400,
            "PropertyChangeNotAllowed",
            `The AML file system '${existing.name}' exists with a different location, SKU, storage capacity, subnet, zones or identity; ` +
              "those cannot be changed."
          )
        }
        const updated = { ...existing, spec: { ...existing.spec, tags: spec.tags, maintenanceWindow: spec.maintenanceWindow } }
        yield* Ref.set(fake.filesystems, new Map(all).set(key, updated))
        return Option.none<ArmOperation>()
      }
      case "Gone":
      case "Failed": {
        const quota = yield* Ref.get(fake.filesystemQuota)
        if (existing === undefined && quota !== undefined && all.size >= quota) {
          return yield* armError(
            operation,
            409,
            "QuotaExceeded",
            `${QUOTA_MESSAGE}. Maximum allowed: ${quota}, Current in use: ${all.size}, Additional requested: 1. Please request a quota increase.`
          )
        }
        const refusal = yield* subnetRefusal(spec.filesystemSubnet, spec.skuName, spec.storageCapacityTiB, key)
        if (refusal !== undefined) return yield* armError(operation, 400, "InvalidSubnet", refusal)
        const error = yield* Ref.modify(
          fake.failNextCreates,
          (queued): [FakeOperationError | undefined, ReadonlyArray<FakeOperationError>] => [queued[0], queued.slice(1)]
        )
        const endsAtMillis = now + (yield* Ref.get(fake.createDurationMillis))
        const initialImport = spec.hsm === undefined || error !== undefined ? undefined : yield* initialImportOf(spec, endsAtMillis)
        const id = `${key}/${now}/${(yield* Ref.get(fake.operations)).size}`
        yield* Ref.update(fake.operations, (ops) =>
          new Map(ops).set(id, { id, filesystemKey: key, endsAtMillis, error, canceledAtMillis: undefined }))
        const attempt: FakeFilesystem = {
          resourceGroup: existing?.resourceGroup ?? resourceGroup,
          name: existing?.name ?? name,
          spec,
          createdAtMillis: existing?.createdAtMillis ?? now,
          createEndsAtMillis: endsAtMillis,
          outcome: error === undefined ? "Succeeded" : "Failed",
          failedHealthDescription: "",
          operationId: id,
          mgsAddress: existing?.mgsAddress ?? (yield* allocateMgsAddress(fake)),
          deleteEndsAtMillis: undefined,
          expansions: [],
          ...(spec.hsm === undefined ? {} : { hsm: { ...emptyHsm(spec.hsm), importJobs: initialImport === undefined ? [] : [initialImport] } })
        }
        yield* Ref.set(fake.filesystems, new Map(all).set(key, attempt))
        return Option.some(operationOf(id))
      }
    }
  }, oneAtATime)

  const beginDelete = Effect.fn("AmlfsApiFake.beginDelete")(function*(resourceGroup: string, name: string) {
    const now = yield* begin("beginDelete", resourceGroup, name)
    const deleteMillis = yield* Ref.get(fake.deleteDurationMillis)
    const key = keyOf(resourceGroup, name)
    const existing = (yield* Ref.get(fake.filesystems)).get(key)
    if (existing === undefined) return
    const state = provisioningStateAt(existing, now)
    if (state === "Gone" || state === "Deleting") return
    yield* Ref.update(fake.filesystems, (all) =>
      new Map(all).set(key, { ...existing, deleteEndsAtMillis: now + deleteMillis, provisionedWhenDeleted: state === "Succeeded" }))
    const running = existing.operationId
    if (state === "Creating" && running !== undefined) {
      yield* Ref.update(fake.operations, (ops) => {
        const op = ops.get(running)
        return op === undefined ? ops : new Map(ops).set(running, { ...op, canceledAtMillis: now })
      })
    }
  }, oneAtATime)

  const toExpansionJob = (job: FakeExpansionJob, now: number): ExpansionJob => {
    const status = expansionStatusAt(job, now)
    const error = job.outcome._tag === "Completed" ? undefined : job.outcome
    const span = Math.max(1, job.runEndsAtMillis - job.startedAtMillis)
    return {
      name: job.name,
      newStorageCapacityTiB: job.newStorageCapacityTiB,
      status,
      statusCode: status === "InProgress" ? undefined : error?.code,
      statusMessage: status === "InProgress"
        ? undefined
        : status === "Completed"
        ? "Expansion completed successfully"
        : status === "RollingBack"
        ? `Rolling back: ${error?.message ?? ""}`
        : error?.message,
      percentComplete: status === "Completed"
        ? 100
        : status === "InProgress"
        ? Math.min(99, Math.floor((100 * (now - job.startedAtMillis)) / span))
        : Math.min(99, Math.floor((100 * (job.runEndsAtMillis - job.startedAtMillis)) / span)),
      provisioningState: status === "Completed" ? "Succeeded" : status === "Failed" ? "Failed" : "Creating",
      startTime: new Date(job.startedAtMillis),
      completionTime: status === "Completed"
        ? new Date(job.runEndsAtMillis)
        : status === "Failed"
        ? new Date(job.outcome._tag === "RolledBack" ? job.rollbackEndsAtMillis : job.runEndsAtMillis)
        : undefined
    }
  }

  const getExpansionJob = Effect.fn("AmlfsApiFake.getExpansionJob")(function*(resourceGroup: string, filesystemName: string, jobName: string) {
    const now = yield* begin("getExpansionJob", resourceGroup, filesystemName, jobName)
    const fs = (yield* Ref.get(fake.filesystems)).get(keyOf(resourceGroup, filesystemName))
    const job = fs?.expansions.find((j) => j.name.toLowerCase() === jobName.toLowerCase())
    return job === undefined ? Option.none<ExpansionJob>() : Option.some(toExpansionJob(job, now))
  }, oneAtATime)

  const listExpansionJobs = Effect.fn("AmlfsApiFake.listExpansionJobs")(function*(resourceGroup: string, filesystemName: string) {
    const now = yield* begin("listExpansionJobs", resourceGroup, filesystemName)
    const fs = (yield* Ref.get(fake.filesystems)).get(keyOf(resourceGroup, filesystemName))
    if (fs === undefined) {
      return yield* armError(
        "listExpansionJobs",
        404,
        "ParentResourceNotFound",
        `The parent resource 'Microsoft.StorageCache/amlFilesystems/${filesystemName}' under resource group '${resourceGroup}' was not found.`
      )
    }
    const jobs: ReadonlyArray<ExpansionJob> = fs.expansions.map((job) => toExpansionJob(job, now))
    return jobs
  }, oneAtATime)

  const beginExpansion = Effect.fn("AmlfsApiFake.beginExpansion")(function*(
    resourceGroup: string,
    filesystemName: string,
    jobName: string,
    newStorageCapacityTiB: number,
    location: string
  ) {
    const now = yield* begin("beginExpansion", resourceGroup, filesystemName, jobName)
    const operation = "createExpansionJob"
    const invalid = (message: string) => armError(operation, 400, "InvalidParameter", message)
    const conflict = (message: string) => armError(operation, 409, "Conflict", message)
    if (!namePattern.test(jobName)) return yield* invalidName(operation, jobName)
    const all = yield* Ref.get(fake.filesystems)
    const key = keyOf(resourceGroup, filesystemName)
    const fs = all.get(key)
    if (fs === undefined) {
      return yield* armError(
        operation,
        404,
        "ParentResourceNotFound",
        `The parent resource 'Microsoft.StorageCache/amlFilesystems/${filesystemName}' under resource group '${resourceGroup}' was not found.`
      )
    }
    if (location.replace(/\s+/g, "").toLowerCase() !== fs.spec.location.replace(/\s+/g, "").toLowerCase()) {
      return yield* invalid(`The location '${location}' of the expansion job must be the location of the AML file system, '${fs.spec.location}'.`)
    }
    const existing = fs.expansions.find((j) => j.name.toLowerCase() === jobName.toLowerCase())
    if (existing !== undefined) {
      if (existing.newStorageCapacityTiB === newStorageCapacityTiB) return
      return yield* armError(
        operation,
        400,
        "PropertyChangeNotAllowed",
        `The expansion job '${existing.name}' exists with newStorageCapacityTiB ${existing.newStorageCapacityTiB}; it cannot be changed to ${newStorageCapacityTiB}. Use a new job name.`
      )
    }
    const sku = yield* findSku(fs.spec.skuName)
    const step = sku?.incrementTiB ?? 1
    if (!(newStorageCapacityTiB > 0) || newStorageCapacityTiB % step !== 0) {
      return yield* invalid(
        `The new storage capacity ${newStorageCapacityTiB} TiB is not valid for SKU ${fs.spec.skuName}: it must be a multiple of the SKU step size, ${step} TiB.`
      )
    }
    if (sku !== undefined && newStorageCapacityTiB > sku.maximumTiB) {
      return yield* invalid(`The new storage capacity ${newStorageCapacityTiB} TiB exceeds the maximum of ${sku.maximumTiB} TiB for SKU ${sku.name}.`)
    }
    const state = provisioningStateAt(fs, now)
    if (state !== "Succeeded") {
      return yield* conflict(`The AML file system '${fs.name}' cannot be expanded while its provisioningState is ${state}.`)
    }
    const running = runningExpansionAt(fs, now)
    if (running !== undefined) {
      return yield* conflict(
        `The AML file system '${fs.name}' is already being expanded by expansion job '${running.name}' (${expansionStatusAt(running, now)}). Retry after it completes.`
      )
    }
    const current = currentCapacityAt(fs, now)
    if (newStorageCapacityTiB <= current) {
      return yield* invalid(
        `The new storage capacity ${newStorageCapacityTiB} TiB must be greater than the current storage capacity of the AML file system, ${current} TiB.`
      )
    }
    const outcome = yield* Ref.modify(
      fake.nextExpansions,
      (queued): [FakeExpansionOutcome, ReadonlyArray<FakeExpansionOutcome>] => [queued[0] ?? { _tag: "Completed" }, queued.slice(1)]
    )
    const runEndsAtMillis = now + (yield* Ref.get(fake.expansionDurationMillis))
    const job: FakeExpansionJob = {
      name: jobName,
      newStorageCapacityTiB,
      startedAtMillis: now,
      runEndsAtMillis,
      rollbackEndsAtMillis: outcome._tag === "RolledBack" ? runEndsAtMillis + (yield* Ref.get(fake.rollbackDurationMillis)) : runEndsAtMillis,
      outcome
    }
    yield* Ref.set(fake.filesystems, new Map(all).set(key, { ...fs, expansions: [...fs.expansions, job] }))
  }, oneAtATime)

  const listSkus = Effect.fn("AmlfsApiFake.listSkus")(function*(location: string) {
    yield* begin("listSkus")
    const skus = yield* Ref.get(fake.skus)
    return skus.filter((sku) => sku.location.toLowerCase() === location.replace(/\s+/g, "").toLowerCase())
  }, oneAtATime)

  /** The SKU and capacity of a subnet query, refused as the emulator refuses them. */
  const subnetQuery = Effect.fnUntraced(function*(operation: string, skuName: string, storageCapacityTiB: number) {
    const sku = yield* findSku(skuName)
    if (sku === undefined) {
      return yield* armError(operation, 400, "InvalidSku", `The SKU '${skuName}' is not available for AML file systems.`)
    }
    if (!(storageCapacityTiB > 0) || storageCapacityTiB % sku.incrementTiB !== 0 || storageCapacityTiB > sku.maximumTiB) {
      return yield* armError(
        operation,
        400,
        "InvalidParameter",
        `The storage capacity ${storageCapacityTiB} TiB is not valid for SKU ${sku.name}: it must be a multiple of ${sku.incrementTiB} TiB, ` +
          `from ${sku.incrementTiB} to ${sku.maximumTiB} TiB.`
      )
    }
    return sku
  })

  const requiredSubnetSize = Effect.fn("AmlfsApiFake.requiredSubnetSize")(function*(skuName: string, storageCapacityTiB: number) {
    yield* begin("requiredSubnetSize")
    const sku = yield* subnetQuery("getRequiredAmlFSSubnetsSize", skuName, storageCapacityTiB)
    return requiredSubnetAddresses(sku.incrementTiB, storageCapacityTiB)
  }, oneAtATime)

  const checkSubnet = Effect.fn("AmlfsApiFake.checkSubnet")(
    function*(subnetId: string, skuName: string, storageCapacityTiB: number, _location: string) {
      yield* begin("checkSubnet")
      yield* subnetQuery("checkAmlFSSubnets", skuName, storageCapacityTiB)
      const refusal = yield* subnetRefusal(subnetId, skuName, storageCapacityTiB)
      if (refusal !== undefined) return yield* new SubnetRefused({ subnetId, message: refusal })
    },
    oneAtATime
  )

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
    ...makeHsmApi({ fake, begin, oneAtATime, stateAt: provisioningStateAt })
  })
}
