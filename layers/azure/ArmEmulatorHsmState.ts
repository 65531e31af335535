/**
 * The ARM emulator's blob integration: each filesystem's hsm.settings, import, auto-export and
 * auto-import jobs and archives, their timings, faults and the work done on files. Plain
 * synchronous code like EmulatorState; the work itself (a walk of the container, copies of
 * files) is the HsmWorker's, which runs it in the background and reports its end.
 *
 * States are hsmJobTimeline.ts's, as in the fake; with a worker a job also waits for its work
 * and reports the work's counts. Without one, every count is 0.
 */
import { effectivePrefixes, type HsmSettings, INITIAL_IMPORT_JOB_NAME } from "./AmlfsHsm.js"
import type { AutoExportRequest, AutoImportRequest, ImportRequest } from "./hsmJobRules.js"
import {
  type ArchiveOutcome,
  type ArchiveRecord,
  type ArchiveWork,
  archiveEndsAt,
  archiveFailedError,
  autoExportJobEndsAt,
  type AutoExportJobRecord,
  autoImportJobEndsAt,
  type AutoImportJobRecord,
  type ExportProgress,
  type HsmTimings,
  importFailedMessage,
  importJobEndsAt,
  type ImportJobRecord,
  type ImportOutcome,
  importPartialMessage,
  type ImportWalk,
  retainedJobs,
  type ScanProgress
} from "./hsmJobTimeline.js"

/** The filesystem a piece of work is for. */
export interface WorkTarget {
  readonly mgsAddress: string
  readonly settings: HsmSettings
}

/** Stops a piece of work; its `done` is still called. */
export type CancelWork = () => void

/** What does the files' work: the HSM simulation's model, in the emulator (ArmEmulatorHsmWork). */
export interface HsmWorker {
  /** Walks the container under the prefixes into the filesystem; `done` gets the walk with its doneAt. */
  readonly importPrefixes: (
    target: WorkTarget,
    request: { readonly prefixes: ReadonlyArray<string>; readonly conflictResolutionMode: string },
    done: (walk: ImportWalk) => void
  ) => CancelWork
  /** Archives the new and changed files below the path; `done` gets what it did with its doneAt. */
  readonly archive: (target: WorkTarget, filesystemPath: string, done: (work: ArchiveWork) => void) => CancelWork
}

export interface EmulatorImportJob {
  record: ImportJobRecord
  readonly tags: Readonly<Record<string, string>>
  /** The PUT's Azure-AsyncOperation, which ends with the job. */
  readonly operationId: string | undefined
  cancelWork: CancelWork | undefined
}

export interface EmulatorAutoExportJob {
  record: AutoExportJobRecord
  readonly tags: Readonly<Record<string, string>>
  readonly operationId: string | undefined
  cancelWork: CancelWork | undefined
}

export interface EmulatorAutoImportJob {
  record: AutoImportJobRecord
  readonly tags: Readonly<Record<string, string>>
  readonly operationId: string | undefined
  cancelWork: CancelWork | undefined
}

export interface EmulatorArchive {
  record: ArchiveRecord
  cancelWork: CancelWork | undefined
}

/** A filesystem's blob integration, as the emulator keeps it. */
export interface FilesystemHsm {
  readonly settings: HsmSettings
  importJobs: Array<EmulatorImportJob>
  autoExportJobs: Array<EmulatorAutoExportJob>
  autoImportJobs: Array<EmulatorAutoImportJob>
  /** The last archive of each filesystem path. */
  archives: Array<EmulatorArchive>
  /** The import the creation starts once it succeeds, with the outcome taken when it was asked for. */
  pendingInitialImport: ImportJobRecord | undefined
}

/** The blob-integration faults in force, as `GET /emulator/faults` shows them. */
export interface HsmFaultsSnapshot {
  readonly nextImports: ReadonlyArray<ImportOutcome>
  readonly nextArchives: ReadonlyArray<ArchiveOutcome>
  readonly jobThrottle: { readonly remaining: number; readonly retryAfterSeconds: number }
  readonly importMillis: number
  readonly archiveMillis: number
  readonly autoExportIntervalMillis: number
  readonly autoImportIntervalMillis: number
  readonly jobCancelMillis: number
}

/** The blob-integration part of a FaultRequest (`POST /emulator/faults`). */
export interface HsmFaultRequest {
  /** The next import job (a creation's initial import included) ends Failed, with this status message. */
  readonly failNextImport?: boolean | { readonly message: string }
  /** The next import job ends CompletedPartial with this many errors (default 1). */
  readonly partialNextImport?: boolean | { readonly errors: number; readonly message?: string }
  /** The next archive ends Failed with this error (default ArchiveFailed). */
  readonly failNextArchive?: boolean | { readonly code: string; readonly message: string }
  /** The next `count` requests to job, archive and cancelArchive endpoints answer 429 with Retry-After. */
  readonly throttleJobs?: { readonly count: number; readonly retryAfterSeconds?: number }
  readonly importMillis?: number
  readonly archiveMillis?: number
  readonly autoExportIntervalMillis?: number
  readonly autoImportIntervalMillis?: number
  readonly jobCancelMillis?: number
}

const emptyExport: ExportProgress = {
  iterations: 0,
  filesExported: 0,
  bytesExported: 0,
  filesFailed: 0,
  lastSuccessAt: undefined,
  runningSince: undefined,
  lastIteration: undefined,
  lastError: undefined
}

const emptyScans: ScanProgress = {
  scans: 0,
  blobsWalked: 0,
  preexistingFiles: 0,
  importedFiles: 0,
  importedDirectories: 0,
  errors: 0,
  conflicts: 0,
  runningSince: undefined,
  lastScanStartedAt: undefined,
  lastScanEndedAt: undefined,
  failure: undefined
}

const walkInProgress: ImportWalk = {
  doneAt: undefined,
  blobsWalked: 0,
  importedFiles: 0,
  importedDirectories: 0,
  preexistingFiles: 0,
  errors: 0,
  conflicts: 0,
  firstErrors: [],
  failure: undefined
}

export class EmulatorHsm {
  timings: HsmTimings
  nextImports: Array<ImportOutcome> = []
  nextArchives: Array<ArchiveOutcome> = []
  jobThrottle = { remaining: 0, retryAfterSeconds: 1 }

  constructor(
    private readonly initialTimings: HsmTimings,
    /** Does the files' work; without one jobs only take their time. */
    private readonly worker: HsmWorker | undefined
  ) {
    this.timings = initialTimings
  }

  applyFaults(request: HsmFaultRequest & { readonly reset?: boolean }) {
    if (request.reset === true) {
      this.timings = this.initialTimings
      this.nextImports = []
      this.nextArchives = []
      this.jobThrottle = { remaining: 0, retryAfterSeconds: 1 }
    }
    if (request.failNextImport !== undefined && request.failNextImport !== false) {
      this.nextImports.push({ _tag: "Failed", message: request.failNextImport === true ? importFailedMessage : request.failNextImport.message })
    }
    if (request.partialNextImport !== undefined && request.partialNextImport !== false) {
      const errors = request.partialNextImport === true ? 1 : request.partialNextImport.errors
      const message = request.partialNextImport === true ? undefined : request.partialNextImport.message
      this.nextImports.push({ _tag: "CompletedPartial", errors, message: message ?? importPartialMessage(errors) })
    }
    if (request.failNextArchive !== undefined && request.failNextArchive !== false) {
      const error = request.failNextArchive === true ? archiveFailedError : request.failNextArchive
      this.nextArchives.push({ _tag: "Failed", code: error.code, message: error.message })
    }
    if (request.throttleJobs !== undefined) {
      this.jobThrottle = { remaining: request.throttleJobs.count, retryAfterSeconds: request.throttleJobs.retryAfterSeconds ?? 1 }
    }
    this.timings = {
      importMillis: request.importMillis ?? this.timings.importMillis,
      archiveMillis: request.archiveMillis ?? this.timings.archiveMillis,
      autoExportIntervalMillis: request.autoExportIntervalMillis ?? this.timings.autoExportIntervalMillis,
      autoImportIntervalMillis: request.autoImportIntervalMillis ?? this.timings.autoImportIntervalMillis,
      cancelMillis: request.jobCancelMillis ?? this.timings.cancelMillis
    }
  }

  faults(): HsmFaultsSnapshot {
    return {
      nextImports: [...this.nextImports],
      nextArchives: [...this.nextArchives],
      jobThrottle: { ...this.jobThrottle },
      importMillis: this.timings.importMillis,
      archiveMillis: this.timings.archiveMillis,
      autoExportIntervalMillis: this.timings.autoExportIntervalMillis,
      autoImportIntervalMillis: this.timings.autoImportIntervalMillis,
      jobCancelMillis: this.timings.cancelMillis
    }
  }

  /** The job-endpoint throttle, if one is due (consumes it). */
  takeJobThrottle(): number | undefined {
    if (this.jobThrottle.remaining <= 0) return undefined
    this.jobThrottle.remaining--
    return this.jobThrottle.retryAfterSeconds
  }

  private takeImportOutcome(): ImportOutcome {
    return this.nextImports.shift() ?? { _tag: "Completed" }
  }

  /** A filesystem's blob integration as a creation asks for it: its initial import waits for the creation to succeed. */
  forCreation(settings: HsmSettings, location: string, createEndsAt: number, createFails: boolean): FilesystemHsm {
    return {
      settings,
      importJobs: [],
      autoExportJobs: [],
      autoImportJobs: [],
      archives: [],
      // As AMLFS with importPrefixesInitial: Skip conflicts, any number of errors (INITIAL_IMPORT_JOB_NAME).
      pendingInitialImport: createFails ? undefined : {
        name: INITIAL_IMPORT_JOB_NAME,
        location,
        importPrefixes: effectivePrefixes(settings.importPrefixesInitial),
        conflictResolutionMode: "Skip",
        maximumErrors: -1,
        startedAt: createEndsAt,
        runEndsAt: createEndsAt + this.timings.importMillis,
        outcome: this.takeImportOutcome(),
        cancelRequestedAt: undefined,
        walk: undefined
      }
    }
  }

  /** A filesystem seeded with blob integration: created long ago, no jobs. */
  forSeed(settings: HsmSettings): FilesystemHsm {
    return { settings, importJobs: [], autoExportJobs: [], autoImportJobs: [], archives: [], pendingInitialImport: undefined }
  }

  /** The creation succeeded: its initial import starts (its record says when). */
  creationSucceeded(target: WorkTarget, hsm: FilesystemHsm) {
    const record = hsm.pendingInitialImport
    hsm.pendingInitialImport = undefined
    if (record === undefined) return
    const job: EmulatorImportJob = { record, tags: {}, operationId: undefined, cancelWork: undefined }
    hsm.importJobs.push(job)
    this.runImport(target, job)
  }

  /** A scripted failure fails before any file is touched; a scripted partial end still does the work. */
  private runImport(target: WorkTarget, job: EmulatorImportJob) {
    if (this.worker === undefined || job.record.outcome._tag === "Failed") return
    job.record = { ...job.record, walk: walkInProgress }
    job.cancelWork = this.worker.importPrefixes(
      target,
      { prefixes: job.record.importPrefixes, conflictResolutionMode: job.record.conflictResolutionMode },
      (walk) => {
        job.record = { ...job.record, walk }
        job.cancelWork = undefined
      }
    )
  }

  startImport(target: WorkTarget, hsm: FilesystemHsm, name: string, request: ImportRequest, tags: Readonly<Record<string, string>>, now: number, operationId: string): EmulatorImportJob {
    const job: EmulatorImportJob = {
      record: {
        name,
        ...request,
        startedAt: now,
        runEndsAt: now + this.timings.importMillis,
        outcome: this.takeImportOutcome(),
        cancelRequestedAt: undefined,
        walk: undefined
      },
      tags,
      operationId,
      cancelWork: undefined
    }
    hsm.importJobs.push(job)
    this.runImport(target, job)
    return job
  }

  /** Cancels a running import job; false when it is not running (nothing changes). */
  cancelImport(job: EmulatorImportJob, now: number): boolean {
    if (job.record.cancelRequestedAt !== undefined || now >= importJobEndsAt(job.record, this.timings)) return false
    job.record = { ...job.record, cancelRequestedAt: now }
    job.cancelWork?.()
    return true
  }

  startAutoExport(target: WorkTarget, hsm: FilesystemHsm, name: string, request: AutoExportRequest, tags: Readonly<Record<string, string>>, now: number, operationId: string): EmulatorAutoExportJob {
    const job: EmulatorAutoExportJob = {
      record: { name, ...request, startedAt: now, disableRequestedAt: undefined, progress: this.worker === undefined ? undefined : emptyExport },
      tags,
      operationId,
      cancelWork: undefined
    }
    hsm.autoExportJobs.push(job)
    this.tickAutoExport(target, job, now)
    return job
  }

  startAutoImport(target: WorkTarget, hsm: FilesystemHsm, name: string, request: AutoImportRequest, tags: Readonly<Record<string, string>>, now: number, operationId: string): EmulatorAutoImportJob {
    const job: EmulatorAutoImportJob = {
      record: { name, ...request, startedAt: now, disableRequestedAt: undefined, progress: this.worker === undefined ? undefined : emptyScans },
      tags,
      operationId,
      cancelWork: undefined
    }
    hsm.autoImportJobs.push(job)
    this.tickAutoImport(target, job, now)
    return job
  }

  /** Disables an auto job; false when it was already. The iteration under way finishes. */
  disable(job: EmulatorAutoExportJob | EmulatorAutoImportJob, now: number): boolean {
    if (job.record.disableRequestedAt !== undefined) return false
    job.record = { ...job.record, disableRequestedAt: now }
    return true
  }

  startArchive(target: WorkTarget, hsm: FilesystemHsm, filesystemPath: string, now: number) {
    const archive: EmulatorArchive = {
      record: {
        filesystemPath,
        startedAt: now,
        runEndsAt: now + this.timings.archiveMillis,
        outcome: this.nextArchives.shift() ?? { _tag: "Completed" },
        cancelRequestedAt: undefined,
        work: undefined
      },
      cancelWork: undefined
    }
    hsm.archives = [...hsm.archives.filter((a) => a.record.filesystemPath !== filesystemPath), archive]
    if (this.worker === undefined || archive.record.outcome._tag === "Failed") return
    archive.record = { ...archive.record, work: { doneAt: undefined, exported: 0, failed: 0, firstFailures: [], failure: undefined } }
    archive.cancelWork = this.worker.archive(target, filesystemPath, (work) => {
      archive.record = { ...archive.record, work }
      archive.cancelWork = undefined
    })
  }

  /** Cancels the running archive, if one runs. */
  cancelArchive(hsm: FilesystemHsm, now: number) {
    for (const archive of hsm.archives) {
      if (archive.record.cancelRequestedAt !== undefined || now >= archiveEndsAt(archive.record, this.timings)) continue
      archive.record = { ...archive.record, cancelRequestedAt: now }
      archive.cancelWork?.()
    }
  }

  /** Starts the auto-export iteration that is due, if the job runs on a worker and none runs. */
  private tickAutoExport(target: WorkTarget, job: EmulatorAutoExportJob, now: number) {
    const progress = job.record.progress
    if (this.worker === undefined || progress === undefined) return
    if (job.record.disableRequestedAt !== undefined || progress.runningSince !== undefined) return
    if (now < job.record.startedAt + progress.iterations * this.timings.autoExportIntervalMillis) return
    const prefix = job.record.autoExportPrefixes[0] ?? "/"
    job.record = { ...job.record, progress: { ...progress, runningSince: now } }
    job.cancelWork = this.worker.archive(target, prefix, (work) => {
      const before = job.record.progress ?? emptyExport
      const failure = work.failure ?? (work.failed > 0 ? `${work.failed} files could not be exported: ${work.firstFailures.join("; ")}` : undefined)
      job.record = {
        ...job.record,
        progress: {
          iterations: before.iterations + 1,
          filesExported: before.filesExported + work.exported,
          bytesExported: before.bytesExported + (work.exportedBytes ?? 0),
          filesFailed: before.filesFailed + work.failed,
          lastSuccessAt: failure === undefined ? work.doneAt : before.lastSuccessAt,
          runningSince: undefined,
          lastIteration: { discovered: work.exported + work.failed, exported: work.exported, failed: work.failed },
          lastError: failure
        }
      }
      job.cancelWork = undefined
    })
  }

  /** Starts the auto-import scan that is due, if the job runs on a worker and none runs. */
  private tickAutoImport(target: WorkTarget, job: EmulatorAutoImportJob, now: number) {
    const progress = job.record.progress
    if (this.worker === undefined || progress === undefined) return
    if (job.record.disableRequestedAt !== undefined || progress.runningSince !== undefined || progress.failure !== undefined) return
    if (now < job.record.startedAt + progress.scans * this.timings.autoImportIntervalMillis) return
    job.record = { ...job.record, progress: { ...progress, runningSince: now, lastScanStartedAt: now } }
    job.cancelWork = this.worker.importPrefixes(
      target,
      { prefixes: job.record.autoImportPrefixes, conflictResolutionMode: job.record.conflictResolutionMode },
      (walk) => {
        const before = job.record.progress ?? emptyScans
        const errors = before.errors + walk.errors
        const tooMany = job.record.maximumErrors !== -1 && errors > job.record.maximumErrors
        job.record = {
          ...job.record,
          progress: {
            scans: before.scans + 1,
            blobsWalked: walk.blobsWalked,
            preexistingFiles: walk.preexistingFiles,
            importedFiles: before.importedFiles + walk.importedFiles,
            importedDirectories: before.importedDirectories + walk.importedDirectories,
            errors,
            conflicts: before.conflicts + walk.conflicts,
            runningSince: undefined,
            lastScanStartedAt: before.lastScanStartedAt,
            lastScanEndedAt: walk.doneAt,
            failure: walk.failure ?? (tooMany ? `Auto Import failed: ${errors} errors, more than maximumErrors (${job.record.maximumErrors}): ${walk.firstErrors.join("; ")}` : undefined)
          }
        }
        job.cancelWork = undefined
      }
    )
  }

  /** Moves a filesystem's jobs on to `now`: due iterations and scans start, old jobs leave the history. */
  tick(target: WorkTarget, hsm: FilesystemHsm, now: number) {
    for (const job of hsm.autoExportJobs) this.tickAutoExport(target, job, now)
    for (const job of hsm.autoImportJobs) this.tickAutoImport(target, job, now)
    const timings = this.timings
    const startedAt = (job: { readonly record: { readonly startedAt: number } }) => job.record.startedAt
    hsm.importJobs = [...retainedJobs(hsm.importJobs, now, (job) => importJobEndsAt(job.record, timings), startedAt)]
    hsm.autoExportJobs = [...retainedJobs(hsm.autoExportJobs, now, (job) => autoExportJobEndsAt(job.record, timings), startedAt)]
    hsm.autoImportJobs = [...retainedJobs(hsm.autoImportJobs, now, (job) => autoImportJobEndsAt(job.record, timings), startedAt)]
  }

  /** The filesystem is gone: its work stops. */
  stopAll(hsm: FilesystemHsm) {
    for (const job of [...hsm.importJobs, ...hsm.autoExportJobs, ...hsm.autoImportJobs, ...hsm.archives]) job.cancelWork?.()
  }
}

