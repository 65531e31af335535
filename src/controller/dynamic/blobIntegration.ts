import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { AmlFilesystem, AmlfsApi } from "../../../layers/azure/AmlfsApi.js"
import type { ArchiveStatus, ImportJob } from "../../../layers/azure/AmlfsHsm.js"
import { type CsiError, FailedPrecondition, Unavailable } from "../../csi/errors.js"
import type { BlobIntegration } from "../../domain/BlobIntegration.js"
import { ARCHIVE_ON_DELETE_TAG, tagValue } from "../../domain/ClusterTags.js"
import { countHsmJob, hsmImportedFiles } from "../../observability/metrics.js"
import { armCall, withoutFinalPeriod } from "./armFailure.js"
import { armPolling } from "./armSchedules.js"
import type { ControllerConfig } from "./ControllerConfig.js"
import { type PvcRef, recordOnPvc, type VolumeEvents } from "./VolumeEvents.js"

/** The auto-import and auto-export jobs the driver starts after a creation: one of each per cluster. */
export const AUTO_IMPORT_JOB = "auto-import"
export const AUTO_EXPORT_JOB = "auto-export"

interface Services {
  readonly api: AmlfsApi["Service"]
  readonly config: ControllerConfig["Service"]
  readonly events: VolumeEvents["Service"]
}

interface Cluster {
  readonly resourceGroup: string
  readonly name: string
  readonly pvc: PvcRef | undefined
}

const isActiveImport = (job: ImportJob) =>
  job.status.state === "InProgress" || job.status.state === "Cancelling" || job.status.state === "Unknown"

const importCounts = (job: ImportJob) =>
  `${job.status.importedFiles} file(s) and ${job.status.importedDirectories} folder(s) imported, ` +
  `${job.status.preexistingFiles} already there, ${job.status.totalErrors} error(s), ${job.status.totalConflicts} conflict(s)`

/** The import a creation with blob integration started: the first job ARM lists. */
const initialImportOf = (jobs: ReadonlyArray<ImportJob>): ImportJob | undefined =>
  [...jobs].sort((a, b) => (a.status.lastStartedTime?.getTime() ?? 0) - (b.status.lastStartedTime?.getTime() ?? 0))[0]

/**
 * The controller's later attempts at a creation's import, after one failed: `initial-import-2`,
 * `initial-import-3`, ... (deterministic, so a retry after a restart finds the attempt it started).
 */
export const INITIAL_IMPORT_ATTEMPT_PREFIX = "initial-import-"
const attemptNumberOf = (job: ImportJob): number | undefined => {
  if (!job.name.startsWith(INITIAL_IMPORT_ATTEMPT_PREFIX)) return undefined
  const number = Number(job.name.slice(INITIAL_IMPORT_ATTEMPT_PREFIX.length))
  return Number.isSafeInteger(number) && number >= 2 ? number : undefined
}

/** The current attempt at the creation's import: the controller's latest one, else the creation's own. */
const currentImportAttempt = (jobs: ReadonlyArray<ImportJob>): { readonly job: ImportJob; readonly number: number } | undefined => {
  let latest: { readonly job: ImportJob; readonly number: number } | undefined
  for (const job of jobs) {
    const number = attemptNumberOf(job)
    if (number !== undefined && (latest === undefined || number > latest.number)) latest = { job, number }
  }
  if (latest !== undefined) return latest
  const initial = initialImportOf(jobs)
  return initial === undefined ? undefined : { job: initial, number: 1 }
}

const hasFailed = (job: ImportJob) => job.status.state === "Failed" || job.status.state === "Canceled"

const failureText = (job: ImportJob) =>
  `(job ${job.name}) ended ${job.status.state}: ${withoutFinalPeriod(job.status.statusMessage ?? "ARM gave no reason")} (${importCounts(job)})`

/** A creation's cluster, as the wait for its import needs it: where it is, for a new attempt's job. */
interface ImportingCluster extends Cluster {
  readonly spec: { readonly location: string }
}

/**
 * Waits until the import of the container's namespace that the creation started has ended, so
 * no workload sees a half-imported namespace. CompletedPartial is ready, with a Warning Event
 * carrying the counts; Failed or Canceled is UNAVAILABLE with ARM's words. The CO's retry that
 * finds the import already Failed or Canceled starts it again as a new job (`initial-import-<n>`,
 * the same prefixes), with a Warning Event saying how the last attempt ended, and waits for that.
 */
export const awaitInitialImport = (services: Services, cluster: ImportingCluster, startedAt: number) =>
  Effect.gen(function*() {
    const { api, config, events } = services
    const list = armCall(
      api.listImportJobs(cluster.resourceGroup, cluster.name),
      `reading the import jobs of AMLFS ${cluster.name}`
    )
    const ended = (all: ReadonlyArray<ImportJob>) => {
      const attempt = currentImportAttempt(all)?.job
      return attempt !== undefined && !isActiveImport(attempt)
    }
    const first = yield* list
    const found = currentImportAttempt(first)
    const startsAgain = found !== undefined && hasFailed(found.job)
    if (startsAgain) {
      const failed = found.job
      const next = `${INITIAL_IMPORT_ATTEMPT_PREFIX}${found.number + 1}`
      yield* armCall(
        api.beginImportJob(cluster.resourceGroup, cluster.name, next, {
          location: cluster.spec.location,
          importPrefixes: failed.importPrefixes,
          conflictResolutionMode: failed.conflictResolutionMode,
          maximumErrors: failed.maximumErrors
        }),
        `starting the import of the blob container into AMLFS ${cluster.name} again (job ${next})`
      )
      yield* countHsmJob("import", "started")
      yield* recordOnPvc(events, cluster.pvc, "Importing", "Warning", "ImportRetried",
        `the import of the blob container into ${cluster.name} ${failureText(failed)}; importing it again as job ${next}`)
    }
    // The first read is the first look of the wait: read again only after the polling interval.
    const jobs = !startsAgain && ended(first) ? first : yield* list.pipe(
      Effect.delay(config.creationPolling.interval),
      Effect.repeat({
        schedule: armPolling({ startedAt, ...config.creationPolling, firstRead: config.creationPolling.interval }),
        until: ended
      })
    )
    const job = currentImportAttempt(jobs)?.job
    if (job === undefined) return
    const counts = importCounts(job)
    const span = { startedAt: job.status.lastStartedTime, endedAt: job.status.lastCompletionTime }
    const outcome = job.status.state === "Completed" ? "completed" : job.status.state === "CompletedPartial" ? "partial" : "failed"
    yield* countHsmJob("import", outcome, span)
    yield* Metric.update(hsmImportedFiles, job.status.importedFiles)
    switch (job.status.state) {
      case "Completed":
        yield* recordOnPvc(events, cluster.pvc, "Importing", "Normal", "Imported",
          `the blob container's namespace is imported into ${cluster.name}: ${counts}`)
        return
      case "CompletedPartial":
        yield* recordOnPvc(events, cluster.pvc, "Importing", "Warning", "ImportedPartially",
          `the import into ${cluster.name} completed with errors: ${counts}` +
            (job.status.statusMessage === undefined ? "" : `; ${withoutFinalPeriod(job.status.statusMessage)}`))
        return
      default: {
        const message = `the import of the blob container into AMLFS ${cluster.name} ${failureText(job)}. ` +
          "Check the container and the logging container's import log; the CO's next retry imports it again as a new job"
        yield* recordOnPvc(events, cluster.pvc, "Importing", "Warning", "ImportFailed", message)
        return yield* new Unavailable({ message })
      }
    }
  })

/** Starts the auto-import and auto-export jobs the StorageClass asks for, each once (GET before PUT). */
export const ensureAutoJobs = (services: Services, cluster: Cluster, location: string, blob: BlobIntegration) =>
  Effect.gen(function*() {
    const { api } = services
    const { resourceGroup, name } = cluster
    if (blob.autoImport !== undefined) {
      const existing = yield* armCall(api.getAutoImportJob(resourceGroup, name, AUTO_IMPORT_JOB), `reading the auto-import job of ${name}`)
      if (Option.isNone(existing)) {
        yield* armCall(
          api.beginAutoImportJob(resourceGroup, name, AUTO_IMPORT_JOB, {
            location,
            autoImportPrefixes: blob.autoImport.prefixes,
            conflictResolutionMode: blob.autoImport.conflictResolution
          }),
          `starting the auto-import job of ${name}`
        )
        yield* countHsmJob("auto_import", "started")
      }
    }
    if (blob.autoExport !== undefined) {
      const existing = yield* armCall(api.getAutoExportJob(resourceGroup, name, AUTO_EXPORT_JOB), `reading the auto-export job of ${name}`)
      if (Option.isNone(existing)) {
        yield* armCall(
          api.beginAutoExportJob(resourceGroup, name, AUTO_EXPORT_JOB, { location, autoExportPrefixes: [blob.autoExport.prefix] }),
          `starting the auto-export job of ${name}`
        )
        yield* countHsmJob("auto_export", "started")
      }
    }
  })

const isArchiveRunning = (status: ArchiveStatus) =>
  status.state === "InProgress" || status.state === "FSScanInProgress" || status.state === "Cancelling"

/** A cluster created with a container and archive-on-delete (the default): its files go to the container before it is deleted. */
export const archivesOnDelete = (cluster: AmlFilesystem): boolean =>
  cluster.hsm !== undefined && tagValue(cluster.tags, ARCHIVE_ON_DELETE_TAG) !== "false"

/** Clocks of ARM and the controller may differ by this much when an archive's start is compared. */
const CLOCK_SKEW_MILLIS = 60_000

/**
 * Before a cluster with blob integration is deleted, with or without archive-on-delete: its
 * auto-export jobs are disabled, so that none exports while the cluster goes away.
 */
export const disableAutoExports = (services: Services, cluster: Cluster) =>
  Effect.gen(function*(): Effect.fn.Return<void, CsiError> {
    const { resourceGroup, name } = cluster
    for (const job of yield* armCall(services.api.listAutoExportJobs(resourceGroup, name), `reading the auto-export jobs of ${name}`)) {
      if (job.adminStatus !== "Disable") {
        yield* armCall(services.api.disableAutoExportJob(resourceGroup, name, job.name), `disabling the auto-export job ${job.name} of ${name}`)
      }
    }
  })

/**
 * Before a cluster with archive-on-delete is deleted (after disableAutoExports): everything new
 * or changed is archived to the container, and the deletion waits for the archive to complete. A failed or canceled archive is FAILED_PRECONDITION with ARM's reason,
 * and nothing is deleted. (AMLFS exports neither renames, permission changes nor deletions.)
 *
 * An archive already running when the deletion starts (a user's, or one a controller started
 * before it restarted) began before this deletion did and may have passed files written since:
 * the deletion waits for it to end, then archives `/` itself. A retry in the same controller
 * joins the deletion already running (ClusterProvisioner), so it never archives twice.
 */
export const archiveBeforeDelete = (services: Services, cluster: Cluster) =>
  Effect.gen(function*(): Effect.fn.Return<void, CsiError> {
    const { api, config } = services
    const { resourceGroup, name } = cluster
    const archives = armCall(api.get(resourceGroup, name), `reading AMLFS ${name}`).pipe(
      Effect.map((current) => Option.getOrUndefined(current)?.hsm?.archiveStatus ?? [])
    )
    const polling = (startedAt: number) =>
      armPolling({ startedAt, ...config.deletionPolling, firstRead: config.deletionPolling.interval })
    if ((yield* archives).some(isArchiveRunning)) {
      yield* Effect.logInfo("waiting for a running archive to end before archiving an AMLFS cluster for its deletion").pipe(
        Effect.annotateLogs({ cluster: name, resourceGroup })
      )
      yield* archives.pipe(Effect.repeat({ schedule: polling(yield* Clock.currentTimeMillis), until: (all) => !all.some(isArchiveRunning) }))
    }
    const startedAt = yield* Clock.currentTimeMillis
    yield* armCall(api.archive(resourceGroup, name, "/"), `archiving AMLFS ${name} to its blob container`)
    yield* countHsmJob("archive", "started")
    yield* Effect.logInfo("archiving an AMLFS cluster before deleting it").pipe(Effect.annotateLogs({ cluster: name, resourceGroup }))
    const ended = yield* archives.pipe(
      Effect.map((all) => all.find((status) => status.filesystemPath === "/")),
      Effect.repeat({
        schedule: polling(startedAt),
        until: (status) =>
          status !== undefined && !isArchiveRunning(status) &&
          (status.lastStartedTime?.getTime() ?? 0) >= startedAt - CLOCK_SKEW_MILLIS
      })
    )
    const span = { startedAt: ended?.lastStartedTime, endedAt: ended?.lastCompletionTime }
    yield* countHsmJob("archive", ended?.state === "Completed" ? "completed" : "failed", span)
    if (ended?.state === "Completed") return
    return yield* new FailedPrecondition({
      message: `AMLFS ${name} was not deleted: archiving its files to the blob container ended ${ended?.state ?? "Unknown"}` +
        `${ended?.errorCode === undefined ? "" : ` (${ended.errorCode})`}: ${withoutFinalPeriod(ended?.errorMessage ?? "ARM gave no reason")}. ` +
        "Fix the cause (the container's permissions, its space) and delete the PVC again, or set the cluster's tag " +
        `${ARCHIVE_ON_DELETE_TAG}=false to delete it without archiving`
    })
  })
