/**
 * The live layer's blob-integration calls: import, auto-export and auto-import jobs and
 * archive / cancelArchive, as hand-written REST requests through the @azure/arm-storagecache
 * client's pipeline (its 7.0.0 knows none of the job sub-resources), each at the api-version
 * that has it (hsmApiVersions). A 404 InvalidResourceType or 400 NoRegisteredProviderFound there
 * is an ArmError whose `missingFeature` names the feature and that api-version.
 */
import type * as Pipeline from "@azure/core-rest-pipeline"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type {
  AmlfsHsmCalls,
  ArmError,
  AutoExportJob,
  AutoExportJobSpec,
  AutoImportJob,
  AutoImportJobSpec,
  hsmApiVersions,
  ImportJob,
  ImportJobSpec
} from "./AmlfsApi.js"
import {
  decodeAutoExportJob,
  decodeAutoExportJobList,
  decodeAutoImportJob,
  decodeAutoImportJobList,
  decodeImportJob,
  decodeImportJobList,
  type Page,
  pageOf,
  toAutoExportJob,
  toAutoImportJob,
  toImportJob
} from "./AmlfsHsmWire.js"

export type HsmApiVersions = { readonly [K in keyof typeof hsmApiVersions]: string }

export interface LiveHsmDeps {
  readonly sendRaw: (
    operation: string,
    method: "GET" | "PUT" | "PATCH" | "POST" | "DELETE",
    url: string,
    body: unknown
  ) => Effect.Effect<Pipeline.PipelineResponse, ArmError>
  /** The filesystem's ARM URL, without a query. */
  readonly filesystemPath: (resourceGroup: string, name: string) => string
  /** A 404 that says the resource is not there (not that the endpoint lacks its type). */
  readonly isAbsent: (response: Pipeline.PipelineResponse) => boolean
  readonly unexpected: (operation: string, what: string, response: Pipeline.PipelineResponse) => ArmError
  readonly invalidResponse: (operation: string, what: string) => ArmError
  readonly onArmHost: (url: string) => boolean
  readonly apiVersions: HsmApiVersions
}

/** One kind of job sub-resource: where it lives, at which api-version, and how it reads. */
interface JobKind<Job, Spec> {
  readonly segment: string
  readonly apiVersion: string
  readonly operations: { readonly get: string; readonly create: string; readonly list: string; readonly stop: string }
  readonly decodeOne: (text: string) => Option.Option<Job>
  readonly decodePage: (text: string) => Page<Job>
  readonly bodyOf: (spec: Spec) => unknown
  /** The PATCH body that cancels or disables a job. */
  readonly stopBody: unknown
}

export const makeLiveHsmCalls = (deps: LiveHsmDeps) => {
  const { sendRaw, unexpected, invalidResponse } = deps
  const jobUrl = (kind: JobKind<unknown, unknown>, resourceGroup: string, filesystemName: string, job: string) =>
    `${deps.filesystemPath(resourceGroup, filesystemName)}/${kind.segment}/${encodeURIComponent(job)}?api-version=${encodeURIComponent(kind.apiVersion)}`
  const listUrl = (kind: JobKind<unknown, unknown>, resourceGroup: string, filesystemName: string) =>
    `${deps.filesystemPath(resourceGroup, filesystemName)}/${kind.segment}?api-version=${encodeURIComponent(kind.apiVersion)}`

  const callsOf = <Job, Spec>(kind: JobKind<Job, Spec>) => {
    const untyped = kind as unknown as JobKind<unknown, unknown>

    const get = (resourceGroup: string, filesystemName: string, jobName: string) =>
      Effect.gen(function*() {
        const what = `${filesystemName}/${jobName}`
        const response = yield* sendRaw(kind.operations.get, "GET", jobUrl(untyped, resourceGroup, filesystemName, jobName), undefined)
        if (deps.isAbsent(response)) return Option.none<Job>()
        if (response.status !== 200) return yield* unexpected(kind.operations.get, what, response)
        const decoded = kind.decodeOne(response.bodyAsText ?? "")
        if (Option.isNone(decoded)) return yield* invalidResponse(kind.operations.get, what)
        return decoded
      })

    const begin = (resourceGroup: string, filesystemName: string, jobName: string, spec: Spec) =>
      Effect.gen(function*() {
        const url = jobUrl(untyped, resourceGroup, filesystemName, jobName)
        const response = yield* sendRaw(kind.operations.create, "PUT", url, kind.bodyOf(spec))
        if (response.status === 200 || response.status === 201 || response.status === 202) return
        return yield* unexpected(kind.operations.create, `${filesystemName}/${jobName}`, response)
      })

    const list = (resourceGroup: string, filesystemName: string) =>
      Effect.gen(function*() {
        const jobs: Array<Job> = []
        let url: string | undefined = listUrl(untyped, resourceGroup, filesystemName)
        // ARM keeps at most 10 jobs; the bound only guards against a nextLink that loops.
        for (let page = 0; url !== undefined && page < 100; page++) {
          const response: Pipeline.PipelineResponse = yield* sendRaw(kind.operations.list, "GET", url, undefined)
          if (response.status !== 200) return yield* unexpected(kind.operations.list, filesystemName, response)
          const decoded = kind.decodePage(response.bodyAsText ?? "")
          if (Option.isNone(decoded)) return yield* invalidResponse(kind.operations.list, filesystemName)
          jobs.push(...decoded.value.items)
          const next = decoded.value.nextLink
          // The credential goes with every request: follow ARM's own host only.
          url = next !== undefined && deps.onArmHost(next) ? next : undefined
        }
        const all: ReadonlyArray<Job> = jobs
        return all
      })

    const stop = (resourceGroup: string, filesystemName: string, jobName: string) =>
      Effect.gen(function*() {
        const url = jobUrl(untyped, resourceGroup, filesystemName, jobName)
        const response = yield* sendRaw(kind.operations.stop, "PATCH", url, kind.stopBody)
        if (response.status === 200 || response.status === 202) return
        return yield* unexpected(kind.operations.stop, `${filesystemName}/${jobName}`, response)
      })

    return { get, begin, list, stop }
  }

  const withoutUndefined = (properties: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(properties).filter(([, value]) => value !== undefined))

  const imports = callsOf<ImportJob, ImportJobSpec>({
    segment: "importJobs",
    apiVersion: deps.apiVersions.importJobs,
    operations: { get: "getImportJob", create: "createImportJob", list: "listImportJobs", stop: "cancelImportJob" },
    decodeOne: (text) => Option.map(decodeImportJob(text), (job) => toImportJob("", job)),
    decodePage: (text) => pageOf(decodeImportJobList(text), (job) => toImportJob("", job)),
    bodyOf: (spec) => ({
      location: spec.location,
      properties: withoutUndefined({
        importPrefixes: spec.importPrefixes,
        conflictResolutionMode: spec.conflictResolutionMode,
        maximumErrors: spec.maximumErrors
      })
    }),
    stopBody: { properties: { adminStatus: "Cancel" } }
  })

  const autoExports = callsOf<AutoExportJob, AutoExportJobSpec>({
    segment: "autoExportJobs",
    apiVersion: deps.apiVersions.autoExportJobs,
    operations: { get: "getAutoExportJob", create: "createAutoExportJob", list: "listAutoExportJobs", stop: "disableAutoExportJob" },
    decodeOne: (text) => Option.map(decodeAutoExportJob(text), (job) => toAutoExportJob("", job)),
    decodePage: (text) => pageOf(decodeAutoExportJobList(text), (job) => toAutoExportJob("", job)),
    bodyOf: (spec) => ({ location: spec.location, properties: { autoExportPrefixes: spec.autoExportPrefixes, adminStatus: "Enable" } }),
    stopBody: { properties: { adminStatus: "Disable" } }
  })

  const autoImports = callsOf<AutoImportJob, AutoImportJobSpec>({
    segment: "autoImportJobs",
    apiVersion: deps.apiVersions.autoImportJobs,
    operations: { get: "getAutoImportJob", create: "createAutoImportJob", list: "listAutoImportJobs", stop: "disableAutoImportJob" },
    decodeOne: (text) => Option.map(decodeAutoImportJob(text), (job) => toAutoImportJob("", job)),
    decodePage: (text) => pageOf(decodeAutoImportJobList(text), (job) => toAutoImportJob("", job)),
    bodyOf: (spec) => ({
      location: spec.location,
      properties: withoutUndefined({
        autoImportPrefixes: spec.autoImportPrefixes,
        conflictResolutionMode: spec.conflictResolutionMode,
        enableDeletions: spec.enableDeletions,
        maximumErrors: spec.maximumErrors,
        adminStatus: "Enable"
      })
    }),
    stopBody: { properties: { adminStatus: "Disable" } }
  })

  /** POST amlFilesystems/{fs}/{action}: answered at once, 200. */
  const post = (operation: string, action: string, resourceGroup: string, filesystemName: string, body: unknown) =>
    Effect.gen(function*() {
      const url = `${deps.filesystemPath(resourceGroup, filesystemName)}/${action}?api-version=${encodeURIComponent(deps.apiVersions.archive)}`
      const response = yield* sendRaw(operation, "POST", url, body)
      if (response.status === 200 || response.status === 202 || response.status === 204) return
      return yield* unexpected(operation, filesystemName, response)
    })

  const calls: AmlfsHsmCalls = {
    beginImportJob: Effect.fn("AmlfsApi.beginImportJob")(function*(rg, fs, job, spec) {
      return yield* imports.begin(rg, fs, job, spec)
    }),
    getImportJob: Effect.fn("AmlfsApi.getImportJob")(function*(rg, fs, job) {
      return yield* imports.get(rg, fs, job)
    }),
    listImportJobs: Effect.fn("AmlfsApi.listImportJobs")(function*(rg, fs) {
      return yield* imports.list(rg, fs)
    }),
    cancelImportJob: Effect.fn("AmlfsApi.cancelImportJob")(function*(rg, fs, job) {
      return yield* imports.stop(rg, fs, job)
    }),
    beginAutoExportJob: Effect.fn("AmlfsApi.beginAutoExportJob")(function*(rg, fs, job, spec) {
      return yield* autoExports.begin(rg, fs, job, spec)
    }),
    getAutoExportJob: Effect.fn("AmlfsApi.getAutoExportJob")(function*(rg, fs, job) {
      return yield* autoExports.get(rg, fs, job)
    }),
    listAutoExportJobs: Effect.fn("AmlfsApi.listAutoExportJobs")(function*(rg, fs) {
      return yield* autoExports.list(rg, fs)
    }),
    disableAutoExportJob: Effect.fn("AmlfsApi.disableAutoExportJob")(function*(rg, fs, job) {
      return yield* autoExports.stop(rg, fs, job)
    }),
    beginAutoImportJob: Effect.fn("AmlfsApi.beginAutoImportJob")(function*(rg, fs, job, spec) {
      return yield* autoImports.begin(rg, fs, job, spec)
    }),
    getAutoImportJob: Effect.fn("AmlfsApi.getAutoImportJob")(function*(rg, fs, job) {
      return yield* autoImports.get(rg, fs, job)
    }),
    listAutoImportJobs: Effect.fn("AmlfsApi.listAutoImportJobs")(function*(rg, fs) {
      return yield* autoImports.list(rg, fs)
    }),
    disableAutoImportJob: Effect.fn("AmlfsApi.disableAutoImportJob")(function*(rg, fs, job) {
      return yield* autoImports.stop(rg, fs, job)
    }),
    archive: Effect.fn("AmlfsApi.archive")(function*(rg, fs, filesystemPath) {
      return yield* post("archiveAmlFilesystem", "archive", rg, fs, { filesystemPath })
    }),
    cancelArchive: Effect.fn("AmlfsApi.cancelArchive")(function*(rg, fs) {
      return yield* post("cancelArchiveAmlFilesystem", "cancelArchive", rg, fs, undefined)
    })
  }
  return calls
}
