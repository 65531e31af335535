/**
 * What the simulated ARM accepts as blob-integration job requests, and what it refuses, shared by
 * the fake and the ARM emulator (each keeps its own records; the rules are these):
 * - a job name follows ARM's name rule (400 InvalidResourceName);
 * - the filesystem exists (404 ParentResourceNotFound), the job's location is the filesystem's and
 *   the body is valid (400 InvalidParameter);
 * - the same name again asks for what the job is: nothing new starts (ARM's 200); asking for
 *   something else is 400 PropertyChangeNotAllowed;
 * - the filesystem was created with blob integration (400 BadRequest), is Succeeded (409 Conflict)
 *   and has no other active job of the kind (409 Conflict: one import, one auto-export, one
 *   auto-import at a time).
 */
import type { AutoExportJobSpec, AutoImportJobSpec, ConflictResolutionMode, ImportJobSpec } from "./AmlfsHsm.js"
import type { JobRefusal } from "./hsmJobTimeline.js"

const namePattern = /^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/
const conflictModes: ReadonlyArray<string> = ["Fail", "Skip", "OverwriteIfDirty", "OverwriteAlways"]
const MAX_AUTO_IMPORT_PREFIXES = 100

/** The filesystem a job request is for, as the rules need it. */
export interface JobParent {
  readonly name: string
  readonly resourceGroup: string
  readonly location: string
  readonly provisioningState: string
  readonly hasHsm: boolean
}

export type JobKind = "importJobs" | "autoExportJobs" | "autoImportJobs"

const kindWords: Record<JobKind, string> = {
  importJobs: "import job",
  autoExportJobs: "auto-export job",
  autoImportJobs: "auto-import job"
}

const invalid = (message: string): JobRefusal => ({ statusCode: 400, code: "InvalidParameter", message })

export const invalidJobName = (name: string): JobRefusal | undefined =>
  namePattern.test(name) ? undefined : {
    statusCode: 400,
    code: "InvalidResourceName",
    message: `Resource name ${name} is invalid. The name can be up to 80 characters long. It can contain only alphanumeric characters, ` +
      "underscores and hyphens. It must start and end with an alphanumeric."
  }

export const parentNotFound = (kind: JobKind, resourceGroup: string, filesystemName: string): JobRefusal => ({
  statusCode: 404,
  code: "ParentResourceNotFound",
  message: `Failed to perform 'read' on resource(s) of type 'amlFilesystems/${kind}', because the parent resource ` +
    `'/resourceGroups/${resourceGroup}/providers/Microsoft.StorageCache/amlFilesystems/${filesystemName}' could not be found.`
})

export const jobNotFound = (kind: JobKind, resourceGroup: string, filesystemName: string, jobName: string): JobRefusal => ({
  statusCode: 404,
  code: "ResourceNotFound",
  message: `The Resource 'Microsoft.StorageCache/amlFilesystems/${filesystemName}/${kind}/${jobName}' under resource group ` +
    `'${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
})

const sameLocation = (a: string, b: string) => a.replace(/\s+/g, "").toLowerCase() === b.replace(/\s+/g, "").toLowerCase()

/** An import job as asked, with ARM's defaults filled in. */
export interface ImportRequest {
  readonly location: string
  readonly importPrefixes: ReadonlyArray<string>
  readonly conflictResolutionMode: ConflictResolutionMode
  readonly maximumErrors: number
}

export interface AutoExportRequest {
  readonly location: string
  readonly autoExportPrefixes: ReadonlyArray<string>
}

export interface AutoImportRequest {
  readonly location: string
  readonly autoImportPrefixes: ReadonlyArray<string>
  readonly conflictResolutionMode: ConflictResolutionMode
  readonly enableDeletions: boolean
  readonly maximumErrors: number
}

const prefixesOrRoot = (prefixes: ReadonlyArray<string> | undefined) => (prefixes === undefined || prefixes.length === 0 ? ["/"] : [...prefixes])

const modeProblem = (mode: string) =>
  conflictModes.includes(mode) ? undefined : invalid(`The conflictResolutionMode '${mode}' is not one of ${conflictModes.join(", ")}.`)

const maximumErrorsProblem = (maximumErrors: number) =>
  Number.isInteger(maximumErrors) && maximumErrors >= -1
    ? undefined
    : invalid(`The maximumErrors ${maximumErrors} is not valid: use -1 (no limit), 0 or a positive integer.`)

const prefixProblem = (prefixes: ReadonlyArray<string>) =>
  prefixes.some((prefix) => prefix.trim() === "") ? invalid("A blob prefix must not be empty: use '/' for the whole container.") : undefined

export const importRequestOf = (spec: ImportJobSpec): ImportRequest | JobRefusal => {
  const request: ImportRequest = {
    location: spec.location,
    importPrefixes: prefixesOrRoot(spec.importPrefixes),
    conflictResolutionMode: spec.conflictResolutionMode ?? "Fail",
    maximumErrors: spec.maximumErrors ?? 0
  }
  return modeProblem(request.conflictResolutionMode) ?? maximumErrorsProblem(request.maximumErrors) ?? prefixProblem(request.importPrefixes) ??
    request
}

export const autoExportRequestOf = (spec: AutoExportJobSpec): AutoExportRequest | JobRefusal => {
  const request: AutoExportRequest = { location: spec.location, autoExportPrefixes: prefixesOrRoot(spec.autoExportPrefixes) }
  if (request.autoExportPrefixes.length > 1) {
    return invalid(`An auto-export job takes one prefix; ${request.autoExportPrefixes.length} were given.`)
  }
  return prefixProblem(request.autoExportPrefixes) ?? request
}

export const autoImportRequestOf = (spec: AutoImportJobSpec): AutoImportRequest | JobRefusal => {
  const request: AutoImportRequest = {
    location: spec.location,
    autoImportPrefixes: prefixesOrRoot(spec.autoImportPrefixes),
    conflictResolutionMode: spec.conflictResolutionMode ?? "Skip",
    enableDeletions: spec.enableDeletions ?? false,
    maximumErrors: spec.maximumErrors ?? 0
  }
  if (request.autoImportPrefixes.length > MAX_AUTO_IMPORT_PREFIXES) {
    return invalid(`An auto-import job takes at most ${MAX_AUTO_IMPORT_PREFIXES} prefixes; ${request.autoImportPrefixes.length} were given.`)
  }
  return modeProblem(request.conflictResolutionMode) ?? maximumErrorsProblem(request.maximumErrors) ??
    prefixProblem(request.autoImportPrefixes) ?? request
}

export const isRefusal = (value: object): value is JobRefusal => "statusCode" in value

/** What a PUT of a job leads to. */
export type JobDecision<J> =
  | { readonly _tag: "Refused"; readonly refusal: JobRefusal }
  | { readonly _tag: "Exists"; readonly job: J }
  | { readonly _tag: "Start" }

/**
 * The rules every job PUT goes through once its body is read: `sameAsAsked` says whether an
 * existing job of that name is what is asked; `active` is the kind's running job, if one runs.
 */
export const decideJob = <J extends { readonly name: string }>(options: {
  readonly kind: JobKind
  readonly parent: JobParent
  readonly location: string
  readonly existing: J | undefined
  readonly sameAsAsked: (job: J) => boolean
  readonly active: J | undefined
}): JobDecision<J> => {
  const { kind, parent, existing } = options
  const refuse = (refusal: JobRefusal): JobDecision<J> => ({ _tag: "Refused", refusal })
  if (!sameLocation(options.location, parent.location)) {
    return refuse(invalid(`The location '${options.location}' of the ${kindWords[kind]} must be the location of the AML file system, '${parent.location}'.`))
  }
  if (existing !== undefined) {
    return options.sameAsAsked(existing) ? { _tag: "Exists", job: existing } : refuse({
      statusCode: 400,
      code: "PropertyChangeNotAllowed",
      message: `The ${kindWords[kind]} '${existing.name}' exists with other properties; they cannot be changed. Use a new job name.`
    })
  }
  if (!parent.hasHsm) {
    return refuse({
      statusCode: 400,
      code: "BadRequest",
      message: `The AML file system '${parent.name}' has no blob integration (hsm.settings): ${kindWords[kind]}s need a container set ` +
        "when the file system is created."
    })
  }
  if (parent.provisioningState !== "Succeeded") {
    return refuse({
      statusCode: 409,
      code: "Conflict",
      message: `The AML file system '${parent.name}' cannot run an ${kindWords[kind]} while its provisioningState is ${parent.provisioningState}.`
    })
  }
  if (options.active !== undefined) {
    return refuse({
      statusCode: 409,
      code: "Conflict",
      message: `The AML file system '${parent.name}' already has an active ${kindWords[kind]} '${options.active.name}'. ` +
        "Retry after it ends, or cancel or disable it."
    })
  }
  return { _tag: "Start" }
}

/** archive and cancelArchive on a filesystem without blob integration, or not Succeeded. */
export const archiveRefusal = (parent: JobParent, running: { readonly filesystemPath: string } | undefined): JobRefusal | undefined => {
  if (!parent.hasHsm) {
    return {
      statusCode: 400,
      code: "BadRequest",
      message: `The AML file system '${parent.name}' has no blob integration (hsm.settings): archive needs a container set when the ` +
        "file system is created."
    }
  }
  if (parent.provisioningState !== "Succeeded") {
    return {
      statusCode: 409,
      code: "Conflict",
      message: `The AML file system '${parent.name}' cannot archive while its provisioningState is ${parent.provisioningState}.`
    }
  }
  if (running !== undefined) {
    return {
      statusCode: 409,
      code: "Conflict",
      message: `An archive of '${running.filesystemPath}' is in progress on the AML file system '${parent.name}'. ` +
        "Retry after it ends, or cancel it (cancelArchive)."
    }
  }
  return undefined
}

export const sameStrings = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((x, i) => x === b[i])
