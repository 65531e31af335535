/**
 * How the simulated AMLFS's blob-integration jobs unfold in time: import jobs, auto-export and
 * auto-import jobs, and archives. Pure functions of a job's record and "now", shared by the fake
 * (virtual time) and the ARM emulator (its clock), so that both answer alike by construction.
 *
 * A job runs for its configured duration. The emulator given the HSM simulation's model also does
 * the work (a walk of the container, copies of files), and a job lasts until both the duration has
 * passed and the work is done; the counts are then the work's. Without a model the counts are 0.
 */
import {
  type ArchiveStatus,
  type AutoExportJob,
  type AutoImportJob,
  type ConflictResolutionMode,
  type ImportJob,
  JOB_HISTORY_LENGTH,
  JOB_HISTORY_MILLIS
} from "./AmlfsHsm.js"

/** How long things take (milliseconds of ARM's time). */
export interface HsmTimings {
  readonly importMillis: number
  readonly archiveMillis: number
  /** Between the starts of two auto-export iterations. */
  readonly autoExportIntervalMillis: number
  /** Between the starts of two auto-import scans. */
  readonly autoImportIntervalMillis: number
  /** How long a cancel (Cancelling) or a disable (Disabling) takes. */
  readonly cancelMillis: number
}

/** Why ARM refuses a job request: the emulator answers it, the fake fails with it. */
export interface JobRefusal {
  readonly statusCode: number
  readonly code: string
  readonly message: string
}

// ---- import jobs ------------------------------------------------------------------------

/** How a scripted import ends (a fault), unless a walk's own result says otherwise. */
export type ImportOutcome =
  | { readonly _tag: "Completed" }
  | { readonly _tag: "CompletedPartial"; readonly errors: number; readonly message: string }
  | { readonly _tag: "Failed"; readonly message: string }

export const importFailedMessage = "Import job failed: an internal error occurred while walking the blob container."
export const importPartialMessage = (errors: number) => `Import job completed with ${errors} errors: some blobs could not be imported.`

/** What the HSM model's walk found and did; `doneAt` undefined while it runs. */
export interface ImportWalk {
  readonly doneAt: number | undefined
  readonly blobsWalked: number
  readonly importedFiles: number
  readonly importedDirectories: number
  readonly preexistingFiles: number
  readonly errors: number
  readonly conflicts: number
  /** The first errors, for the status message. */
  readonly firstErrors: ReadonlyArray<string>
  /** The walk could not be done at all (no container, or a conflict under conflictResolutionMode Fail). */
  readonly failure: string | undefined
}

export interface ImportJobRecord {
  readonly name: string
  readonly location: string
  readonly importPrefixes: ReadonlyArray<string>
  readonly conflictResolutionMode: ConflictResolutionMode
  readonly maximumErrors: number
  readonly startedAt: number
  readonly runEndsAt: number
  readonly outcome: ImportOutcome
  /** When a cancel was accepted (the job was running then). */
  readonly cancelRequestedAt: number | undefined
  /** The model's walk; undefined without a model. */
  readonly walk: ImportWalk | undefined
}

/** When the walk is over: never while it runs; at once without one. */
const walkDoneAt = (walk: { readonly doneAt: number | undefined } | undefined) =>
  walk === undefined ? Number.NEGATIVE_INFINITY : walk.doneAt ?? Number.POSITIVE_INFINITY

/** When the job ends (Canceled, Completed, CompletedPartial or Failed): Infinity while the model still works. */
export const importJobEndsAt = (job: ImportJobRecord, timings: HsmTimings): number =>
  job.cancelRequestedAt !== undefined
    ? Math.max(job.cancelRequestedAt + timings.cancelMillis, walkDoneAt(job.walk))
    : Math.max(job.runEndsAt, walkDoneAt(job.walk))

export const isImportJobActive = (job: ImportJobRecord, now: number, timings: HsmTimings): boolean => now < importJobEndsAt(job, timings)

/** The final state and message of an import job, from its scripted outcome and its walk. */
const importVerdict = (job: ImportJobRecord): { state: string; message: string; extraErrors: number } => {
  const walk = job.walk
  if (job.outcome._tag === "Failed") return { state: "Failed", message: job.outcome.message, extraErrors: 0 }
  if (walk?.failure !== undefined) return { state: "Failed", message: walk.failure, extraErrors: 0 }
  if (job.outcome._tag === "CompletedPartial") return { state: "CompletedPartial", message: job.outcome.message, extraErrors: job.outcome.errors }
  const errors = walk?.errors ?? 0
  const detail = walk === undefined || walk.firstErrors.length === 0 ? "" : `: ${walk.firstErrors.join("; ")}`
  if (errors > 0 && job.maximumErrors !== -1 && errors > job.maximumErrors) {
    return { state: "Failed", message: `Import job failed: ${errors} errors, more than maximumErrors (${job.maximumErrors})${detail}`, extraErrors: 0 }
  }
  if (errors > 0) return { state: "CompletedPartial", message: `Import job completed with ${errors} errors${detail}`, extraErrors: 0 }
  if ((walk?.conflicts ?? 0) > 0) {
    return { state: "CompletedPartial", message: `Import job completed; ${walk?.conflicts} conflicting paths were skipped`, extraErrors: 0 }
  }
  return { state: "Completed", message: "Import job completed successfully", extraErrors: 0 }
}

/** The import job as ARM reports it at `now`. */
export const importJobAt = (job: ImportJobRecord, now: number, timings: HsmTimings): ImportJob => {
  const endsAt = importJobEndsAt(job, timings)
  const running = now < endsAt
  const canceled = job.cancelRequestedAt !== undefined
  const walk = job.walk
  const verdict = running || canceled ? undefined : importVerdict(job)
  const state = running ? (canceled ? "Cancelling" : "InProgress") : canceled ? "Canceled" : verdict?.state ?? "Completed"
  const counted = !running && walk !== undefined
  const errors = (counted ? walk.errors : 0) + (verdict?.extraErrors ?? 0)
  return {
    name: job.name,
    importPrefixes: job.importPrefixes,
    conflictResolutionMode: job.conflictResolutionMode,
    maximumErrors: job.maximumErrors,
    adminStatus: canceled ? "Cancel" : "Active",
    provisioningState: running ? "Creating" : state === "Failed" ? "Failed" : state === "Canceled" ? "Canceled" : "Succeeded",
    status: {
      state,
      statusMessage: running
        ? (canceled ? "Import job is being canceled" : "Import job is in progress")
        : canceled
        ? "Import job was canceled"
        : verdict?.message,
      totalBlobsWalked: counted ? walk.blobsWalked : 0,
      totalBlobsImported: counted ? walk.importedFiles + walk.importedDirectories : 0,
      importedFiles: counted ? walk.importedFiles : 0,
      importedDirectories: counted ? walk.importedDirectories : 0,
      preexistingFiles: counted ? walk.preexistingFiles : 0,
      totalErrors: errors,
      totalConflicts: counted ? walk.conflicts : 0,
      lastStartedTime: new Date(job.startedAt),
      lastCompletionTime: running ? undefined : new Date(endsAt)
    }
  }
}

// ---- auto-export jobs -------------------------------------------------------------------

/** What the model's iterations exported so far (the emulator with a model). */
export interface ExportProgress {
  readonly iterations: number
  readonly filesExported: number
  readonly bytesExported: number
  readonly filesFailed: number
  readonly lastSuccessAt: number | undefined
  /** The running iteration's start, if one runs. */
  readonly runningSince: number | undefined
  readonly lastIteration: { readonly discovered: number; readonly exported: number; readonly failed: number } | undefined
  readonly lastError: string | undefined
}

export interface AutoExportJobRecord {
  readonly name: string
  readonly location: string
  readonly autoExportPrefixes: ReadonlyArray<string>
  readonly startedAt: number
  readonly disableRequestedAt: number | undefined
  readonly progress: ExportProgress | undefined
}

/** Iterations started by `now` (the first at the job's start, then one per interval), while enabled. */
export const iterationsStartedBy = (startedAt: number, intervalMillis: number, now: number, stoppedAt?: number): number => {
  const until = Math.min(now, stoppedAt ?? now)
  return until < startedAt ? 0 : Math.floor((until - startedAt) / Math.max(1, intervalMillis)) + 1
}

/** When a disabled auto job is Disabled: the disable's time and the running iteration's end. */
const autoJobEndsAt = (disableRequestedAt: number | undefined, runningSince: number | undefined, timings: HsmTimings) =>
  disableRequestedAt === undefined
    ? Number.POSITIVE_INFINITY
    : runningSince !== undefined
    ? Number.POSITIVE_INFINITY
    : disableRequestedAt + timings.cancelMillis

export const autoExportJobEndsAt = (job: AutoExportJobRecord, timings: HsmTimings): number =>
  autoJobEndsAt(job.disableRequestedAt, job.progress?.runningSince, timings)

export const isAutoExportJobActive = (job: AutoExportJobRecord, now: number, timings: HsmTimings): boolean =>
  now < autoExportJobEndsAt(job, timings)

const mib = (bytes: number) => Math.round(bytes / 1_048_576)

export const autoExportJobAt = (job: AutoExportJobRecord, now: number, timings: HsmTimings): AutoExportJob => {
  const endsAt = autoJobEndsAt(job.disableRequestedAt, job.progress?.runningSince, timings)
  const state = job.disableRequestedAt === undefined ? "InProgress" : now < endsAt ? "Disabling" : "Disabled"
  const interval = timings.autoExportIntervalMillis
  const progress = job.progress
  const iterations = progress?.iterations ?? iterationsStartedBy(job.startedAt, interval, now, job.disableRequestedAt)
  const lastSuccessAt = progress === undefined ? (iterations === 0 ? undefined : job.startedAt + (iterations - 1) * interval) : progress.lastSuccessAt
  return {
    name: job.name,
    autoExportPrefixes: job.autoExportPrefixes,
    adminStatus: job.disableRequestedAt === undefined ? "Enable" : "Disable",
    provisioningState: "Succeeded",
    status: {
      state,
      statusCode: progress?.lastError === undefined ? undefined : "ExportIterationFailed",
      statusMessage: state === "InProgress"
        ? (progress?.lastError ?? "Auto Export is in progress")
        : state === "Disabling"
        ? "Auto Export is being disabled"
        : "Auto Export is disabled",
      totalFilesExported: progress?.filesExported ?? 0,
      totalMiBExported: mib(progress?.bytesExported ?? 0),
      totalFilesFailed: progress?.filesFailed ?? 0,
      exportIterationCount: iterations,
      lastSuccessfulIterationCompletionTime: lastSuccessAt === undefined ? undefined : new Date(lastSuccessAt),
      currentIterationFilesDiscovered: progress?.lastIteration?.discovered ?? 0,
      currentIterationFilesExported: progress?.lastIteration?.exported ?? 0,
      currentIterationFilesFailed: progress?.lastIteration?.failed ?? 0,
      lastStartedTime: new Date(job.startedAt),
      lastCompletionTime: state === "Disabled" ? new Date(endsAt) : undefined
    }
  }
}

// ---- auto-import jobs -------------------------------------------------------------------

/** What the model's scans imported so far (the emulator with a model). */
export interface ScanProgress {
  readonly scans: number
  /** Of the last scan. */
  readonly blobsWalked: number
  readonly preexistingFiles: number
  /** Summed over the scans. */
  readonly importedFiles: number
  readonly importedDirectories: number
  readonly errors: number
  readonly conflicts: number
  readonly runningSince: number | undefined
  readonly lastScanStartedAt: number | undefined
  readonly lastScanEndedAt: number | undefined
  readonly failure: string | undefined
}

export interface AutoImportJobRecord {
  readonly name: string
  readonly location: string
  readonly autoImportPrefixes: ReadonlyArray<string>
  readonly conflictResolutionMode: ConflictResolutionMode
  readonly enableDeletions: boolean
  readonly maximumErrors: number
  readonly startedAt: number
  readonly disableRequestedAt: number | undefined
  readonly progress: ScanProgress | undefined
}

/** A failed auto-import ended with the scan that failed. */
export const autoImportJobEndsAt = (job: AutoImportJobRecord, timings: HsmTimings): number =>
  job.progress?.failure !== undefined
    ? job.progress.lastScanEndedAt ?? job.startedAt
    : autoJobEndsAt(job.disableRequestedAt, job.progress?.runningSince, timings)

export const isAutoImportJobActive = (job: AutoImportJobRecord, now: number, timings: HsmTimings): boolean =>
  now < autoImportJobEndsAt(job, timings)

export const autoImportJobAt = (job: AutoImportJobRecord, now: number, timings: HsmTimings): AutoImportJob => {
  const endsAt = autoJobEndsAt(job.disableRequestedAt, job.progress?.runningSince, timings)
  const progress = job.progress
  const failed = progress?.failure !== undefined
  const state = failed ? "Failed" : job.disableRequestedAt === undefined ? "InProgress" : now < endsAt ? "Disabling" : "Disabled"
  const interval = timings.autoImportIntervalMillis
  const scans = progress?.scans ?? iterationsStartedBy(job.startedAt, interval, now, job.disableRequestedAt)
  const lastScanAt = scans === 0 ? undefined : job.startedAt + (scans - 1) * interval
  return {
    name: job.name,
    autoImportPrefixes: job.autoImportPrefixes,
    conflictResolutionMode: job.conflictResolutionMode,
    enableDeletions: job.enableDeletions,
    maximumErrors: job.maximumErrors,
    adminStatus: job.disableRequestedAt === undefined ? "Enable" : "Disable",
    provisioningState: failed ? "Failed" : "Succeeded",
    status: {
      state,
      statusCode: failed ? "AutoImportFailed" : undefined,
      statusMessage: failed
        ? progress?.failure
        : state === "InProgress"
        ? "Auto Import is in progress"
        : state === "Disabling"
        ? "Auto Import is being disabled"
        : "Auto Import is disabled",
      totalBlobsWalked: progress?.blobsWalked ?? 0,
      totalBlobsImported: (progress?.importedFiles ?? 0) + (progress?.importedDirectories ?? 0),
      importedFiles: progress?.importedFiles ?? 0,
      importedDirectories: progress?.importedDirectories ?? 0,
      preexistingFiles: progress?.preexistingFiles ?? 0,
      totalErrors: progress?.errors ?? 0,
      totalConflicts: progress?.conflicts ?? 0,
      scanStartTime: dateOr(progress === undefined ? lastScanAt : progress.lastScanStartedAt),
      scanEndTime: dateOr(progress === undefined ? lastScanAt : progress.lastScanEndedAt),
      lastStartedTime: new Date(job.startedAt),
      lastCompletionTime: state === "Disabled" ? new Date(endsAt) : undefined
    }
  }
}

const dateOr = (millis: number | undefined) => (millis === undefined ? undefined : new Date(millis))

// ---- archives ---------------------------------------------------------------------------

export type ArchiveOutcome = { readonly _tag: "Completed" } | { readonly _tag: "Failed"; readonly code: string; readonly message: string }

export const archiveFailedError = {
  code: "ArchiveFailed",
  message: "The archive to the blob container failed: an internal error occurred while exporting files."
} as const

/** What the model's archive copied; `doneAt` undefined while it runs. */
export interface ArchiveWork {
  readonly doneAt: number | undefined
  readonly exported: number
  readonly exportedBytes?: number
  readonly failed: number
  readonly firstFailures: ReadonlyArray<string>
  /** The archive could not be done at all (the path is not in the filesystem, no container). */
  readonly failure: string | undefined
}

export interface ArchiveRecord {
  readonly filesystemPath: string
  readonly startedAt: number
  readonly runEndsAt: number
  readonly outcome: ArchiveOutcome
  readonly cancelRequestedAt: number | undefined
  readonly work: ArchiveWork | undefined
}

export const archiveEndsAt = (archive: ArchiveRecord, timings: HsmTimings): number =>
  archive.cancelRequestedAt !== undefined
    ? Math.max(archive.cancelRequestedAt + timings.cancelMillis, walkDoneAt(archive.work))
    : Math.max(archive.runEndsAt, walkDoneAt(archive.work))

export const isArchiveActive = (archive: ArchiveRecord, now: number, timings: HsmTimings): boolean => now < archiveEndsAt(archive, timings)

/** The failure an archive ends with, if it fails. */
const archiveFailure = (archive: ArchiveRecord): { code: string; message: string } | undefined => {
  if (archive.outcome._tag === "Failed") return archive.outcome
  const work = archive.work
  if (work?.failure !== undefined) return { code: "ArchiveFailed", message: work.failure }
  if (work !== undefined && work.failed > 0) {
    return { code: "ArchiveFilesFailed", message: `${work.failed} files could not be archived: ${work.firstFailures.join("; ")}` }
  }
  return undefined
}

/** The entry of hsm.archiveStatus[] for an archive at `now`. */
export const archiveStatusAt = (archive: ArchiveRecord, now: number, timings: HsmTimings): ArchiveStatus => {
  const endsAt = archiveEndsAt(archive, timings)
  const running = now < endsAt
  const canceled = archive.cancelRequestedAt !== undefined
  const failure = running || canceled ? undefined : archiveFailure(archive)
  const span = Math.max(1, archive.runEndsAt - archive.startedAt)
  return {
    filesystemPath: archive.filesystemPath,
    state: running ? (canceled ? "Cancelling" : "InProgress") : canceled ? "Canceled" : failure === undefined ? "Completed" : "Failed",
    percentComplete: running
      ? Math.min(99, Math.floor((100 * (now - archive.startedAt)) / span))
      : failure === undefined && !canceled
      ? 100
      : undefined,
    lastStartedTime: new Date(archive.startedAt),
    lastCompletionTime: running ? undefined : new Date(endsAt),
    errorCode: failure?.code,
    errorMessage: failure?.message
  }
}

// ---- history ----------------------------------------------------------------------------

/**
 * The jobs ARM still lists at `now`: inactive ones leave 72 hours after they ended, and at most
 * the 10 most recent are kept (the oldest inactive ones go first).
 */
export const retainedJobs = <J>(
  jobs: ReadonlyArray<J>,
  now: number,
  endedAt: (job: J) => number,
  startedAt: (job: J) => number
): ReadonlyArray<J> => {
  const recent = jobs.filter((job) => endedAt(job) > now || now - endedAt(job) < JOB_HISTORY_MILLIS)
  let excess = recent.length - JOB_HISTORY_LENGTH
  if (excess <= 0) return recent
  const dropped = new Set<J>()
  for (const job of [...recent].sort((a, b) => startedAt(a) - startedAt(b))) {
    if (excess === 0) break
    if (endedAt(job) <= now) {
      dropped.add(job)
      excess--
    }
  }
  return recent.filter((job) => !dropped.has(job))
}

