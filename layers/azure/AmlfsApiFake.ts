import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Semaphore from "effect/Semaphore"
import {
  type AmlFilesystem,
  type AmlfsSku,
  AmlfsApi,
  type AmlFilesystemSpec,
  ArmError,
  type ExpansionJob,
  SubnetRefused
} from "./AmlfsApi.js"

/**
 * A deterministic, in-memory AmlfsApi for unit and model-based tests.
 *
 * What it fakes, and how honestly:
 * - Time is virtual: a creation started at t is Creating until t + createDurationMillis, then
 *   Succeeded (or Failed when scripted); a deletion is Deleting for deleteDurationMillis, then
 *   the filesystem is gone. Every call computes the state from `Clock.currentTimeMillis`, so
 *   `TestClock.adjust` drives it. Nothing runs in the background.
 * - The rules follow the ARM emulator (ArmEmulatorState.ts), so a test means the same through
 *   either: a PUT over a Creating or Deleting filesystem is 409 Conflict; a PUT over a Succeeded
 *   one with the same immutable fields (location, SKU, capacity, subnet, zones, identities) is a
 *   no-op success that takes the new tags and maintenance window, with other immutable fields a
 *   409 Conflict; a PUT over a Failed one starts a new attempt (same MGS address); a DELETE of an
 *   absent filesystem succeeds (the interface counts 404 as done), of a Creating one cancels the
 *   creation and deletes, of a Deleting one changes nothing.
 * - A PUT is checked against the SKU list: an unknown SKU or location, a zone not offered, or a
 *   capacity that is not a multiple of the increment within the maximum is 400 InvalidParameter.
 *   ARM does more (subnet delegation, identities, policies): the fake checks none of that.
 * - Quota: at most `filesystemQuota` filesystems (all states) exist at once; one more is 409
 *   with ARM's "Operation results in exceeding quota limits of resource type AmlFilesystem".
 * - Subnets: each has `subnetFreeAddresses` (default 251, a /24 minus Azure's 5) before the
 *   fake's filesystems in it take theirs; a filesystem needs `requiredSubnetAddresses`, which is
 *   the emulator's stand-in, NOT ARM's unpublished formula. Only `checkSubnet` looks at room: a
 *   PUT into a full subnet is accepted, as the driver is expected to check first.
 * - Faults are scripted, not random: `failures` is a queue of ArmErrors; each call takes the
 *   first one aimed at its operation (or at any) and fails with it. `failNextCreates` makes the
 *   next N creations end Failed.
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

/** One call the fake saw, at a virtual time. `name` is the filesystem name for the filesystem and expansion calls. */
export interface AmlfsCall {
  readonly operation: AmlfsOperation
  readonly resourceGroup: string | undefined
  readonly name: string | undefined
  readonly atMillis: number
  /** The expansion job, for getExpansionJob and beginExpansion. */
  readonly job?: string
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

/** A filesystem as the fake keeps it; its state at a time is `provisioningStateAt`. */
export interface FakeFilesystem {
  readonly resourceGroup: string
  readonly name: string
  readonly spec: AmlFilesystemSpec
  readonly createdAtMillis: number
  /** When the current creation attempt ends. */
  readonly createEndsAtMillis: number
  readonly outcome: "Succeeded" | "Failed"
  readonly mgsAddress: string
  /** When a deletion was accepted, and when it ends; undefined while none is. */
  readonly deleteEndsAtMillis: number | undefined
  /** Its expansion jobs, oldest first. */
  readonly expansions: ReadonlyArray<FakeExpansionJob>
}

export type FakeState = "Creating" | "Succeeded" | "Failed" | "Deleting" | "Gone"

export const provisioningStateAt = (fs: FakeFilesystem, now: number): FakeState =>
  fs.deleteEndsAtMillis !== undefined
    ? now >= fs.deleteEndsAtMillis ? "Gone" : "Deleting"
    : now < fs.createEndsAtMillis
    ? "Creating"
    : fs.outcome

/** The SKUs of the ARM emulator: the documented increments and maxima, zonal in eastus only. */
const skuTable = [
  { name: "AMLFS-Durable-Premium-40", incrementTiB: 48, maximumTiB: 768 },
  { name: "AMLFS-Durable-Premium-125", incrementTiB: 16, maximumTiB: 128 },
  { name: "AMLFS-Durable-Premium-250", incrementTiB: 8, maximumTiB: 128 },
  { name: "AMLFS-Durable-Premium-500", incrementTiB: 4, maximumTiB: 128 }
] as const

export const defaultFakeSkus: ReadonlyArray<AmlfsSku> = [
  ...skuTable.map((sku) => ({ ...sku, location: "eastus", zones: ["1", "2", "3"] })),
  ...skuTable.map((sku) => ({ ...sku, location: "westus", zones: [] }))
]

/** A /24 minus the 5 addresses Azure reserves. */
export const DEFAULT_SUBNET_FREE_ADDRESSES = 251
export const DEFAULT_CREATE_MILLIS = 10 * 60_000
export const DEFAULT_DELETE_MILLIS = 2 * 60_000
export const DEFAULT_EXPANSION_MILLIS = 20 * 60_000
export const DEFAULT_ROLLBACK_MILLIS = 5 * 60_000

/** The emulator's stand-in for ARM's subnet sizing: 8 plus 2 per capacity increment. */
export const requiredSubnetAddresses = (incrementTiB: number, storageCapacityTiB: number): number =>
  8 + 2 * Math.max(1, Math.ceil(storageCapacityTiB / incrementTiB))

export const QUOTA_MESSAGE = "Operation results in exceeding quota limits of resource type AmlFilesystem"

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
  ...(sameSet(a.identities, b.identities) ? [] : ["identity"])
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
}

const tally = (calls: ReadonlyArray<AmlfsCall>, operation: AmlfsOperation): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const call of calls) {
    if (call.operation === operation && call.name !== undefined) counts[call.name] = (counts[call.name] ?? 0) + 1
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
  readonly failNextCreates?: number
  readonly filesystems?: ReadonlyArray<FakeSeed>
  readonly expansionDurationMillis?: number
  readonly rollbackDurationMillis?: number
  /** The outcomes of the next expansions, in order (then: Completed). */
  readonly nextExpansions?: ReadonlyArray<FakeExpansionOutcome>
}

export class AmlfsApiFake extends Context.Service<AmlfsApiFake, {
  /** By `<resource group>/<name>`, lower case (ARM names are case-insensitive); gone ones are pruned on the next call. */
  readonly filesystems: Ref.Ref<ReadonlyMap<string, FakeFilesystem>>
  readonly skus: Ref.Ref<ReadonlyArray<AmlfsSku>>
  readonly failures: Ref.Ref<ReadonlyArray<ScriptedFailure>>
  readonly failNextCreates: Ref.Ref<number>
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

type Fake = Context.Service.Shape<typeof AmlfsApiFake>

const makeFake = (options: AmlfsApiFakeOptions) =>
  Effect.gen(function*() {
    const filesystems = yield* Ref.make<ReadonlyMap<string, FakeFilesystem>>(new Map())
    const calls = yield* Ref.make<ReadonlyArray<AmlfsCall>>([])
    const failures = yield* Ref.make<ReadonlyArray<ScriptedFailure>>(options.failures ?? [])
    const createDurationMillis = yield* Ref.make(options.createDurationMillis ?? DEFAULT_CREATE_MILLIS)
    const deleteDurationMillis = yield* Ref.make(options.deleteDurationMillis ?? DEFAULT_DELETE_MILLIS)
    const addressesAllocated = yield* Ref.make(0)
    const nextExpansions = yield* Ref.make<ReadonlyArray<FakeExpansionOutcome>>(options.nextExpansions ?? [])

    const fake: Fake = {
      filesystems,
      skus: yield* Ref.make(options.skus ?? defaultFakeSkus),
      failures,
      failNextCreates: yield* Ref.make(options.failNextCreates ?? 0),
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
        expansionPutsByFilesystem: tally(all, "beginExpansion")
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
            mgsAddress,
            deleteEndsAtMillis: state === "Deleting" ? now + deleteMillis : undefined,
            expansions: []
          }
          yield* Ref.update(filesystems, (all) => new Map(all).set(keyOf(seed.resourceGroup, seed.name), fs))
        })
    }
    return fake
  })

const toAmlFilesystem = (fs: FakeFilesystem, state: Exclude<FakeState, "Gone">, now: number): AmlFilesystem => ({
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
    ? { state: "Unavailable", description: "An internal execution error occurred. Please retry later." }
    : { state: "Transitioning", description: "amlFilesystem is transitioning." },
  mgsAddress: state === "Succeeded" ? fs.mgsAddress : undefined,
  filesystemSubnet: fs.spec.filesystemSubnet,
  createdAt: new Date(fs.createdAtMillis)
})

/** What a PUT's spec asks that the SKU list cannot give; undefined when it fits. */
const specProblem = (skus: ReadonlyArray<AmlfsSku>, spec: AmlFilesystemSpec): string | undefined => {
  const inLocation = skus.filter((sku) => sku.location.toLowerCase() === spec.location.toLowerCase())
  if (inLocation.length === 0) return `The location '${spec.location}' is not available for resource type 'Microsoft.StorageCache/amlFilesystems'.`
  const sku = inLocation.find((s) => s.name.toLowerCase() === spec.skuName.toLowerCase())
  if (sku === undefined) return `The SKU '${spec.skuName}' is not available in location '${spec.location}'.`
  if (spec.zones.length > 1) return "zones should only contain a single element."
  const zone = spec.zones[0]
  if (zone !== undefined && !sku.zones.includes(zone)) {
    return `The zone '${zone}' is not available for SKU '${sku.name}' in location '${spec.location}'.`
  }
  const tib = spec.storageCapacityTiB
  if (!(tib > 0) || tib % sku.incrementTiB !== 0 || tib > sku.maximumTiB) {
    return `storageCapacityTiB ${tib} is invalid for SKU '${sku.name}': it must be a multiple of ${sku.incrementTiB} TiB, at most ${sku.maximumTiB} TiB.`
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
      const call: AmlfsCall = { operation, resourceGroup, name, atMillis: now, ...(job === undefined ? {} : { job }) }
      yield* Ref.update(fake.calls, (calls) => [...calls, call])
      yield* Ref.update(fake.filesystems, (all) => {
        const gone = [...all].filter(([, fs]) => provisioningStateAt(fs, now) === "Gone")
        if (gone.length === 0) return all
        const kept = new Map(all)
        for (const [key] of gone) kept.delete(key)
        return kept
      })
      const failure = yield* Ref.modify(fake.failures, (queued): [ScriptedFailure | undefined, ReadonlyArray<ScriptedFailure>] => {
        const at = queued.findIndex((f) => f.operation === undefined || f.operation === operation)
        return at < 0 ? [undefined, queued] : [queued[at], [...queued.slice(0, at), ...queued.slice(at + 1)]]
      })
      if (failure !== undefined) return yield* Effect.fail(failure.error)
      return now
    })

  const findSku = (skuName: string) =>
    Effect.map(Ref.get(fake.skus), (skus) => skus.find((sku) => sku.name.toLowerCase() === skuName.toLowerCase()))

  const freeAddresses = (subnetId: string) =>
    Effect.gen(function*() {
      const configured = (yield* Ref.get(fake.subnetFreeAddresses)).get(subnetId.toLowerCase()) ??
        (yield* Ref.get(fake.defaultSubnetFreeAddresses))
      const skus = yield* Ref.get(fake.skus)
      let used = 0
      for (const fs of (yield* Ref.get(fake.filesystems)).values()) {
        if (fs.spec.filesystemSubnet.toLowerCase() !== subnetId.toLowerCase()) continue
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
    return state === "Gone" ? Option.none<AmlFilesystem>() : Option.some(toAmlFilesystem(fs, state, now))
  }, oneAtATime)

  const beginCreate = Effect.fn("AmlfsApiFake.beginCreate")(function*(resourceGroup: string, name: string, spec: AmlFilesystemSpec) {
    const now = yield* begin("beginCreate", resourceGroup, name)
    const operation = "amlFilesystems.createOrUpdate"
    const conflict = (message: string) => armError(operation, 409, "Conflict", message)
    const problem = specProblem(yield* Ref.get(fake.skus), spec)
    if (problem !== undefined) return yield* armError(operation, 400, "InvalidParameter", problem)
    const all = yield* Ref.get(fake.filesystems)
    const key = keyOf(resourceGroup, name)
    const existing = all.get(key)
    const state = existing === undefined ? "Gone" : provisioningStateAt(existing, now)
    switch (state) {
      case "Creating":
      case "Deleting":
        return yield* conflict(
          `The AML file system '${name}' is ${state === "Creating" ? "being created" : "being deleted"} ` +
            `(provisioningState ${state}); another operation cannot start until it finishes.`
        )
      case "Succeeded": {
        if (existing === undefined) return
        const changed = changedImmutableFields(existing.spec, spec)
        if (changed.length > 0) {
          return yield* conflict(`The AML file system '${name}' exists with a different ${changed.join(", ")}, which cannot be updated.`)
        }
        const updated = { ...existing, spec: { ...existing.spec, tags: spec.tags, maintenanceWindow: spec.maintenanceWindow } }
        return yield* Ref.set(fake.filesystems, new Map(all).set(key, updated))
      }
      case "Gone":
      case "Failed": {
        const quota = yield* Ref.get(fake.filesystemQuota)
        if (existing === undefined && quota !== undefined && all.size >= quota) {
          return yield* armError(
            operation,
            409,
            "QuotaExceeded",
            `${QUOTA_MESSAGE}. Maximum allowed: ${quota}, Current in use: ${all.size}, Additional requested: 1.`
          )
        }
        const fails = yield* Ref.modify(fake.failNextCreates, (n): [boolean, number] => [n > 0, Math.max(0, n - 1)])
        const attempt: FakeFilesystem = {
          resourceGroup: existing?.resourceGroup ?? resourceGroup,
          name: existing?.name ?? name,
          spec,
          createdAtMillis: existing?.createdAtMillis ?? now,
          createEndsAtMillis: now + (yield* Ref.get(fake.createDurationMillis)),
          outcome: fails ? "Failed" : "Succeeded",
          mgsAddress: existing?.mgsAddress ?? (yield* allocateMgsAddress(fake)),
          deleteEndsAtMillis: undefined,
          expansions: []
        }
        return yield* Ref.set(fake.filesystems, new Map(all).set(key, attempt))
      }
    }
  }, oneAtATime)

  const beginDelete = Effect.fn("AmlfsApiFake.beginDelete")(function*(resourceGroup: string, name: string) {
    const now = yield* begin("beginDelete", resourceGroup, name)
    const deleteMillis = yield* Ref.get(fake.deleteDurationMillis)
    const key = keyOf(resourceGroup, name)
    yield* Ref.update(fake.filesystems, (all) => {
      const existing = all.get(key)
      if (existing === undefined) return all
      const state = provisioningStateAt(existing, now)
      if (state === "Gone" || state === "Deleting") return all
      return new Map(all).set(key, { ...existing, deleteEndsAtMillis: now + deleteMillis })
    })
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
    return skus.filter((sku) => sku.location.toLowerCase() === location.toLowerCase())
  }, oneAtATime)

  const requiredSubnetSize = Effect.fn("AmlfsApiFake.requiredSubnetSize")(function*(skuName: string, storageCapacityTiB: number) {
    yield* begin("requiredSubnetSize")
    const sku = yield* findSku(skuName)
    if (sku === undefined) {
      return yield* armError("getRequiredAmlFSSubnetsSize", 400, "InvalidParameter", `The SKU '${skuName}' is not valid.`)
    }
    return requiredSubnetAddresses(sku.incrementTiB, storageCapacityTiB)
  }, oneAtATime)

  const checkSubnet = Effect.fn("AmlfsApiFake.checkSubnet")(
    function*(subnetId: string, skuName: string, storageCapacityTiB: number, _location: string) {
      yield* begin("checkSubnet")
      const sku = yield* findSku(skuName)
      if (sku === undefined) {
        return yield* armError("checkAmlFSSubnets", 400, "InvalidParameter", `The SKU '${skuName}' is not valid.`)
      }
      const required = requiredSubnetAddresses(sku.incrementTiB, storageCapacityTiB)
      const free = yield* freeAddresses(subnetId)
      if (required > free) {
        return yield* new SubnetRefused({
          subnetId,
          message: `The subnet '${subnetId}' does not have enough available IP addresses for an AML file system of ` +
            `${storageCapacityTiB} TiB with SKU ${sku.name}: ${required} are required, ${free} are available.`
        })
      }
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
    checkSubnet
  })
}
