/**
 * The fake's blob integration: import, auto-export and auto-import jobs, archive and
 * cancelArchive, in virtual time, on the records each fake filesystem keeps (FakeHsmState).
 * States come from hsmJobTimeline.ts and refusals from hsmJobRules.ts, as in the ARM emulator.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import {
  type AmlfsHsmCalls,
  ArmError,
  type AutoExportJob,
  type AutoExportJobSpec,
  type AutoImportJob,
  type AutoImportJobSpec,
  type HsmSettings,
  type ImportJob,
  type ImportJobSpec
} from "./AmlfsApi.js"
import type { AmlfsOperation, Fake, FakeFilesystem, FakeState } from "./AmlfsApiFake.js"
import {
  archiveRefusal,
  type AutoExportRequest,
  type AutoImportRequest,
  autoExportRequestOf,
  autoImportRequestOf,
  decideJob,
  type ImportRequest,
  importRequestOf,
  invalidJobName,
  isRefusal,
  type JobKind,
  jobNotFound,
  type JobParent,
  parentNotFound,
  sameStrings
} from "./hsmJobRules.js"
import {
  type ArchiveOutcome,
  type ArchiveRecord,
  archiveEndsAt,
  autoExportJobAt,
  autoExportJobEndsAt,
  type AutoExportJobRecord,
  autoImportJobAt,
  autoImportJobEndsAt,
  type AutoImportJobRecord,
  type HsmTimings,
  importJobAt,
  importJobEndsAt,
  type ImportJobRecord,
  type ImportOutcome,
  isArchiveActive,
  type JobRefusal,
  retainedJobs
} from "./hsmJobTimeline.js"

/** A fake filesystem's blob integration and jobs, oldest first. */
export interface FakeHsmState {
  readonly settings: HsmSettings
  readonly importJobs: ReadonlyArray<ImportJobRecord>
  readonly autoExportJobs: ReadonlyArray<AutoExportJobRecord>
  readonly autoImportJobs: ReadonlyArray<AutoImportJobRecord>
  /** The last archive of each filesystem path. */
  readonly archives: ReadonlyArray<ArchiveRecord>
}

export interface FakeHsmDeps {
  readonly fake: Fake
  readonly begin: (operation: AmlfsOperation, resourceGroup?: string, name?: string, job?: string) => Effect.Effect<number, ArmError>
  readonly oneAtATime: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly stateAt: (fs: FakeFilesystem, now: number) => FakeState
}

/** One kind of job, as the generic operations below need it. */
interface JobKindOps<R extends { readonly name: string; readonly startedAt: number }, Spec, Request, View> {
  readonly kind: JobKind
  readonly operations: { readonly begin: AmlfsOperation; readonly get: AmlfsOperation; readonly list: AmlfsOperation; readonly stop: AmlfsOperation }
  /** The ARM operation names (ArmError.operation). */
  readonly armOperations: { readonly begin: string; readonly list: string; readonly stop: string }
  readonly jobsOf: (hsm: FakeHsmState) => ReadonlyArray<R>
  readonly withJobs: (hsm: FakeHsmState, jobs: ReadonlyArray<R>) => FakeHsmState
  readonly requestOf: (spec: Spec) => Request | JobRefusal
  readonly locationOf: (request: Request) => string
  readonly sameAsAsked: (job: R, request: Request) => boolean
  readonly endsAt: (job: R, timings: HsmTimings) => number
  readonly view: (job: R, now: number, timings: HsmTimings) => View
  readonly start: (name: string, request: Request, now: number, timings: HsmTimings) => Effect.Effect<R>
  /** The job once cancelled or disabled at `now`; undefined when that changes nothing. */
  readonly stop: (job: R, now: number, timings: HsmTimings) => R | undefined
}

const keyOf = (resourceGroup: string, name: string) => `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`

const toArmError = (operation: string, refusal: JobRefusal) =>
  new ArmError({ operation, statusCode: refusal.statusCode, code: refusal.code, message: refusal.message, retryAfterMillis: undefined })

const filesystemNotFound = (resourceGroup: string, name: string): JobRefusal => ({
  statusCode: 404,
  code: "ResourceNotFound",
  message: `The Resource 'Microsoft.StorageCache/amlFilesystems/${name}' under resource group '${resourceGroup}' was not found. ` +
    "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
})

const traced = <Args extends ReadonlyArray<unknown>, A, E>(name: string, f: (...args: Args) => Effect.Effect<A, E>) => (...args: Args) =>
  f(...args).pipe(Effect.withSpan(name))

export const makeHsmApi = ({ begin, fake, oneAtATime, stateAt }: FakeHsmDeps) => {
  const parentOf = (fs: FakeFilesystem, now: number): JobParent => ({
    name: fs.name,
    resourceGroup: fs.resourceGroup,
    location: fs.spec.location,
    provisioningState: stateAt(fs, now),
    hasHsm: fs.hsm !== undefined
  })

  const filesystemOf = (resourceGroup: string, name: string) => Effect.map(Ref.get(fake.filesystems), (all) => all.get(keyOf(resourceGroup, name)))

  const store = (fs: FakeFilesystem, hsm: FakeHsmState) =>
    Ref.update(fake.filesystems, (all) => new Map(all).set(keyOf(fs.resourceGroup, fs.name), { ...fs, hsm }))

  /** The jobs ARM lists at `now`: started ones, within the history. */
  const visible = <R extends { readonly name: string; readonly startedAt: number }>(
    ops: JobKindOps<R, unknown, unknown, unknown>,
    fs: FakeFilesystem,
    now: number,
    timings: HsmTimings
  ) =>
    retainedJobs(
      (fs.hsm === undefined ? [] : ops.jobsOf(fs.hsm)).filter((job) => job.startedAt <= now),
      now,
      (job) => ops.endsAt(job, timings),
      (job) => job.startedAt
    )

  const jobOperations = <R extends { readonly name: string; readonly startedAt: number }, Spec, Request, View>(
    ops: JobKindOps<R, Spec, Request, View>
  ) => {
    const untyped = ops as unknown as JobKindOps<R, unknown, unknown, unknown>
    const beginJob = (resourceGroup: string, filesystemName: string, jobName: string, spec: Spec) =>
      Effect.gen(function*() {
        const now = yield* begin(ops.operations.begin, resourceGroup, filesystemName, jobName)
        const refuse = (refusal: JobRefusal) => Effect.fail(toArmError(ops.armOperations.begin, refusal))
        const badName = invalidJobName(jobName)
        if (badName !== undefined) return yield* refuse(badName)
        const fs = yield* filesystemOf(resourceGroup, filesystemName)
        if (fs === undefined) return yield* refuse(parentNotFound(ops.kind, resourceGroup, filesystemName))
        const request = ops.requestOf(spec)
        if (isRefusal(request as object)) return yield* refuse(request as JobRefusal)
        const asked = request as Request
        const timings = yield* Ref.get(fake.hsmTimings)
        const jobs = visible(untyped, fs, now, timings)
        const decision = decideJob({
          kind: ops.kind,
          parent: parentOf(fs, now),
          location: ops.locationOf(asked),
          existing: jobs.find((job) => job.name.toLowerCase() === jobName.toLowerCase()),
          sameAsAsked: (job) => ops.sameAsAsked(job, asked),
          active: jobs.find((job) => now < ops.endsAt(job, timings))
        })
        if (decision._tag === "Refused") return yield* refuse(decision.refusal)
        if (decision._tag === "Exists" || fs.hsm === undefined) return
        const job = yield* ops.start(jobName, asked, now, timings)
        yield* store(fs, ops.withJobs(fs.hsm, retainedJobs([...jobs, job], now, (j) => ops.endsAt(j, timings), (j) => j.startedAt)))
      }).pipe(oneAtATime)

    const getJob = (resourceGroup: string, filesystemName: string, jobName: string) =>
      Effect.gen(function*() {
        const now = yield* begin(ops.operations.get, resourceGroup, filesystemName, jobName)
        const fs = yield* filesystemOf(resourceGroup, filesystemName)
        if (fs === undefined) return Option.none<View>()
        const timings = yield* Ref.get(fake.hsmTimings)
        const job = visible(untyped, fs, now, timings).find((j) => j.name.toLowerCase() === jobName.toLowerCase())
        return job === undefined ? Option.none<View>() : Option.some(ops.view(job, now, timings))
      }).pipe(oneAtATime)

    const listJobs = (resourceGroup: string, filesystemName: string) =>
      Effect.gen(function*() {
        const now = yield* begin(ops.operations.list, resourceGroup, filesystemName)
        const fs = yield* filesystemOf(resourceGroup, filesystemName)
        if (fs === undefined) return yield* Effect.fail(toArmError(ops.armOperations.list, parentNotFound(ops.kind, resourceGroup, filesystemName)))
        const timings = yield* Ref.get(fake.hsmTimings)
        const views: ReadonlyArray<View> = visible(untyped, fs, now, timings).map((job) => ops.view(job, now, timings))
        return views
      }).pipe(oneAtATime)

    const stopJob = (resourceGroup: string, filesystemName: string, jobName: string) =>
      Effect.gen(function*() {
        const now = yield* begin(ops.operations.stop, resourceGroup, filesystemName, jobName)
        const refuse = (refusal: JobRefusal) => Effect.fail(toArmError(ops.armOperations.stop, refusal))
        const fs = yield* filesystemOf(resourceGroup, filesystemName)
        if (fs === undefined) return yield* refuse(parentNotFound(ops.kind, resourceGroup, filesystemName))
        const timings = yield* Ref.get(fake.hsmTimings)
        const jobs = visible(untyped, fs, now, timings)
        const job = jobs.find((j) => j.name.toLowerCase() === jobName.toLowerCase())
        if (job === undefined || fs.hsm === undefined) return yield* refuse(jobNotFound(ops.kind, resourceGroup, filesystemName, jobName))
        const stopped = ops.stop(job, now, timings)
        if (stopped === undefined) return
        yield* store(fs, ops.withJobs(fs.hsm, ops.jobsOf(fs.hsm).map((j) => (j === job ? stopped : j))))
      }).pipe(oneAtATime)

    return { beginJob, getJob, listJobs, stopJob }
  }

  const takeImportOutcome = Ref.modify(fake.nextImports, (queued): [ImportOutcome, ReadonlyArray<ImportOutcome>] => [
    queued[0] ?? { _tag: "Completed" },
    queued.slice(1)
  ])

  const imports = jobOperations<ImportJobRecord, ImportJobSpec, ImportRequest, ImportJob>({
    kind: "importJobs",
    operations: { begin: "beginImportJob", get: "getImportJob", list: "listImportJobs", stop: "cancelImportJob" },
    armOperations: { begin: "createImportJob", list: "listImportJobs", stop: "cancelImportJob" },
    jobsOf: (hsm) => hsm.importJobs,
    withJobs: (hsm, importJobs) => ({ ...hsm, importJobs }),
    requestOf: importRequestOf,
    locationOf: (request) => request.location,
    sameAsAsked: (job, request) =>
      sameStrings(job.importPrefixes, request.importPrefixes) && job.conflictResolutionMode === request.conflictResolutionMode &&
      job.maximumErrors === request.maximumErrors,
    endsAt: importJobEndsAt,
    view: importJobAt,
    start: (name, request, now, timings) =>
      Effect.map(takeImportOutcome, (outcome): ImportJobRecord => ({
        name,
        ...request,
        startedAt: now,
        runEndsAt: now + timings.importMillis,
        outcome,
        cancelRequestedAt: undefined,
        walk: undefined
      })),
    stop: (job, now, timings) => (job.cancelRequestedAt === undefined && now < importJobEndsAt(job, timings) ? { ...job, cancelRequestedAt: now } : undefined)
  })

  const autoExports = jobOperations<AutoExportJobRecord, AutoExportJobSpec, AutoExportRequest, AutoExportJob>({
    kind: "autoExportJobs",
    operations: { begin: "beginAutoExportJob", get: "getAutoExportJob", list: "listAutoExportJobs", stop: "disableAutoExportJob" },
    armOperations: { begin: "createAutoExportJob", list: "listAutoExportJobs", stop: "disableAutoExportJob" },
    jobsOf: (hsm) => hsm.autoExportJobs,
    withJobs: (hsm, autoExportJobs) => ({ ...hsm, autoExportJobs }),
    requestOf: autoExportRequestOf,
    locationOf: (request) => request.location,
    sameAsAsked: (job, request) => sameStrings(job.autoExportPrefixes, request.autoExportPrefixes),
    endsAt: autoExportJobEndsAt,
    view: autoExportJobAt,
    start: (name, request, now) =>
      Effect.succeed<AutoExportJobRecord>({ name, ...request, startedAt: now, disableRequestedAt: undefined, progress: undefined }),
    stop: (job, now) => (job.disableRequestedAt === undefined ? { ...job, disableRequestedAt: now } : undefined)
  })

  const autoImports = jobOperations<AutoImportJobRecord, AutoImportJobSpec, AutoImportRequest, AutoImportJob>({
    kind: "autoImportJobs",
    operations: { begin: "beginAutoImportJob", get: "getAutoImportJob", list: "listAutoImportJobs", stop: "disableAutoImportJob" },
    armOperations: { begin: "createAutoImportJob", list: "listAutoImportJobs", stop: "disableAutoImportJob" },
    jobsOf: (hsm) => hsm.autoImportJobs,
    withJobs: (hsm, autoImportJobs) => ({ ...hsm, autoImportJobs }),
    requestOf: autoImportRequestOf,
    locationOf: (request) => request.location,
    sameAsAsked: (job, request) =>
      sameStrings(job.autoImportPrefixes, request.autoImportPrefixes) && job.conflictResolutionMode === request.conflictResolutionMode &&
      job.enableDeletions === request.enableDeletions && job.maximumErrors === request.maximumErrors,
    endsAt: autoImportJobEndsAt,
    view: autoImportJobAt,
    start: (name, request, now) =>
      Effect.succeed<AutoImportJobRecord>({ name, ...request, startedAt: now, disableRequestedAt: undefined, progress: undefined }),
    stop: (job, now) => (job.disableRequestedAt === undefined ? { ...job, disableRequestedAt: now } : undefined)
  })

  const archive = Effect.fn("AmlfsApiFake.archive")(function*(resourceGroup: string, filesystemName: string, filesystemPath: string) {
    const now = yield* begin("archive", resourceGroup, filesystemName)
    const refuse = (refusal: JobRefusal) => Effect.fail(toArmError("archiveAmlFilesystem", refusal))
    const fs = yield* filesystemOf(resourceGroup, filesystemName)
    if (fs === undefined) return yield* refuse(filesystemNotFound(resourceGroup, filesystemName))
    const timings = yield* Ref.get(fake.hsmTimings)
    const archives = fs.hsm?.archives ?? []
    const refusal = archiveRefusal(parentOf(fs, now), archives.find((a) => isArchiveActive(a, now, timings)))
    if (refusal !== undefined) return yield* refuse(refusal)
    if (fs.hsm === undefined) return
    const path = filesystemPath === "" ? "/" : filesystemPath
    const outcome = yield* Ref.modify(fake.nextArchives, (queued): [ArchiveOutcome, ReadonlyArray<ArchiveOutcome>] => [
      queued[0] ?? { _tag: "Completed" },
      queued.slice(1)
    ])
    const record: ArchiveRecord = {
      filesystemPath: path,
      startedAt: now,
      runEndsAt: now + timings.archiveMillis,
      outcome,
      cancelRequestedAt: undefined,
      work: undefined
    }
    yield* store(fs, { ...fs.hsm, archives: [...archives.filter((a) => a.filesystemPath !== path), record] })
  }, oneAtATime)

  const cancelArchive = Effect.fn("AmlfsApiFake.cancelArchive")(function*(resourceGroup: string, filesystemName: string) {
    const now = yield* begin("cancelArchive", resourceGroup, filesystemName)
    const refuse = (refusal: JobRefusal) => Effect.fail(toArmError("cancelArchiveAmlFilesystem", refusal))
    const fs = yield* filesystemOf(resourceGroup, filesystemName)
    if (fs === undefined) return yield* refuse(filesystemNotFound(resourceGroup, filesystemName))
    const refusal = archiveRefusal(parentOf(fs, now), undefined)
    if (refusal !== undefined) return yield* refuse(refusal)
    if (fs.hsm === undefined) return
    const timings = yield* Ref.get(fake.hsmTimings)
    const running = fs.hsm.archives.find((a) => a.cancelRequestedAt === undefined && now < archiveEndsAt(a, timings))
    if (running === undefined) return
    yield* store(fs, { ...fs.hsm, archives: fs.hsm.archives.map((a) => (a === running ? { ...a, cancelRequestedAt: now } : a)) })
  }, oneAtATime)

  const api: AmlfsHsmCalls = {
    beginImportJob: traced("AmlfsApiFake.beginImportJob", imports.beginJob),
    getImportJob: traced("AmlfsApiFake.getImportJob", imports.getJob),
    listImportJobs: traced("AmlfsApiFake.listImportJobs", imports.listJobs),
    cancelImportJob: traced("AmlfsApiFake.cancelImportJob", imports.stopJob),
    beginAutoExportJob: traced("AmlfsApiFake.beginAutoExportJob", autoExports.beginJob),
    getAutoExportJob: traced("AmlfsApiFake.getAutoExportJob", autoExports.getJob),
    listAutoExportJobs: traced("AmlfsApiFake.listAutoExportJobs", autoExports.listJobs),
    disableAutoExportJob: traced("AmlfsApiFake.disableAutoExportJob", autoExports.stopJob),
    beginAutoImportJob: traced("AmlfsApiFake.beginAutoImportJob", autoImports.beginJob),
    getAutoImportJob: traced("AmlfsApiFake.getAutoImportJob", autoImports.getJob),
    listAutoImportJobs: traced("AmlfsApiFake.listAutoImportJobs", autoImports.listJobs),
    disableAutoImportJob: traced("AmlfsApiFake.disableAutoImportJob", autoImports.stopJob),
    archive,
    cancelArchive
  }
  return api
}
