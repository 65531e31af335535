/**
 * The ARM emulator's blob-integration routes, on ARM's wire:
 * - PUT/GET/PATCH/DELETE .../amlFilesystems/{fs}/{importJobs|autoExportJobs|autoImportJobs}/{job},
 *   GET .../amlFilesystems/{fs}/{kind}: importJobs from api-version 2024-03-01 (adminStatus and the
 *   imported / preexisting counts from 2024-07-01), autoExportJobs from 2024-07-01, autoImportJobs
 *   from 2025-07-01. A PUT that starts a job is 201 with Azure-AsyncOperation, Location and
 *   Retry-After (an import's operation ends with the import; an auto job's at once); the same job
 *   again is 200. PATCH `{properties:{adminStatus}}` (Cancel an import, Disable an auto job) is
 *   200 with the job. DELETE of an ended job is 200, of an absent one 204, of a running one 409.
 * - POST .../amlFilesystems/{fs}/archive `{filesystemPath}` and .../cancelArchive: 200, at once;
 *   progress in the filesystem's properties.hsm.archiveStatus.
 * Refusals are hsmJobRules.ts's, states hsmJobTimeline.ts's (as in the fake).
 */
import { effectivePrefixes, type HsmSettings, hsmSettingsProblem } from "./AmlfsHsm.js"
import type { EmulatorArchive, EmulatorAutoExportJob, EmulatorAutoImportJob, EmulatorImportJob, FilesystemHsm } from "./ArmEmulatorHsmState.js"
import {
  type ArmRequest,
  armError,
  asNumber,
  asObject,
  asString,
  atLeast,
  type EmulatorContext,
  errorReply,
  invalid,
  isoOf,
  type JsonObject,
  operationUrls,
  type Reply
} from "./ArmEmulatorReply.js"
import { EmulatorState, type FilesystemRecord, filesystemKey } from "./ArmEmulatorState.js"
import {
  archiveRefusal,
  autoExportRequestOf,
  autoImportRequestOf,
  decideJob,
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
  archiveStatusAt,
  autoExportJobAt,
  autoExportJobEndsAt,
  autoImportJobAt,
  autoImportJobEndsAt,
  type HsmTimings,
  importJobAt,
  importJobEndsAt,
  isArchiveActive,
  type JobRefusal
} from "./hsmJobTimeline.js"

export type { JobKind } from "./hsmJobRules.js"

/** The first api-version of each job sub-resource. */
export const jobMinimumApiVersion: Readonly<Record<JobKind, string>> = {
  importJobs: "2024-03-01",
  autoExportJobs: "2024-07-01",
  autoImportJobs: "2025-07-01"
}
/** importJobs' adminStatus and imported / preexisting counts. */
const importDetailsApiVersion = "2024-07-01"
/** hsm.settings.importPrefixesInitial. */
const importPrefixesInitialApiVersion = "2024-03-01"

const refusalReply = (refusal: JobRefusal): Reply => armError(refusal.statusCode, refusal.code, refusal.message)

const stringsOf = (value: unknown): ReadonlyArray<string> | undefined | "invalid" => {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) && value.every((item) => typeof item === "string") ? value : "invalid"
}

const tagsOf = (root: JsonObject): Readonly<Record<string, string>> | Reply => {
  const tags = asObject(root["tags"] ?? {})
  if (tags === undefined || Object.values(tags).some((v) => typeof v !== "string")) return invalid("The property 'tags' must map names to strings.")
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]))
}

const isReply = (value: object): value is Reply => "statusCode" in value

/**
 * properties.hsm.settings of a PUT: undefined without them. Below api-version 2024-03-01 only
 * `importPrefix` is known; importPrefixesInitial is ignored there, as ARM ignores unknown fields.
 */
export const hsmSettingsOf = (properties: JsonObject, apiVersion: string): HsmSettings | Reply | undefined => {
  const settings = asObject(asObject(properties["hsm"])?.["settings"])
  if (settings === undefined) return undefined
  const container = asString(settings["container"])
  const loggingContainer = asString(settings["loggingContainer"])
  if (container === undefined || loggingContainer === undefined) {
    return invalid("The properties 'hsm.settings.container' and 'hsm.settings.loggingContainer' are required.")
  }
  const initial = atLeast(apiVersion, importPrefixesInitialApiVersion) ? stringsOf(settings["importPrefixesInitial"]) : undefined
  if (initial === "invalid") return invalid("The property 'hsm.settings.importPrefixesInitial' must be an array of strings.")
  const single = asString(settings["importPrefix"])
  const hsm: HsmSettings = { container, loggingContainer, importPrefixesInitial: initial ?? (single === undefined ? [] : [single]) }
  const problem = hsmSettingsProblem(hsm)
  return problem === undefined ? hsm : invalid(problem)
}

/** properties.hsm of a filesystem with blob integration. */
export const hsmJson = (settings: HsmSettings, hsm: FilesystemHsm | undefined, apiVersion: string, now: number, timings: HsmTimings) => ({
  settings: {
    container: settings.container,
    loggingContainer: settings.loggingContainer,
    ...(atLeast(apiVersion, importPrefixesInitialApiVersion)
      ? { importPrefixesInitial: effectivePrefixes(settings.importPrefixesInitial) }
      : { importPrefix: settings.importPrefixesInitial[0] ?? "/" })
  },
  archiveStatus: (hsm?.archives ?? []).map((archive) => {
    const status = archiveStatusAt(archive.record, now, timings)
    return {
      filesystemPath: status.filesystemPath,
      status: withoutUndefined({
        state: status.state,
        percentComplete: status.percentComplete,
        lastStartedTime: isoOf(status.lastStartedTime),
        lastCompletionTime: isoOf(status.lastCompletionTime),
        errorCode: status.errorCode,
        errorMessage: status.errorMessage
      })
    }
  })
})

const withoutUndefined = (fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))

const resourceIdOf = (context: EmulatorContext, fs: FilesystemRecord) =>
  `/subscriptions/${context.state.settings.subscriptionId}/resourceGroups/${fs.resourceGroup}/providers/Microsoft.StorageCache/amlFilesystems/${fs.name}`

type AnyJob = EmulatorImportJob | EmulatorAutoExportJob | EmulatorAutoImportJob

const jobEnvelope = (context: EmulatorContext, fs: FilesystemRecord, kind: JobKind, job: AnyJob, properties: JsonObject) => ({
  id: `${resourceIdOf(context, fs)}/${kind}/${job.record.name}`,
  name: job.record.name,
  type: `Microsoft.StorageCache/amlFilesystems/${kind}`,
  location: job.record.location,
  tags: job.tags,
  systemData: {
    createdBy: "emulator@example.com",
    createdByType: "User",
    createdAt: new Date(job.record.startedAt).toISOString()
  },
  properties
})

const importJobJson = (context: EmulatorContext, fs: FilesystemRecord, job: EmulatorImportJob, apiVersion: string, now: number) => {
  const view = importJobAt(job.record, now, context.state.hsm.timings)
  const status = view.status
  const details = atLeast(apiVersion, importDetailsApiVersion)
  return jobEnvelope(context, fs, "importJobs", job, {
    ...(details ? { adminStatus: view.adminStatus } : {}),
    provisioningState: view.provisioningState,
    importPrefixes: view.importPrefixes,
    conflictResolutionMode: view.conflictResolutionMode,
    maximumErrors: view.maximumErrors,
    status: withoutUndefined({
      state: status.state,
      statusMessage: details ? status.statusMessage : undefined,
      totalBlobsWalked: status.totalBlobsWalked,
      blobsWalkedPerSecond: 0,
      totalBlobsImported: status.totalBlobsImported,
      blobsImportedPerSecond: 0,
      ...(details
        ? {
          importedFiles: status.importedFiles,
          importedDirectories: status.importedDirectories,
          importedSymlinks: 0,
          preexistingFiles: status.preexistingFiles,
          preexistingDirectories: 0,
          preexistingSymlinks: 0
        }
        : {}),
      totalErrors: status.totalErrors,
      totalConflicts: status.totalConflicts,
      lastStartedTime: isoOf(status.lastStartedTime),
      lastCompletionTime: isoOf(status.lastCompletionTime)
    })
  })
}

const autoExportJobJson = (context: EmulatorContext, fs: FilesystemRecord, job: EmulatorAutoExportJob, now: number) => {
  const view = autoExportJobAt(job.record, now, context.state.hsm.timings)
  const status = view.status
  return jobEnvelope(context, fs, "autoExportJobs", job, {
    adminStatus: view.adminStatus,
    provisioningState: view.provisioningState,
    autoExportPrefixes: view.autoExportPrefixes,
    status: withoutUndefined({
      state: status.state,
      statusCode: status.statusCode,
      statusMessage: status.statusMessage,
      totalFilesExported: status.totalFilesExported,
      totalMiBExported: status.totalMiBExported,
      totalFilesFailed: status.totalFilesFailed,
      exportIterationCount: status.exportIterationCount,
      lastSuccessfulIterationCompletionTimeUTC: isoOf(status.lastSuccessfulIterationCompletionTime),
      currentIterationFilesDiscovered: status.currentIterationFilesDiscovered,
      currentIterationMiBDiscovered: 0,
      currentIterationFilesExported: status.currentIterationFilesExported,
      currentIterationMiBExported: 0,
      currentIterationFilesFailed: status.currentIterationFilesFailed,
      lastStartedTimeUTC: isoOf(status.lastStartedTime),
      lastCompletionTimeUTC: isoOf(status.lastCompletionTime)
    })
  })
}

const autoImportJobJson = (context: EmulatorContext, fs: FilesystemRecord, job: EmulatorAutoImportJob, now: number) => {
  const view = autoImportJobAt(job.record, now, context.state.hsm.timings)
  const status = view.status
  return jobEnvelope(context, fs, "autoImportJobs", job, {
    adminStatus: view.adminStatus,
    provisioningState: view.provisioningState,
    autoImportPrefixes: view.autoImportPrefixes,
    conflictResolutionMode: view.conflictResolutionMode,
    enableDeletions: view.enableDeletions,
    maximumErrors: view.maximumErrors,
    status: withoutUndefined({
      state: status.state,
      statusCode: status.statusCode,
      statusMessage: status.statusMessage,
      scanStartTime: isoOf(status.scanStartTime),
      scanEndTime: isoOf(status.scanEndTime),
      totalBlobsWalked: status.totalBlobsWalked,
      rateOfBlobWalk: 0,
      totalBlobsImported: status.totalBlobsImported,
      rateOfBlobImport: 0,
      importedFiles: status.importedFiles,
      importedDirectories: status.importedDirectories,
      importedSymlinks: 0,
      preexistingFiles: status.preexistingFiles,
      preexistingDirectories: 0,
      preexistingSymlinks: 0,
      totalErrors: status.totalErrors,
      totalConflicts: status.totalConflicts,
      lastStartedTimeUTC: isoOf(status.lastStartedTime),
      lastCompletionTimeUTC: isoOf(status.lastCompletionTime)
    })
  })
}

/** One kind's jobs, as the generic handlers need them. */
interface KindOps {
  readonly jobs: (hsm: FilesystemHsm) => ReadonlyArray<AnyJob>
  readonly remove: (hsm: FilesystemHsm, job: AnyJob) => void
  readonly json: (context: EmulatorContext, fs: FilesystemRecord, job: AnyJob, apiVersion: string, now: number) => unknown
  readonly endsAt: (job: AnyJob, timings: HsmTimings) => number
}

const kinds: Readonly<Record<JobKind, KindOps>> = {
  importJobs: {
    jobs: (hsm) => hsm.importJobs,
    remove: (hsm, job) => void (hsm.importJobs = hsm.importJobs.filter((j) => j !== job)),
    json: (context, fs, job, apiVersion, now) => importJobJson(context, fs, job as EmulatorImportJob, apiVersion, now),
    endsAt: (job, timings) => importJobEndsAt((job as EmulatorImportJob).record, timings)
  },
  autoExportJobs: {
    jobs: (hsm) => hsm.autoExportJobs,
    remove: (hsm, job) => void (hsm.autoExportJobs = hsm.autoExportJobs.filter((j) => j !== job)),
    json: (context, fs, job, _apiVersion, now) => autoExportJobJson(context, fs, job as EmulatorAutoExportJob, now),
    endsAt: (job, timings) => autoExportJobEndsAt((job as EmulatorAutoExportJob).record, timings)
  },
  autoImportJobs: {
    jobs: (hsm) => hsm.autoImportJobs,
    remove: (hsm, job) => void (hsm.autoImportJobs = hsm.autoImportJobs.filter((j) => j !== job)),
    json: (context, fs, job, _apiVersion, now) => autoImportJobJson(context, fs, job as EmulatorAutoImportJob, now),
    endsAt: (job, timings) => autoImportJobEndsAt((job as EmulatorAutoImportJob).record, timings)
  }
}

const parentOf = (fs: FilesystemRecord): JobParent => ({
  name: fs.name,
  resourceGroup: fs.resourceGroup,
  location: fs.spec.location,
  provisioningState: fs.provisioningState,
  hasHsm: fs.hsm !== undefined
})

const findJob = (kind: JobKind, fs: FilesystemRecord | undefined, jobName: string) =>
  fs?.hsm === undefined ? undefined : kinds[kind].jobs(fs.hsm).find((job) => job.record.name.toLowerCase() === jobName.toLowerCase())

/** GET .../{kind}: every job ARM keeps. */
export const handleJobList = (context: EmulatorContext, kind: JobKind, resourceGroup: string, name: string, apiVersion: string, now: number): Reply => {
  const fs = context.state.filesystems.get(filesystemKey(resourceGroup, name))
  if (fs === undefined) return refusalReply(parentNotFound(kind, resourceGroup, name))
  const jobs = fs.hsm === undefined ? [] : kinds[kind].jobs(fs.hsm)
  return { statusCode: 200, body: { value: jobs.map((job) => kinds[kind].json(context, fs, job, apiVersion, now)) } }
}

/** PUT, GET, PATCH and DELETE of one job. */
export const handleJob = (
  context: EmulatorContext,
  request: ArmRequest,
  kind: JobKind,
  resourceGroup: string,
  name: string,
  jobName: string,
  now: number
): Reply => {
  const { state } = context
  const fs = state.filesystems.get(filesystemKey(resourceGroup, name))
  const apiVersion = request.url.searchParams.get("api-version") ?? jobMinimumApiVersion[kind]
  const existing = findJob(kind, fs, jobName)
  const ops = kinds[kind]
  switch (request.method) {
    case "GET":
      if (fs === undefined) return refusalReply(parentNotFound(kind, resourceGroup, name))
      return existing === undefined
        ? refusalReply(jobNotFound(kind, resourceGroup, name, jobName))
        : { statusCode: 200, body: ops.json(context, fs, existing, apiVersion, now) }
    case "DELETE": {
      if (fs?.hsm === undefined || existing === undefined) return { statusCode: 204 }
      if (now < ops.endsAt(existing, state.hsm.timings)) {
        return armError(409, "Conflict", `The job '${existing.record.name}' is running; cancel or disable it first (the emulator does not delete running jobs).`)
      }
      ops.remove(fs.hsm, existing)
      return { statusCode: 200 }
    }
    case "PATCH":
      if (fs === undefined) return refusalReply(parentNotFound(kind, resourceGroup, name))
      if (existing === undefined) return refusalReply(jobNotFound(kind, resourceGroup, name, jobName))
      return patchJob(context, request, kind, fs, existing, apiVersion, now)
    case "PUT":
      state.countJobPut(name)
      return putJob(context, request, kind, resourceGroup, name, jobName, apiVersion, now)
    default:
      return armError(405, "MethodNotAllowed", `The method '${request.method}' is not supported by the emulator for ${kind}.`)
  }
}

const patchJob = (
  context: EmulatorContext,
  request: ArmRequest,
  kind: JobKind,
  fs: FilesystemRecord,
  job: AnyJob,
  apiVersion: string,
  now: number
): Reply => {
  const { hsm } = context.state
  const root = asObject(request.body)
  if (root === undefined) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
  const adminStatus = asString(asObject(root["properties"])?.["adminStatus"])
  const answer = (): Reply => ({ statusCode: 200, body: kinds[kind].json(context, fs, job, apiVersion, now) })
  if (adminStatus === undefined) return answer()
  if (kind === "importJobs") {
    if (!atLeast(apiVersion, importDetailsApiVersion)) {
      return invalid(`The property 'adminStatus' of importJobs is not known at api-version ${apiVersion}: use ${importDetailsApiVersion} or newer.`)
    }
    if (adminStatus === "Cancel") hsm.cancelImport(job as EmulatorImportJob, now)
    else if (adminStatus !== "Active") return invalid(`The adminStatus '${adminStatus}' of an import job is not one of Active, Cancel.`)
    return answer()
  }
  if (adminStatus === "Disable") hsm.disable(job as EmulatorAutoExportJob | EmulatorAutoImportJob, now)
  else if (adminStatus !== "Enable") return invalid(`The adminStatus '${adminStatus}' is not one of Enable, Disable.`)
  else if ("disableRequestedAt" in job.record && job.record.disableRequestedAt !== undefined) {
    return armError(400, "BadRequest", `The job '${job.record.name}' is disabled; the emulator does not enable it again: create a new job.`)
  }
  return answer()
}

const putJob = (
  context: EmulatorContext,
  request: ArmRequest,
  kind: JobKind,
  resourceGroup: string,
  name: string,
  jobName: string,
  apiVersion: string,
  now: number
): Reply => {
  const { state } = context
  const badName = invalidJobName(jobName)
  if (badName !== undefined) return refusalReply(badName)
  const fs = state.filesystems.get(filesystemKey(resourceGroup, name))
  if (fs === undefined) return refusalReply(parentNotFound(kind, resourceGroup, name))
  const root = asObject(request.body)
  if (root === undefined) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
  const location = asString(root["location"])
  if (location === undefined) return invalid("The property 'location' is required.")
  const tags = tagsOf(root)
  if (isReply(tags)) return tags
  const properties = asObject(root["properties"]) ?? {}
  const prefixesField = kind === "importJobs" ? "importPrefixes" : kind === "autoExportJobs" ? "autoExportPrefixes" : "autoImportPrefixes"
  const prefixes = stringsOf(properties[prefixesField])
  if (prefixes === "invalid") return invalid(`The property 'properties.${prefixesField}' must be an array of strings.`)
  const mode = properties["conflictResolutionMode"]
  if (mode !== undefined && typeof mode !== "string") return invalid("The property 'properties.conflictResolutionMode' must be a string.")
  const maximumErrors = properties["maximumErrors"] === undefined ? undefined : asNumber(properties["maximumErrors"]) ?? Number.NaN
  const enableDeletions = properties["enableDeletions"]
  if (enableDeletions !== undefined && typeof enableDeletions !== "boolean") return invalid("The property 'properties.enableDeletions' must be a boolean.")
  const base = { location, ...(mode === undefined ? {} : { conflictResolutionMode: mode }), ...(maximumErrors === undefined ? {} : { maximumErrors }) }
  const asked = kind === "importJobs"
    ? importRequestOf({ ...base, importPrefixes: prefixes ?? [] })
    : kind === "autoExportJobs"
    ? autoExportRequestOf({ location, autoExportPrefixes: prefixes ?? [] })
    : autoImportRequestOf({ ...base, autoImportPrefixes: prefixes ?? [], ...(enableDeletions === undefined ? {} : { enableDeletions }) })
  if (isRefusal(asked)) return refusalReply(asked)
  const ops = kinds[kind]
  const timings = state.hsm.timings
  const jobs = fs.hsm === undefined ? [] : ops.jobs(fs.hsm)
  const decision = decideJob<AnyJob["record"]>({
    kind,
    parent: parentOf(fs),
    location,
    existing: findJob(kind, fs, jobName)?.record,
    sameAsAsked: (job) => sameAsAsked(job, asked),
    active: jobs.find((job) => now < ops.endsAt(job, timings))?.record
  })
  if (decision._tag === "Refused") return refusalReply(decision.refusal)
  const existing = findJob(kind, fs, jobName)
  if (decision._tag === "Exists" && existing !== undefined) return { statusCode: 200, body: ops.json(context, fs, existing, apiVersion, now) }
  if (fs.hsm === undefined) return refusalReply(parentNotFound(kind, resourceGroup, name))
  const op = state.startJobOperation(fs, now)
  const target = EmulatorState.workTarget(fs)
  const job: AnyJob = "importPrefixes" in asked
    ? state.hsm.startImport(target, fs.hsm, jobName, asked, tags, now, op.id)
    : "autoExportPrefixes" in asked
    ? state.hsm.startAutoExport(target, fs.hsm, jobName, asked, tags, now, op.id)
    : state.hsm.startAutoImport(target, fs.hsm, jobName, asked, tags, now, op.id)
  const urls = operationUrls(context, op, apiVersion)
  return {
    statusCode: 201,
    body: ops.json(context, fs, job, apiVersion, now),
    headers: {
      "azure-asyncoperation": urls.asyncOperation,
      location: urls.location,
      "retry-after": String(state.settings.operationRetryAfterSeconds)
    }
  }
}

/** Whether an existing job's record is what a PUT asks for (same properties). */
const sameAsAsked = (job: AnyJob["record"], asked: object): boolean => {
  const fields = asked as Readonly<Record<string, unknown>>
  const record = job as unknown as Readonly<Record<string, unknown>>
  return Object.entries(fields).every(([key, value]) => {
    if (key === "location") return true
    const mine = record[key]
    return Array.isArray(value) && Array.isArray(mine) ? sameStrings(mine, value) : mine === value
  })
}

const filesystemNotFound = (resourceGroup: string, name: string) =>
  armError(
    404,
    "ResourceNotFound",
    `The Resource 'Microsoft.StorageCache/amlFilesystems/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
  )

/** POST .../archive `{filesystemPath}` (default "/"): 200 once the archive is started. */
export const handleArchive = (context: EmulatorContext, request: ArmRequest, resourceGroup: string, name: string, now: number): Reply => {
  const { state } = context
  state.countArchive(name)
  const fs = state.filesystems.get(filesystemKey(resourceGroup, name))
  if (fs === undefined) return filesystemNotFound(resourceGroup, name)
  const root = request.body === undefined ? {} : asObject(request.body)
  if (root === undefined) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
  const path = root["filesystemPath"] === undefined ? "/" : asString(root["filesystemPath"])
  if (path === undefined) return invalid("The property 'filesystemPath' must be a string.")
  const archives: ReadonlyArray<EmulatorArchive> = fs.hsm?.archives ?? []
  const running = archives.find((archive) => isArchiveActive(archive.record, now, state.hsm.timings))?.record
  const refusal = archiveRefusal(parentOf(fs), running)
  if (refusal !== undefined || fs.hsm === undefined) return refusal === undefined ? filesystemNotFound(resourceGroup, name) : refusalReply(refusal)
  state.hsm.startArchive(EmulatorState.workTarget(fs), fs.hsm, path === "" ? "/" : path, now)
  return { statusCode: 200 }
}

/** POST .../cancelArchive: 200; the running archive, if one runs, goes Cancelling, then Canceled. */
export const handleCancelArchive = (context: EmulatorContext, resourceGroup: string, name: string, now: number): Reply => {
  const { state } = context
  const fs = state.filesystems.get(filesystemKey(resourceGroup, name))
  if (fs === undefined) return filesystemNotFound(resourceGroup, name)
  const refusal = archiveRefusal(parentOf(fs), undefined)
  if (refusal !== undefined || fs.hsm === undefined) return refusal === undefined ? filesystemNotFound(resourceGroup, name) : refusalReply(refusal)
  state.hsm.cancelArchive(fs.hsm, now)
  return { statusCode: 200 }
}

/** 429 for the job endpoints while the throttleJobs fault lasts. */
export const jobThrottleReply = (context: EmulatorContext): Reply | undefined => {
  const seconds = context.state.hsm.takeJobThrottle()
  return seconds === undefined ? undefined : errorReply({
    statusCode: 429,
    code: "TooManyRequests",
    message:
      "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:01:00. For more information, see - https://aka.ms/srpthrottlinglimits",
    headers: { "retry-after": String(seconds), "x-ms-ratelimit-remaining-subscription-writes": "0" }
  })
}
