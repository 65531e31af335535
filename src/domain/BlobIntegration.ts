import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import {
  BLOB_CONTAINER_ID_FORM,
  BlobContainerId,
  blobContainerIdOf,
  inSameStorageAccount,
  parseBlobContainerId
} from "./BlobContainerId.js"
import { parseBlobPrefixList } from "./BlobPrefixes.js"
import { quote } from "./BoundedText.js"

/**
 * Azure Blob integration of a cluster CreateVolume creates (AMLFS `hsm.settings`, fixed at
 * creation, and the import / auto-import / auto-export jobs started after it), asked for by
 * StorageClass parameters. Static volumes do not create a cluster, so these are parameters of
 * dynamic provisioning only.
 */
export const blobIntegrationParameterNames = [
  "blob-container",
  "blob-logging-container",
  "import-prefixes",
  "auto-import",
  "auto-import-conflict-resolution",
  "auto-export",
  "archive-on-delete"
] as const
export type BlobIntegrationParameterName = typeof blobIntegrationParameterNames[number]

/** What an import job does with a blob whose path already exists in the filesystem (ARM's conflictResolutionMode). */
export const CONFLICT_RESOLUTION_MODES = ["Fail", "Skip", "OverwriteIfDirty", "OverwriteAlways"] as const
export type ConflictResolutionMode = typeof CONFLICT_RESOLUTION_MODES[number]
/** ARM's default for an auto-import job. */
export const DEFAULT_AUTO_IMPORT_CONFLICT_RESOLUTION: ConflictResolutionMode = "Skip"

/** ARM documents no limit for importPrefixesInitial; the driver takes as many as an auto-import job may have. */
export const MAX_IMPORT_PREFIXES = 100
/** autoImportPrefixes: "maximum allowed paths is 100". */
export const MAX_AUTO_IMPORT_PREFIXES = 100
/** autoExportPrefixes: "Number of maximum allowed paths for now is 1". */
export const MAX_AUTO_EXPORT_PREFIXES = 1

export const BlobIntegration = Schema.Struct({
  /** Imported from at creation, archived and exported to (hsm.settings.container). */
  container: BlobContainerId,
  /** Where AMLFS writes its job logs: another container of the same storage account (hsm.settings.loggingContainer). */
  loggingContainer: BlobContainerId,
  /** The blob name prefixes imported when the cluster is created (hsm.settings.importPrefixesInitial), each beginning with "/". */
  importPrefixes: Schema.Array(Schema.String),
  /** An auto-import job keeping these prefixes in sync with the container, started once the cluster is ready. */
  autoImport: Schema.UndefinedOr(Schema.Struct({
    prefixes: Schema.Array(Schema.String),
    conflictResolution: Schema.Literals(CONFLICT_RESOLUTION_MODES)
  })),
  /** An auto-export job copying new and changed files under this path to the container. */
  autoExport: Schema.UndefinedOr(Schema.Struct({ prefix: Schema.String })),
  /** Whether DeleteVolume archives the whole filesystem to the container before deleting the cluster. */
  archiveOnDelete: Schema.Boolean
})
export type BlobIntegration = typeof BlobIntegration.Type

const parameter = (name: BlobIntegrationParameterName): string => `StorageClass parameter ${quote(name)}`

/** A string decoded by `parse`, whose failure is the whole message. */
const parsedText = <S extends Schema.Top>(target: S, parse: (text: string) => Result.Result<S["Type"], string>, encode: (value: S["Type"]) => string) =>
  Schema.String.pipe(Schema.decodeTo(target, {
    decode: SchemaGetter.transformOptionalEffect((input: Option.Option<string>) =>
      Option.match(input, {
        onNone: () => Effect.succeedNone,
        onSome: (text) =>
          Result.match(parse(text), {
            onSuccess: (value) => Effect.succeedSome(value),
            onFailure: (message) => Effect.fail(new SchemaIssue.InvalidValue({ message }, Option.some(text)))
          })
      })
    ),
    encode: SchemaGetter.transform(encode)
  }))

const CONTAINER_ID_HINT = `write ${BLOB_CONTAINER_ID_FORM} (the storage account's id, from az storage account show ` +
  "--name <storage-account> --query id --output tsv, followed by /blobServices/default/containers/<container>)"

const containerIdText = (name: "blob-container" | "blob-logging-container") =>
  parsedText(BlobContainerId, (text) =>
    Result.mapError(parseBlobContainerId(text), (problem) =>
      `${parameter(name)} is ${quote(text)}, not a blob container resource id: ${problem}; ${CONTAINER_ID_HINT}`
    ), (container) => container.id)

const prefixListText = (name: "import-prefixes" | "auto-import" | "auto-export", limit: number, fix: string) =>
  parsedText(Schema.Array(Schema.String), (text) => {
    const { prefixes, problems } = parseBlobPrefixList(text, limit)
    return problems.length === 0 ? Result.succeed(prefixes) : Result.fail(`${parameter(name)} is ${quote(text)}: ${problems.join(", ")}; ${fix}`)
  }, (prefixes) => prefixes.join(","))

const ConflictResolutionText = parsedText(Schema.Literals(CONFLICT_RESOLUTION_MODES), (text) => {
  const mode = CONFLICT_RESOLUTION_MODES.find((candidate) => candidate === text)
  return mode !== undefined
    ? Result.succeed(mode)
    : Result.fail(
      `${parameter("auto-import-conflict-resolution")} is ${quote(text)}, not a conflict resolution mode: use Fail, ` +
        `Skip (the default), OverwriteIfDirty or OverwriteAlways (case matters)`
    )
}, (mode) => mode)

const BooleanText = parsedText(Schema.Boolean, (text) =>
  text === "true" || text === "false"
    ? Result.succeed(text === "true")
    : Result.fail(
      `${parameter("archive-on-delete")} is ${quote(text)}, not true or false: true (the default with blob-container) ` +
        "archives the whole filesystem to the container before the cluster is deleted; false deletes the cluster " +
        "with whatever was never exported"
    ), (archive) => String(archive))

/** The parameters as given (empty ones left out), each checked alone; how they combine is checked by blobIntegrationOf. */
export const BlobIntegrationParameters = Schema.Struct({
  "blob-container": Schema.optionalKey(containerIdText("blob-container")),
  "blob-logging-container": Schema.optionalKey(containerIdText("blob-logging-container")),
  "import-prefixes": Schema.optionalKey(prefixListText(
    "import-prefixes",
    MAX_IMPORT_PREFIXES,
    `write the blob name prefixes to import when the cluster is created, separated by commas, such as ` +
      `/datasets,/models (at most ${MAX_IMPORT_PREFIXES}; "/", the default, imports the whole container)`
  )),
  "auto-import": Schema.optionalKey(prefixListText(
    "auto-import",
    MAX_AUTO_IMPORT_PREFIXES,
    `write the blob name prefixes an auto-import job keeps in sync with the container, separated by commas, such ` +
      `as /datasets,/models (at most ${MAX_AUTO_IMPORT_PREFIXES}; "/" for the whole container)`
  )),
  "auto-import-conflict-resolution": Schema.optionalKey(ConflictResolutionText),
  "auto-export": Schema.optionalKey(prefixListText(
    "auto-export",
    MAX_AUTO_EXPORT_PREFIXES,
    `write the one path an auto-export job exports new and changed files from, such as /results ` +
      `(Azure Managed Lustre allows one per job; "/" for the whole filesystem)`
  )),
  "archive-on-delete": Schema.optionalKey(BooleanText)
})

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const listOf = (names: ReadonlyArray<string>): string =>
  names.length === 1 ? quote(names[0] ?? "") : `${names.slice(0, -1).map(quote).join(", ")} and ${quote(names.at(-1) ?? "")}`

const needsContainer = (names: ReadonlyArray<string>): string => {
  const one = names.length === 1
  return `StorageClass parameter${one ? "" : "s"} ${listOf(names)} ${one ? "needs" : "need"} blob-container: ` +
    `${one ? "it configures" : "they configure"} the blob integration that blob-container turns on; set blob-container ` +
    `to the container's resource id (${BLOB_CONTAINER_ID_FORM}), or remove ${one ? "it" : "them"}`
}

/** The id of a container to create in `container`'s storage account, for messages. */
const siblingIdOf = (container: BlobContainerId): string => blobContainerIdOf({ ...container, name: "<logging-container>" }).id

const createCommand = (container: BlobContainerId): string =>
  `az storage container create --account-name ${container.storageAccount} --name <logging-container> --auth-mode login`

const createSibling = (container: BlobContainerId): string =>
  `create one (${createCommand(container)}) and set blob-logging-container to ${siblingIdOf(container)}`

const loggingContainerMissing = (container: BlobContainerId | undefined): string =>
  `${parameter("blob-logging-container")} is required with blob-container: Azure Managed Lustre writes its job logs ` +
  `to a second container of the same storage account; ` +
  (container === undefined ? "name another container of blob-container's storage account" : createSibling(container))

/** The parts of the storage account's id in which `logging` differs from `container`. */
const differences = (container: BlobContainerId, logging: BlobContainerId): string =>
  [
    ["subscription", container.subscription.toLowerCase() !== logging.subscription.toLowerCase(), logging.subscription, container.subscription],
    ["resource group", container.resourceGroup.toLowerCase() !== logging.resourceGroup.toLowerCase(), logging.resourceGroup, container.resourceGroup],
    ["storage account", container.storageAccount !== logging.storageAccount, logging.storageAccount, container.storageAccount]
  ].flatMap(([part, differs, its, theirs]) => differs === true ? [`its ${part} is ${quote(String(its))}, blob-container's ${quote(String(theirs))}`] : [])
    .join(", ")

/** Why the logging container cannot go with the container, or undefined. */
const pairingProblem = (container: BlobContainerId, logging: BlobContainerId): string | undefined => {
  if (!inSameStorageAccount(container, logging)) {
    return `${parameter("blob-logging-container")} is not in blob-container's storage account (${differences(container, logging)}): ` +
      `Azure Managed Lustre requires the logging container in the same storage account; name a container of that ` +
      `account, ${siblingIdOf(container)} (create it with ${createCommand(container)})`
  }
  if (container.name === logging.name) {
    return `${parameter("blob-logging-container")} names the same container as blob-container (${quote(container.name)}): ` +
      `Azure Managed Lustre requires a separate container for its logs; ${createSibling(container)}`
  }
  return undefined
}

const conflictResolutionWithoutAutoImport =
  `${parameter("auto-import-conflict-resolution")} needs auto-import: it says what the auto-import job does with a blob ` +
  "whose path already exists in the filesystem; set auto-import to the prefixes to keep in sync, or remove " +
  "auto-import-conflict-resolution"

const successOr = <A>(result: Result.Result<A, string>): A | undefined => Result.isSuccess(result) ? result.success : undefined

/**
 * The blob integration the StorageClass parameters ask for (undefined without `blob-container`),
 * with the defaults: every blob imported at creation ("/"), conflicts of auto-import skipped, the
 * filesystem archived before deletion. Empty values count as not set. The failure is every
 * problem, each naming its parameter, what is wrong and the fix: a bad value, a parameter without
 * blob-container (or auto-import-conflict-resolution without auto-import), a missing
 * blob-logging-container, or one in another storage account or the same container.
 */
export const blobIntegrationOf = (
  parameters: Readonly<Record<string, string>>
): Result.Result<BlobIntegration | undefined, ReadonlyArray<string>> => {
  const given: Partial<Record<BlobIntegrationParameterName, string>> = {}
  for (const name of blobIntegrationParameterNames) {
    const value = parameters[name]
    if (value !== undefined && value !== "") given[name] = value
  }
  const problems: Array<string> = []
  const decoded = Schema.decodeUnknownResult(BlobIntegrationParameters, { errors: "all" })(given)
  if (Result.isFailure(decoded)) problems.push(...formatter(decoded.failure.issue).issues.map((issue) => issue.message))

  const containerText = given["blob-container"]
  const loggingText = given["blob-logging-container"]
  if (containerText === undefined) {
    const dependents = blobIntegrationParameterNames.filter((name) => given[name] !== undefined)
    if (dependents.length > 0) problems.push(needsContainer(dependents))
  } else {
    const container = successOr(parseBlobContainerId(containerText))
    if (loggingText === undefined) problems.push(loggingContainerMissing(container))
    const logging = loggingText === undefined ? undefined : successOr(parseBlobContainerId(loggingText))
    const pairing = container === undefined || logging === undefined ? undefined : pairingProblem(container, logging)
    if (pairing !== undefined) problems.push(pairing)
    if (given["auto-import-conflict-resolution"] !== undefined && given["auto-import"] === undefined) {
      problems.push(conflictResolutionWithoutAutoImport)
    }
  }
  if (problems.length > 0 || Result.isFailure(decoded)) return Result.fail(problems)
  const p = decoded.success
  const container = p["blob-container"]
  const loggingContainer = p["blob-logging-container"]
  if (container === undefined || loggingContainer === undefined) return Result.succeed(undefined)
  const autoImport = p["auto-import"]
  const autoExport = p["auto-export"]?.[0]
  return Result.succeed({
    container,
    loggingContainer,
    importPrefixes: p["import-prefixes"] ?? ["/"],
    autoImport: autoImport === undefined
      ? undefined
      : { prefixes: autoImport, conflictResolution: p["auto-import-conflict-resolution"] ?? DEFAULT_AUTO_IMPORT_CONFLICT_RESOLUTION },
    autoExport: autoExport === undefined ? undefined : { prefix: autoExport },
    archiveOnDelete: p["archive-on-delete"] ?? true
  })
}
