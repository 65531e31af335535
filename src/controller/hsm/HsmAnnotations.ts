import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { parseBlobPrefixList } from "../../domain/BlobPrefixes.js"
import { quote } from "../../domain/BoundedText.js"

/**
 * On-demand blob work asked for on a PVC, and its state written back, without CRDs.
 *
 * Requests (written by users):
 * - `azurelustre.csi.azure.com/import`: `[<request-id>:]<prefixes>`, comma-separated blob
 *   prefixes as the `import-prefixes` parameter takes them (at most 100).
 * - `azurelustre.csi.azure.com/archive`: `[<request-id>:]<path>`, a path of the filesystem
 *   (`/` for all of it).
 * - `…/import-cancel`, `…/archive-cancel`: a request id, or `true` for the current request.
 * A request id is 1-64 letters, digits, `-` and `_`, beginning and ending with a letter or a
 * digit; without one, the id is a hash of the value, so the same value is the same request.
 * The import job is named `import-<request id>` (ARM's job name rules), so asking again is
 * idempotent, and a request runs once: `…/hsm-import-started` and `…/hsm-archive-started` list
 * the ids of the last 32 requests started on the PVC (comma-separated, newest last), so an id
 * used again after another request is not run again (its state says Lost); each new request
 * takes a new id (or a new value). An archive's path is the one it was started with: editing the
 * path of a started request under the same id changes nothing.
 *
 * State (written by the controller; read back after a restart, so a request never runs twice):
 * `…/hsm-import-state`, `…/hsm-archive-state` and `…/hsm-last-archive` (the last archive that
 * ended) hold one JSON object: `{"request", "state", "job"?, "path"?, "percent"?, "counts"?,
 * "time", "startedAt"?, "error"?}`. `state` is ARM's (InProgress, Completed, CompletedPartial,
 * Failed, Cancelling, Canceled, ...), or the controller's own: Queued (another job of the kind
 * runs on the cluster), Starting (an archive about to be asked: written first, since ARM names
 * no archive), Started (asked, not yet seen in ARM), Invalid (the request is refused:
 * `error` says why), Lost (ARM no longer lists the import job it started, or shows a later archive
 * of the path than the one it asked for: its outcome is unknown). `time` is when it was
 * written (ISO 8601).
 */
export const HSM_ANNOTATION_PREFIX = "azurelustre.csi.azure.com/"

export const hsmAnnotations = {
  import: `${HSM_ANNOTATION_PREFIX}import`,
  importCancel: `${HSM_ANNOTATION_PREFIX}import-cancel`,
  archive: `${HSM_ANNOTATION_PREFIX}archive`,
  archiveCancel: `${HSM_ANNOTATION_PREFIX}archive-cancel`,
  importState: `${HSM_ANNOTATION_PREFIX}hsm-import-state`,
  archiveState: `${HSM_ANNOTATION_PREFIX}hsm-archive-state`,
  lastArchive: `${HSM_ANNOTATION_PREFIX}hsm-last-archive`,
  importStarted: `${HSM_ANNOTATION_PREFIX}hsm-import-started`,
  archiveStarted: `${HSM_ANNOTATION_PREFIX}hsm-archive-started`
} as const

/** How many started request ids a PVC remembers per kind (ARM lists an import job among the 10 most recent). */
export const STARTED_REQUESTS_KEPT = 32

/** The request ids a started-requests annotation lists; anything that is not a request id is ignored. */
export const readStartedRequests = (value: string | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : value.split(",").map((id) => id.trim()).filter(isRequestId)

/** The started-requests annotation with `id` added last (once), keeping the most recent ones. */
export const withStartedRequest = (value: string | undefined, id: string): string =>
  [...readStartedRequests(value).filter((started) => started !== id), id].slice(-STARTED_REQUESTS_KEPT).join(",")


/** At most this many prefixes in one import request (ARM's limit for auto-import; import jobs take as many). */
export const MAX_IMPORT_PREFIXES = 100

const REQUEST_ID = /^[0-9a-zA-Z](?:[-0-9a-zA-Z_]{0,62}[0-9a-zA-Z])?$/

export const isRequestId = (text: string): boolean => REQUEST_ID.test(text)

/** 8 hex digits of FNV-1a over the value's UTF-16 code units: a stable id for a request without one. */
export const shortHash = (text: string): string => {
  let hash = 0x811c9dc5
  for (let at = 0; at < text.length; at++) {
    hash ^= text.charCodeAt(at)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/** `<id>:<rest>` when the text before the first `:` is a request id; else the hash of the whole value. */
const splitRequest = (value: string): { readonly id: string; readonly body: string } => {
  const colon = value.indexOf(":")
  if (colon > 0) {
    const id = value.slice(0, colon).trim()
    if (isRequestId(id)) return { id, body: value.slice(colon + 1).trim() }
  }
  return { id: shortHash(value.trim()), body: value.trim() }
}

export interface ImportRequest {
  readonly id: string
  readonly jobName: string
  readonly prefixes: ReadonlyArray<string>
}

export interface ArchiveRequest {
  readonly id: string
  readonly path: string
}

/** An import job's name for a request: within ARM's ^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$. */
export const importJobName = (requestId: string): string => `import-${requestId}`

/** The import annotation's request, or why it is refused (with its id, so the refusal is written once). */
export const parseImportRequest = (
  value: string
): Result.Result<ImportRequest, { readonly id: string; readonly problem: string }> => {
  const { id, body } = splitRequest(value)
  const { prefixes, problems } = parseBlobPrefixList(body, MAX_IMPORT_PREFIXES)
  if (problems.length > 0) {
    return Result.fail({ id, problem: `${hsmAnnotations.import}: ${problems.join("; ")}` })
  }
  return Result.succeed({ id, jobName: importJobName(id), prefixes })
}

const isControl = (text: string): boolean => [...text].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)

/** The archive annotation's request, or why it is refused. */
export const parseArchiveRequest = (
  value: string
): Result.Result<ArchiveRequest, { readonly id: string; readonly problem: string }> => {
  const { id, body } = splitRequest(value)
  const path = body === "" ? "/" : body
  const refuse = (why: string) => Result.fail({ id, problem: `${hsmAnnotations.archive}: the path ${quote(path)} ${why}` })
  if (!path.startsWith("/")) return refuse(`is not absolute: begin it with "/" ("/" archives everything)`)
  if (isControl(path)) return refuse("has a control character")
  if (path.split("/").some((part) => part === "." || part === "..")) return refuse(`has a "." or ".." component`)
  return Result.succeed({ id, path })
}

/** Whether a cancel annotation's value names this request (`true` names the current one). */
export const cancelNames = (cancel: string | undefined, requestId: string): boolean =>
  cancel !== undefined && (cancel.trim() === "true" || cancel.trim() === requestId)

export const HsmWorkState = Schema.Struct({
  request: Schema.String,
  state: Schema.String,
  job: Schema.optionalKey(Schema.String),
  path: Schema.optionalKey(Schema.String),
  percent: Schema.optionalKey(Schema.Number),
  counts: Schema.optionalKey(Schema.Record(Schema.String, Schema.Number)),
  time: Schema.String,
  startedAt: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(Schema.String)
})
export type HsmWorkState = typeof HsmWorkState.Type

const decodeState = Schema.decodeUnknownOption(Schema.fromJsonString(HsmWorkState))

/** A state annotation as written; None when absent or not ours (a hand edit is overwritten). */
export const readWorkState = (value: string | undefined): Option.Option<HsmWorkState> =>
  value === undefined ? Option.none() : decodeState(value)

export const writeWorkState = (state: HsmWorkState): string => JSON.stringify(state)

/** The states after which nothing more happens to a request. */
export const isFinalState = (state: string): boolean =>
  ["Completed", "CompletedPartial", "Failed", "Canceled", "Invalid", "Lost"].includes(state)

/** The id of a request annotation's value, whether or not the rest of it is valid. */
export const requestIdOf = (parsed: Result.Result<{ readonly id: string }, { readonly id: string }>): string =>
  Result.isSuccess(parsed) ? parsed.success.id : parsed.failure.id

/** A request whose final state is written for that very request: nothing is left to do for it. */
const isSettled = (value: string | undefined, state: string | undefined, idOf: (value: string) => string): boolean => {
  if (value === undefined) return true
  const recorded = Option.getOrUndefined(readWorkState(state))
  return recorded !== undefined && recorded.request === idOf(value) && isFinalState(recorded.state)
}

/**
 * Whether a PVC asks for blob work not yet done, and so is worth reading ARM for. A PVC whose
 * requests have all ended keeps its annotations (they say how the work went) but costs no ARM
 * read until one of its requests changes.
 */
export const hasOpenRequest = (annotations: Readonly<Record<string, string>>): boolean =>
  !isSettled(annotations[hsmAnnotations.import], annotations[hsmAnnotations.importState], (value) => requestIdOf(parseImportRequest(value))) ||
  !isSettled(annotations[hsmAnnotations.archive], annotations[hsmAnnotations.archiveState], (value) => requestIdOf(parseArchiveRequest(value)))

