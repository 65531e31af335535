import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { ArchiveStatus, ImportJob } from "../../../layers/azure/AmlfsHsm.js"
import {
  type ArchiveRequest,
  cancelNames,
  hsmAnnotations,
  type HsmWorkState,
  type ImportRequest,
  isFinalState,
  parseArchiveRequest,
  parseImportRequest,
  readStartedRequests,
  readWorkState,
  withStartedRequest,
  writeWorkState
} from "./HsmAnnotations.js"

/** What the controller does in ARM for one PVC's request. */
export type HsmAction =
  | { readonly _tag: "StartImport"; readonly request: ImportRequest }
  | { readonly _tag: "CancelImport"; readonly jobName: string }
  | { readonly _tag: "StartArchive"; readonly request: ArchiveRequest }
  | { readonly _tag: "CancelArchive" }

export interface HsmEventNote {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly note: string
}

/**
 * The outcome of one look at one request: at most one ARM action; the annotations to merge
 * (only those that change, apart from their time); the Events to record. `occupies` says the
 * request holds the cluster's one job of its kind from now on (so later requests queue).
 * `before` is written before the action, which is not taken unless that write succeeded: an
 * archive has no name in ARM, so its start is recorded first (state Starting) for a controller
 * that dies right after the POST to recognise its archive instead of starting another.
 * When the action fails, nothing of `annotations` and `events` is written.
 */
export interface HsmDecision {
  readonly before: Readonly<Record<string, string>>
  readonly action: Option.Option<HsmAction>
  readonly annotations: Readonly<Record<string, string>>
  readonly events: ReadonlyArray<HsmEventNote>
  readonly occupies: boolean
}

const nothing: HsmDecision = { before: {}, action: Option.none(), annotations: {}, events: [], occupies: false }

/**
 * A request id used again after another request: it was started once (the started-requests
 * annotation says so) and a request runs once. Its state says so, once, with a Warning.
 */
const ranBefore = (
  kind: "import" | "archive",
  key: string,
  lost: Omit<HsmWorkState, "error">
): HsmDecision => {
  const error = `${kind} request ${lost.request} was started before and a request runs once (its outcome was written then): ` +
    `to ${kind} again, give the request a new id`
  return {
    ...nothing,
    annotations: { [key]: writeWorkState({ ...lost, error }) },
    events: [{ type: "Warning", reason: kind === "import" ? "ImportRefused" : "ArchiveRefused", note: error }]
  }
}

/** Whether two states say the same apart from when they were written. */
const sameState = (a: HsmWorkState | undefined, b: HsmWorkState): boolean => {
  if (a === undefined) return false
  const { time: _a, ...restA } = a
  const { time: _b, ...restB } = b
  return JSON.stringify(restA) === JSON.stringify(restB)
}

const writeIfChanged = (
  key: string,
  recorded: HsmWorkState | undefined,
  next: HsmWorkState
): Readonly<Record<string, string>> => (sameState(recorded, next) ? {} : { [key]: writeWorkState(next) })

const activeImport = (job: ImportJob): boolean => !isFinalState(job.status.state)

const importState = (job: ImportJob): string =>
  job.adminStatus === "Cancel" && job.status.state === "InProgress" ? "Cancelling" : job.status.state

const importCounts = (job: ImportJob): Readonly<Record<string, number>> => ({
  blobsWalked: job.status.totalBlobsWalked,
  blobsImported: job.status.totalBlobsImported,
  files: job.status.importedFiles,
  directories: job.status.importedDirectories,
  errors: job.status.totalErrors,
  conflicts: job.status.totalConflicts
})

const importEnded: Readonly<Record<string, HsmEventNote["type"]>> = {
  Completed: "Normal",
  CompletedPartial: "Warning",
  Failed: "Warning",
  Canceled: "Normal"
}
const importReason: Readonly<Record<string, string>> = {
  Completed: "ImportCompleted",
  CompletedPartial: "ImportCompletedPartial",
  Failed: "ImportFailed",
  Canceled: "ImportCanceled"
}

export interface ImportObservation {
  readonly annotations: Readonly<Record<string, string>>
  /** ARM's import jobs of the PVC's cluster. */
  readonly jobs: ReadonlyArray<ImportJob>
  /** Another PVC's request took the cluster's import in this round. */
  readonly clusterBusy: boolean
  readonly now: Date
}

/** What to do about a PVC's import request, given what ARM says of the cluster's import jobs. */
export const decideImport = (input: ImportObservation): HsmDecision => {
  const value = input.annotations[hsmAnnotations.import]
  if (value === undefined) return nothing
  const recorded = Option.getOrUndefined(readWorkState(input.annotations[hsmAnnotations.importState]))
  const time = input.now.toISOString()
  const parsed = parseImportRequest(value)
  if (Result.isFailure(parsed)) {
    const { id, problem } = parsed.failure
    if (recorded?.request === id && recorded.state === "Invalid") return nothing
    const next: HsmWorkState = { request: id, state: "Invalid", time, error: problem }
    return { ...nothing, annotations: writeIfChanged(hsmAnnotations.importState, recorded, next), events: [{ type: "Warning", reason: "ImportRefused", note: problem }] }
  }
  const request = parsed.success
  const same = recorded?.request === request.id ? recorded : undefined
  const cancel = cancelNames(input.annotations[hsmAnnotations.importCancel], request.id)
  const job = input.jobs.find((candidate) => candidate.name === request.jobName)
  if (job !== undefined) {
    const state = importState(job)
    const error = state === "Failed" || state === "CompletedPartial" ? job.status.statusMessage : undefined
    const next: HsmWorkState = {
      request: request.id,
      state,
      job: request.jobName,
      counts: importCounts(job),
      time,
      ...(same?.startedAt === undefined ? {} : { startedAt: same.startedAt }),
      ...(error === undefined ? {} : { error })
    }
    const ended = importEnded[state]
    const events: ReadonlyArray<HsmEventNote> = ended !== undefined && same?.state !== state
      ? [{
        type: ended,
        reason: importReason[state] ?? "ImportEnded",
        note: `import job ${request.jobName} ${state}: ${job.status.totalBlobsImported} blobs imported, ${job.status.totalErrors} errors${
          error === undefined ? "" : ` (${error})`
        }`
      }]
      : []
    const canCancel = cancel && activeImport(job) && job.adminStatus !== "Cancel"
    return {
      before: {},
      action: canCancel ? Option.some({ _tag: "CancelImport", jobName: request.jobName }) : Option.none(),
      annotations: writeIfChanged(hsmAnnotations.importState, same, next),
      events,
      occupies: false
    }
  }
  if (same !== undefined && isFinalState(same.state)) return nothing
  if (same === undefined && readStartedRequests(input.annotations[hsmAnnotations.importStarted]).includes(request.id)) {
    return ranBefore("import", hsmAnnotations.importState, { request: request.id, state: "Lost", job: request.jobName, time })
  }
  if (same !== undefined && same.state !== "Queued") {
    // Started (or seen running) and no longer listed: ARM pruned it. Never started again.
    const next: HsmWorkState = { ...same, state: "Lost", time, error: `ARM no longer lists import job ${request.jobName}` }
    return { ...nothing, annotations: writeIfChanged(hsmAnnotations.importState, same, next), events: [{ type: "Warning", reason: "ImportFailed", note: next.error ?? "" }] }
  }
  if (cancel) {
    const next: HsmWorkState = { request: request.id, state: "Canceled", job: request.jobName, time }
    return { ...nothing, annotations: writeIfChanged(hsmAnnotations.importState, same, next), events: [{ type: "Normal", reason: "ImportCanceled", note: `import ${request.id} canceled before it started` }] }
  }
  if (input.clusterBusy || input.jobs.some(activeImport)) {
    const next: HsmWorkState = { request: request.id, state: "Queued", job: request.jobName, time }
    return {
      ...nothing,
      annotations: writeIfChanged(hsmAnnotations.importState, same, next),
      events: same === undefined ? [{ type: "Normal", reason: "ImportQueued", note: `import ${request.id} waits for the cluster's running import job` }] : []
    }
  }
  const next: HsmWorkState = { request: request.id, state: "Started", job: request.jobName, time, startedAt: time }
  return {
    before: {},
    action: Option.some({ _tag: "StartImport", request }),
    annotations: {
      [hsmAnnotations.importState]: writeWorkState(next),
      [hsmAnnotations.importStarted]: withStartedRequest(input.annotations[hsmAnnotations.importStarted], request.id)
    },
    events: [{ type: "Normal", reason: "ImportStarted", note: `import job ${request.jobName} started for ${request.prefixes.join(",")}` }],
    occupies: true
  }
}

const activeArchiveStates = ["InProgress", "FSScanInProgress", "Cancelling"]
const isArchiveRunning = (status: ArchiveStatus): boolean => activeArchiveStates.includes(status.state)

/**
 * ARM's clock and ours may differ, and the POST follows the recorded start within moments: a
 * status started more than this before the recorded start is an older archive's, more than this
 * after it a later one's (ARM names no archive, so its start time is what tells them apart).
 */
const CLOCK_SKEW_MILLIS = 60_000

const archiveOf = (status: ArchiveStatus, startedAt: number | undefined): "older" | "ours" | "later" => {
  const started = status.lastStartedTime?.getTime()
  if (started === undefined || startedAt === undefined) return "ours"
  if (started < startedAt - CLOCK_SKEW_MILLIS) return "older"
  if (started > startedAt + CLOCK_SKEW_MILLIS) return "later"
  return "ours"
}

const archiveEnded: Readonly<Record<string, { readonly type: HsmEventNote["type"]; readonly reason: string }>> = {
  Completed: { type: "Normal", reason: "Archived" },
  Failed: { type: "Warning", reason: "ArchiveFailed" },
  Canceled: { type: "Normal", reason: "ArchiveCanceled" }
}

export interface ArchiveObservation {
  readonly annotations: Readonly<Record<string, string>>
  /** The cluster's hsm.archiveStatus. */
  readonly archiveStatus: ReadonlyArray<ArchiveStatus>
  /** Another PVC's request took the cluster's archive in this round. */
  readonly clusterBusy: boolean
  readonly now: Date
}

/** What to do about a PVC's archive request, given the cluster's hsm.archiveStatus. */
export const decideArchive = (input: ArchiveObservation): HsmDecision => {
  const value = input.annotations[hsmAnnotations.archive]
  if (value === undefined) return nothing
  const recorded = Option.getOrUndefined(readWorkState(input.annotations[hsmAnnotations.archiveState]))
  const time = input.now.toISOString()
  const parsed = parseArchiveRequest(value)
  if (Result.isFailure(parsed)) {
    const { id, problem } = parsed.failure
    if (recorded?.request === id && recorded.state === "Invalid") return nothing
    const next: HsmWorkState = { request: id, state: "Invalid", time, error: problem }
    return { ...nothing, annotations: writeIfChanged(hsmAnnotations.archiveState, recorded, next), events: [{ type: "Warning", reason: "ArchiveRefused", note: problem }] }
  }
  const same = recorded?.request === parsed.success.id ? recorded : undefined
  const cancel = cancelNames(input.annotations[hsmAnnotations.archiveCancel], parsed.success.id)
  if (same !== undefined && isFinalState(same.state)) return nothing
  if (same === undefined && readStartedRequests(input.annotations[hsmAnnotations.archiveStarted]).includes(parsed.success.id)) {
    return ranBefore("archive", hsmAnnotations.archiveState, { request: parsed.success.id, state: "Lost", path: parsed.success.path, time })
  }
  const asked = same === undefined || same.state === "Queued" ? undefined : same
  // A request asked of ARM is the path it was asked for: a path edited under the same id afterwards
  // changes nothing (a request runs once), and its status is still that path's.
  const request: ArchiveRequest = asked?.path === undefined ? parsed.success : { ...parsed.success, path: asked.path }
  const startedAt = asked?.startedAt === undefined ? undefined : Date.parse(asked.startedAt)
  const pathStatus = asked === undefined ? undefined : input.archiveStatus.find((candidate) => candidate.filesystemPath === request.path)
  const whose = pathStatus === undefined ? "none" : archiveOf(pathStatus, startedAt)
  if (asked !== undefined && whose === "later") {
    // Another archive of the path started since: this one ended while the controller could not see it.
    const next: HsmWorkState = {
      ...asked,
      state: "Lost",
      time,
      error: `ARM's status of ${request.path} is of a later archive: the outcome of this one is unknown`
    }
    return { ...nothing, annotations: writeIfChanged(hsmAnnotations.archiveState, asked, next), events: [{ type: "Warning", reason: "ArchiveFailed", note: next.error ?? "" }] }
  }
  const status = whose === "ours" ? pathStatus : undefined
  // Started and not yet in ARM's status: wait. Starting and not in it: the POST never reached ARM.
  if (asked !== undefined && status === undefined && asked.state !== "Starting") return nothing
  if (same !== undefined && status !== undefined) {
    const error = status.errorMessage ?? status.errorCode
    const next: HsmWorkState = {
      request: request.id,
      state: status.state,
      path: request.path,
      time,
      ...(same.startedAt === undefined ? {} : { startedAt: same.startedAt }),
      ...(status.percentComplete === undefined ? {} : { percent: status.percentComplete }),
      ...(status.state === "Failed" && error !== undefined ? { error } : {})
    }
    const ended = archiveEnded[status.state]
    const annotations = {
      ...writeIfChanged(hsmAnnotations.archiveState, same, next),
      ...(ended !== undefined ? { [hsmAnnotations.lastArchive]: writeWorkState(next) } : {})
    }
    const events: ReadonlyArray<HsmEventNote> = ended !== undefined
      ? [{ type: ended.type, reason: ended.reason, note: `archive of ${request.path} ${status.state}${next.error === undefined ? "" : `: ${next.error}`}` }]
      : []
    const canCancel = cancel && isArchiveRunning(status) && status.state !== "Cancelling"
    return { before: {}, action: canCancel ? Option.some({ _tag: "CancelArchive" }) : Option.none(), annotations, events, occupies: false }
  }
  if (cancel) {
    const next: HsmWorkState = { request: request.id, state: "Canceled", path: request.path, time }
    return { ...nothing, annotations: writeIfChanged(hsmAnnotations.archiveState, same, next), events: [{ type: "Normal", reason: "ArchiveCanceled", note: `archive ${request.id} canceled before it started` }] }
  }
  if (input.clusterBusy || input.archiveStatus.some(isArchiveRunning)) {
    const next: HsmWorkState = { request: request.id, state: "Queued", path: request.path, time }
    return {
      ...nothing,
      annotations: writeIfChanged(hsmAnnotations.archiveState, same, next),
      events: same === undefined ? [{ type: "Normal", reason: "ArchiveQueued", note: `archive ${request.id} waits for the cluster's running archive` }] : []
    }
  }
  const next: HsmWorkState = { request: request.id, state: "Started", path: request.path, time, startedAt: time }
  return {
    before: {
      [hsmAnnotations.archiveState]: writeWorkState({ ...next, state: "Starting" }),
      [hsmAnnotations.archiveStarted]: withStartedRequest(input.annotations[hsmAnnotations.archiveStarted], request.id)
    },
    action: Option.some({ _tag: "StartArchive", request }),
    annotations: { [hsmAnnotations.archiveState]: writeWorkState(next) },
    events: [{ type: "Normal", reason: "ArchiveStarted", note: `archive of ${request.path} started` }],
    occupies: true
  }
}
