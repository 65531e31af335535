/**
 * AMLFS blob integration as ARM describes it: `hsm.settings` at creation, `hsm.archiveStatus`,
 * and the import, auto-export and auto-import job sub-resources of an AML file system. The
 * shapes the driver reads; AmlfsApi's operations return them.
 */

/** An ARM field that may take values this code does not know yet (ARM adds enum values). */
type Open<Known extends string> = Known | (string & Record<never, never>)

/**
 * The api-version each piece of blob integration needs, and the one the live layer sends:
 * - create: `hsm.settings.importPrefixesInitial[]` first appears in 2024-03-01 (2023-05-01, the
 *   only version of @azure/arm-storagecache 7.0.0, knows only `importPrefix`);
 * - importJobs: the sub-resource is 2024-03-01, but `adminStatus` (how a job is cancelled) and the
 *   imported / preexisting counts come with 2024-07-01, so the live layer sends 2024-07-01;
 * - autoExportJobs: 2024-07-01; autoImportJobs: 2025-07-01;
 * - archive and cancelArchive: 2023-05-01 (the SDK's own operations).
 */
export const hsmApiVersions = {
  create: "2024-03-01",
  importJobs: "2024-07-01",
  autoExportJobs: "2024-07-01",
  autoImportJobs: "2025-07-01",
  archive: "2023-05-01"
} as const

/** ARM keeps the 10 most recent jobs of each kind; inactive ones leave the list 72 hours after they ended. */
export const JOB_HISTORY_LENGTH = 10
export const JOB_HISTORY_MILLIS = 72 * 3_600_000

/**
 * The name the ARM emulator and the fake give the import job that a creation with hsm.settings
 * starts (importPrefixesInitial). AMLFS does not document the name of its own: a controller must
 * not rely on this one outside the simulation (list the import jobs instead).
 */
export const INITIAL_IMPORT_JOB_NAME = "initial-import"

/** hsm.settings: read and create only; both containers are ARM ids of one storage account's containers. */
export interface HsmSettings {
  /** The container the namespace is imported from and archived to. */
  readonly container: string
  /** AMLFS's log container: another container of the same storage account. */
  readonly loggingContainer: string
  /** Blob prefixes imported at creation (ARM's default is "/": everything). */
  readonly importPrefixesInitial: ReadonlyArray<string>
}

export type ArchiveState = Open<
  "NotConfigured" | "Idle" | "InProgress" | "Canceled" | "Completed" | "Failed" | "Cancelling" | "FSScanInProgress"
>

/** One entry of hsm.archiveStatus[]: the last archive of a filesystem path. */
export interface ArchiveStatus {
  /** The path archived, relative to the filesystem root ("/" for everything). */
  readonly filesystemPath: string
  readonly state: ArchiveState
  /** 0..100, while it runs and once it completed. */
  readonly percentComplete: number | undefined
  readonly lastStartedTime: Date | undefined
  readonly lastCompletionTime: Date | undefined
  readonly errorCode: string | undefined
  readonly errorMessage: string | undefined
}

/** properties.hsm of a filesystem created with blob integration. */
export interface AmlFilesystemHsm extends HsmSettings {
  readonly archiveStatus: ReadonlyArray<ArchiveStatus>
}

/** What an import does with a path that exists already (ARM's default for import jobs: Fail). */
export type ConflictResolutionMode = Open<"Fail" | "Skip" | "OverwriteIfDirty" | "OverwriteAlways">

export type ImportJobState = Open<"InProgress" | "Cancelling" | "Canceled" | "Completed" | "CompletedPartial" | "Failed">

/** PUT importJobs/{name}: what to import. */
export interface ImportJobSpec {
  /** The filesystem's location: a job is a tracked resource in it. */
  readonly location: string
  /** Blob prefixes to import ("/" for everything). */
  readonly importPrefixes: ReadonlyArray<string>
  /** Default Fail, as ARM's. */
  readonly conflictResolutionMode?: ConflictResolutionMode
  /** Errors tolerated before the job fails: 0 (ARM's default) none, -1 any number. */
  readonly maximumErrors?: number
}

/** An import job: amlFilesystems/{fs}/importJobs/{name}. Counts are 0 when ARM did not report them. */
export interface ImportJob {
  readonly name: string
  readonly importPrefixes: ReadonlyArray<string>
  readonly conflictResolutionMode: ConflictResolutionMode
  readonly maximumErrors: number
  /** Active, or Cancel once a cancel was asked. */
  readonly adminStatus: Open<"Active" | "Cancel">
  /** The job resource's ARM provisioningState. */
  readonly provisioningState: string | undefined
  readonly status: {
    /** "Unknown" when ARM sent none. */
    readonly state: ImportJobState
    readonly statusMessage: string | undefined
    readonly totalBlobsWalked: number
    readonly totalBlobsImported: number
    readonly importedFiles: number
    readonly importedDirectories: number
    readonly preexistingFiles: number
    readonly totalErrors: number
    readonly totalConflicts: number
    readonly lastStartedTime: Date | undefined
    readonly lastCompletionTime: Date | undefined
  }
}

export type AutoJobAdminStatus = Open<"Enable" | "Disable">

export type AutoExportJobState = Open<"InProgress" | "Disabling" | "Disabled" | "DisableFailed" | "Failed">

/** PUT autoExportJobs/{name}. */
export interface AutoExportJobSpec {
  readonly location: string
  /** ARM allows one prefix for now. */
  readonly autoExportPrefixes: ReadonlyArray<string>
}

/** An auto-export job: amlFilesystems/{fs}/autoExportJobs/{name}, exporting new and changed files on its own. */
export interface AutoExportJob {
  readonly name: string
  readonly autoExportPrefixes: ReadonlyArray<string>
  readonly adminStatus: AutoJobAdminStatus
  readonly provisioningState: string | undefined
  readonly status: {
    readonly state: AutoExportJobState
    readonly statusCode: string | undefined
    readonly statusMessage: string | undefined
    readonly totalFilesExported: number
    readonly totalMiBExported: number
    readonly totalFilesFailed: number
    readonly exportIterationCount: number
    readonly lastSuccessfulIterationCompletionTime: Date | undefined
    readonly currentIterationFilesDiscovered: number
    readonly currentIterationFilesExported: number
    readonly currentIterationFilesFailed: number
    readonly lastStartedTime: Date | undefined
    readonly lastCompletionTime: Date | undefined
  }
}

export type AutoImportJobState = Open<"InProgress" | "Failed" | "Disabling" | "Disabled">

/** PUT autoImportJobs/{name}. */
export interface AutoImportJobSpec {
  readonly location: string
  /** At most 100 prefixes. */
  readonly autoImportPrefixes: ReadonlyArray<string>
  /** Default Skip, as ARM's for auto-import. */
  readonly conflictResolutionMode?: ConflictResolutionMode
  /** Whether blobs deleted are deleted from the filesystem (default false). */
  readonly enableDeletions?: boolean
  /** Default 0; -1: any number. */
  readonly maximumErrors?: number
}

/** An auto-import job: amlFilesystems/{fs}/autoImportJobs/{name}, following the container's changes. */
export interface AutoImportJob {
  readonly name: string
  readonly autoImportPrefixes: ReadonlyArray<string>
  readonly conflictResolutionMode: ConflictResolutionMode
  readonly enableDeletions: boolean
  readonly maximumErrors: number
  readonly adminStatus: AutoJobAdminStatus
  readonly provisioningState: string | undefined
  readonly status: {
    readonly state: AutoImportJobState
    readonly statusCode: string | undefined
    readonly statusMessage: string | undefined
    readonly totalBlobsWalked: number
    readonly totalBlobsImported: number
    readonly importedFiles: number
    readonly importedDirectories: number
    readonly preexistingFiles: number
    readonly totalErrors: number
    readonly totalConflicts: number
    readonly scanStartTime: Date | undefined
    readonly scanEndTime: Date | undefined
    readonly lastStartedTime: Date | undefined
    readonly lastCompletionTime: Date | undefined
  }
}

/** A blob container named by its ARM id. */
export interface BlobContainerId {
  readonly subscriptionId: string
  readonly resourceGroup: string
  readonly storageAccount: string
  readonly container: string
}

const containerIdPattern =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)\/blobServices\/default\/containers\/([^/]+)$/i

/** The parts of `/subscriptions/…/storageAccounts/{account}/blobServices/default/containers/{container}`; undefined when it is not one. */
export const blobContainerOf = (armId: string): BlobContainerId | undefined => {
  const match = containerIdPattern.exec(armId)
  if (match === null) return undefined
  const [, subscriptionId, resourceGroup, storageAccount, container] = match
  if (subscriptionId === undefined || resourceGroup === undefined || storageAccount === undefined || container === undefined) return undefined
  return { subscriptionId, resourceGroup, storageAccount, container }
}

/**
 * Why ARM would refuse these hsm.settings, in ARM's words; undefined when they are acceptable:
 * both ARM ids of blob containers, in one storage account, two different containers.
 */
export const hsmSettingsProblem = (settings: HsmSettings): string | undefined => {
  const container = blobContainerOf(settings.container)
  const logging = blobContainerOf(settings.loggingContainer)
  if (container === undefined) return `The property 'hsm.settings.container' is not a blob container ARM id: '${settings.container}'.`
  if (logging === undefined) {
    return `The property 'hsm.settings.loggingContainer' is not a blob container ARM id: '${settings.loggingContainer}'.`
  }
  const account = (id: BlobContainerId) => `${id.subscriptionId}/${id.resourceGroup}/${id.storageAccount}`.toLowerCase()
  if (account(container) !== account(logging)) {
    return "The logging container must be in the same storage account as the container: " +
      `'${settings.loggingContainer}' is not in the account of '${settings.container}'.`
  }
  if (container.container.toLowerCase() === logging.container.toLowerCase()) {
    return `The logging container must be a separate container from the container '${container.container}'.`
  }
  return undefined
}

/** The prefixes a creation imports: none given means ARM's default, "/". */
export const effectivePrefixes = (prefixes: ReadonlyArray<string>): ReadonlyArray<string> => (prefixes.length === 0 ? ["/"] : prefixes)

/** Whether two hsm.settings ask for the same thing (ARM ids compare case-insensitively; no prefixes is "/"). */
export const sameHsmSettings = (a: HsmSettings | undefined, b: HsmSettings | undefined): boolean => {
  if (a === undefined || b === undefined) return a === b
  const prefixesA = effectivePrefixes(a.importPrefixesInitial)
  const prefixesB = effectivePrefixes(b.importPrefixesInitial)
  return a.container.toLowerCase() === b.container.toLowerCase() &&
    a.loggingContainer.toLowerCase() === b.loggingContainer.toLowerCase() &&
    prefixesA.length === prefixesB.length &&
    prefixesA.every((prefix, i) => prefix === prefixesB[i])
}
