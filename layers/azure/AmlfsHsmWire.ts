/**
 * Blob integration on ARM's wire: Schemas of what ARM sends (properties.hsm, import, auto-export
 * and auto-import jobs and their lists) and their reading into AmlfsHsm's models. ARM may leave
 * any field out or send it as null; counts it did not send read 0.
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { AmlFilesystemHsm, ArchiveStatus, AutoExportJob, AutoImportJob, ImportJob } from "./AmlfsHsm.js"

/** A field ARM may leave out or send as null. */
export const loose = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

const text = loose(Schema.String)
const count = loose(Schema.Number)
const texts = loose(Schema.Array(Schema.String))

export const HsmWire = Schema.Struct({
  settings: loose(Schema.Struct({
    container: text,
    loggingContainer: text,
    importPrefix: text,
    importPrefixesInitial: texts
  })),
  archiveStatus: loose(Schema.Array(Schema.Struct({
    filesystemPath: text,
    status: loose(Schema.Struct({
      state: text,
      lastCompletionTime: text,
      lastStartedTime: text,
      percentComplete: count,
      errorCode: text,
      errorMessage: text
    }))
  })))
})

const ImportJobWire = Schema.Struct({
  name: text,
  properties: loose(Schema.Struct({
    adminStatus: text,
    provisioningState: text,
    importPrefixes: texts,
    conflictResolutionMode: text,
    maximumErrors: count,
    status: loose(Schema.Struct({
      state: text,
      statusMessage: text,
      totalBlobsWalked: count,
      totalBlobsImported: count,
      importedFiles: count,
      importedDirectories: count,
      preexistingFiles: count,
      totalErrors: count,
      totalConflicts: count,
      lastStartedTime: text,
      lastCompletionTime: text
    }))
  }))
})

const AutoExportJobWire = Schema.Struct({
  name: text,
  properties: loose(Schema.Struct({
    adminStatus: text,
    provisioningState: text,
    autoExportPrefixes: texts,
    status: loose(Schema.Struct({
      state: text,
      statusCode: text,
      statusMessage: text,
      totalFilesExported: count,
      totalMiBExported: count,
      totalFilesFailed: count,
      exportIterationCount: count,
      lastSuccessfulIterationCompletionTimeUTC: text,
      currentIterationFilesDiscovered: count,
      currentIterationFilesExported: count,
      currentIterationFilesFailed: count,
      lastStartedTimeUTC: text,
      lastCompletionTimeUTC: text
    }))
  }))
})

const AutoImportJobWire = Schema.Struct({
  name: text,
  properties: loose(Schema.Struct({
    adminStatus: text,
    provisioningState: text,
    autoImportPrefixes: texts,
    conflictResolutionMode: text,
    enableDeletions: loose(Schema.Boolean),
    maximumErrors: count,
    status: loose(Schema.Struct({
      state: text,
      statusCode: text,
      statusMessage: text,
      scanStartTime: text,
      scanEndTime: text,
      totalBlobsWalked: count,
      totalBlobsImported: count,
      importedFiles: count,
      importedDirectories: count,
      preexistingFiles: count,
      totalErrors: count,
      totalConflicts: count,
      lastStartedTimeUTC: text,
      lastCompletionTimeUTC: text
    }))
  }))
})

const listOf = <S extends Schema.Top>(item: S) => Schema.fromJsonString(Schema.Struct({ value: loose(Schema.Array(item)), nextLink: text }))

export const decodeImportJob = Schema.decodeUnknownOption(Schema.fromJsonString(ImportJobWire))
export const decodeImportJobList = Schema.decodeUnknownOption(listOf(ImportJobWire))
export const decodeAutoExportJob = Schema.decodeUnknownOption(Schema.fromJsonString(AutoExportJobWire))
export const decodeAutoExportJobList = Schema.decodeUnknownOption(listOf(AutoExportJobWire))
export const decodeAutoImportJob = Schema.decodeUnknownOption(Schema.fromJsonString(AutoImportJobWire))
export const decodeAutoImportJobList = Schema.decodeUnknownOption(listOf(AutoImportJobWire))

export const dateOf = (value: string | Date | null | undefined): Date | undefined => {
  if (value === undefined || value === null) return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date
}
const orUndefined = <A>(value: A | null | undefined): A | undefined => value ?? undefined
const orZero = (value: number | null | undefined): number => value ?? 0

/** hsm.archiveStatus[] entries, from the wire or from the SDK's model (its dates already parsed). */
interface ArchiveEntryLike {
  readonly filesystemPath?: string | null | undefined
  readonly status?: {
    readonly state?: string | null | undefined
    readonly lastCompletionTime?: string | Date | null | undefined
    readonly lastStartedTime?: string | Date | null | undefined
    readonly percentComplete?: number | null | undefined
    readonly errorCode?: string | null | undefined
    readonly errorMessage?: string | null | undefined
  } | null | undefined
}

const toArchiveStatus = (entry: ArchiveEntryLike): ArchiveStatus => {
  const status = entry.status ?? undefined
  return {
    filesystemPath: entry.filesystemPath ?? "/",
    state: status?.state ?? "Unknown",
    percentComplete: orUndefined(status?.percentComplete),
    lastStartedTime: dateOf(status?.lastStartedTime),
    lastCompletionTime: dateOf(status?.lastCompletionTime),
    errorCode: orUndefined(status?.errorCode),
    errorMessage: orUndefined(status?.errorMessage)
  }
}

/** properties.hsm, when the filesystem has blob integration (settings with a container). */
export const toFilesystemHsm = (hsm: {
  readonly settings?: {
    readonly container?: string | null | undefined
    readonly loggingContainer?: string | null | undefined
    readonly importPrefix?: string | null | undefined
    readonly importPrefixesInitial?: ReadonlyArray<string> | null | undefined
  } | null | undefined
  readonly archiveStatus?: ReadonlyArray<ArchiveEntryLike> | null | undefined
} | null | undefined): AmlFilesystemHsm | undefined => {
  const settings = hsm?.settings ?? undefined
  if (settings?.container == null) return undefined
  const single = settings.importPrefix ?? undefined
  return {
    container: settings.container,
    loggingContainer: settings.loggingContainer ?? "",
    // Older api-versions (and the 7.0.0 SDK's model) have the one importPrefix.
    importPrefixesInitial: settings.importPrefixesInitial ?? (single === undefined ? [] : [single]),
    archiveStatus: (hsm?.archiveStatus ?? []).map(toArchiveStatus)
  }
}

export const toImportJob = (fallbackName: string, job: typeof ImportJobWire.Type): ImportJob => {
  const properties = job.properties ?? undefined
  const status = properties?.status ?? undefined
  return {
    name: job.name ?? fallbackName,
    importPrefixes: properties?.importPrefixes ?? ["/"],
    conflictResolutionMode: properties?.conflictResolutionMode ?? "Fail",
    maximumErrors: properties?.maximumErrors ?? 0,
    adminStatus: properties?.adminStatus ?? "Active",
    provisioningState: orUndefined(properties?.provisioningState),
    status: {
      state: status?.state ?? "Unknown",
      statusMessage: orUndefined(status?.statusMessage),
      totalBlobsWalked: orZero(status?.totalBlobsWalked),
      totalBlobsImported: orZero(status?.totalBlobsImported),
      importedFiles: orZero(status?.importedFiles),
      importedDirectories: orZero(status?.importedDirectories),
      preexistingFiles: orZero(status?.preexistingFiles),
      totalErrors: orZero(status?.totalErrors),
      totalConflicts: orZero(status?.totalConflicts),
      lastStartedTime: dateOf(status?.lastStartedTime),
      lastCompletionTime: dateOf(status?.lastCompletionTime)
    }
  }
}

export const toAutoExportJob = (fallbackName: string, job: typeof AutoExportJobWire.Type): AutoExportJob => {
  const properties = job.properties ?? undefined
  const status = properties?.status ?? undefined
  return {
    name: job.name ?? fallbackName,
    autoExportPrefixes: properties?.autoExportPrefixes ?? ["/"],
    adminStatus: properties?.adminStatus ?? "Enable",
    provisioningState: orUndefined(properties?.provisioningState),
    status: {
      state: status?.state ?? "Unknown",
      statusCode: orUndefined(status?.statusCode),
      statusMessage: orUndefined(status?.statusMessage),
      totalFilesExported: orZero(status?.totalFilesExported),
      totalMiBExported: orZero(status?.totalMiBExported),
      totalFilesFailed: orZero(status?.totalFilesFailed),
      exportIterationCount: orZero(status?.exportIterationCount),
      lastSuccessfulIterationCompletionTime: dateOf(status?.lastSuccessfulIterationCompletionTimeUTC),
      currentIterationFilesDiscovered: orZero(status?.currentIterationFilesDiscovered),
      currentIterationFilesExported: orZero(status?.currentIterationFilesExported),
      currentIterationFilesFailed: orZero(status?.currentIterationFilesFailed),
      lastStartedTime: dateOf(status?.lastStartedTimeUTC),
      lastCompletionTime: dateOf(status?.lastCompletionTimeUTC)
    }
  }
}

export const toAutoImportJob = (fallbackName: string, job: typeof AutoImportJobWire.Type): AutoImportJob => {
  const properties = job.properties ?? undefined
  const status = properties?.status ?? undefined
  return {
    name: job.name ?? fallbackName,
    autoImportPrefixes: properties?.autoImportPrefixes ?? ["/"],
    conflictResolutionMode: properties?.conflictResolutionMode ?? "Skip",
    enableDeletions: properties?.enableDeletions ?? false,
    maximumErrors: properties?.maximumErrors ?? 0,
    adminStatus: properties?.adminStatus ?? "Enable",
    provisioningState: orUndefined(properties?.provisioningState),
    status: {
      state: status?.state ?? "Unknown",
      statusCode: orUndefined(status?.statusCode),
      statusMessage: orUndefined(status?.statusMessage),
      totalBlobsWalked: orZero(status?.totalBlobsWalked),
      totalBlobsImported: orZero(status?.totalBlobsImported),
      importedFiles: orZero(status?.importedFiles),
      importedDirectories: orZero(status?.importedDirectories),
      preexistingFiles: orZero(status?.preexistingFiles),
      totalErrors: orZero(status?.totalErrors),
      totalConflicts: orZero(status?.totalConflicts),
      scanStartTime: dateOf(status?.scanStartTime),
      scanEndTime: dateOf(status?.scanEndTime),
      lastStartedTime: dateOf(status?.lastStartedTimeUTC),
      lastCompletionTime: dateOf(status?.lastCompletionTimeUTC)
    }
  }
}

/** A list page: its items and the next page's URL, or None when it is not the JSON expected. */
export type Page<A> = Option.Option<{ readonly items: ReadonlyArray<A>; readonly nextLink: string | undefined }>

export const pageOf = <W, A>(decoded: Option.Option<{ readonly value?: ReadonlyArray<W> | null; readonly nextLink?: string | null }>, read: (wire: W) => A): Page<A> =>
  Option.map(decoded, (page) => ({ items: (page.value ?? []).map(read), nextLink: page.nextLink ?? undefined }))
