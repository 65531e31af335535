import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { blobContainerIdOf } from "../../src/domain/BlobContainerId.js"
import {
  type BlobIntegration,
  blobIntegrationOf,
  blobIntegrationParameterNames,
  CONFLICT_RESOLUTION_MODES,
  MAX_AUTO_IMPORT_PREFIXES,
  MAX_IMPORT_PREFIXES
} from "../../src/domain/BlobIntegration.js"
import { parseStaticVolumeParameters } from "../../src/domain/StaticVolumeParameters.js"
import { Container, ContainerParts } from "./blobArbitraries.js"

const failure = <A>(result: Result.Result<A, ReadonlyArray<string>>): ReadonlyArray<string> =>
  Result.isFailure(result) ? result.failure : ["accepted"]
const accepted = (result: Result.Result<BlobIntegration | undefined, ReadonlyArray<string>>): BlobIntegration | undefined => {
  if (Result.isFailure(result)) throw new Error(`refused: ${result.failure.join("; ")}`)
  return result.success
}

const subscription = "00000000-0000-0000-0000-000000000001"
const parts = { subscription, resourceGroup: "rg-data", storageAccount: "datasets01", name: "training" }
const containerId = blobContainerIdOf(parts).id
const loggingId = blobContainerIdOf({ ...parts, name: "training-logs" }).id
const withContainers = { "blob-container": containerId, "blob-logging-container": loggingId }

const Prefix = Schema.String.check(Schema.isPattern(/^\/?(?:[a-z0-9_é-](?:[a-z0-9_. é-]{0,5}[a-z0-9_é-])?\/){0,3}[a-z0-9_é-]{1,6}\/?$/)).check(
  Schema.makeFilter((text: string) => !text.split("/").some((component) => component === "." || component === ".."))
)
const canonical = (prefix: string): string => (prefix.startsWith("/") ? prefix : `/${prefix}`)
const distinct = (prefixes: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(prefixes.map(canonical))]
const Prefixes = Schema.Array(Prefix).check(Schema.isMinLength(1), Schema.isMaxLength(8))

const Valid = Schema.Struct({
  container: ContainerParts,
  loggingName: Container,
  /** How the logging container's id spells the subscription and resource group (ARM compares them case-insensitively). */
  loggingCase: Schema.Literals(["same", "upper", "lower"]),
  importPrefixes: Schema.UndefinedOr(Prefixes),
  autoImport: Schema.UndefinedOr(Prefixes),
  conflictResolution: Schema.UndefinedOr(Schema.Literals(CONFLICT_RESOLUTION_MODES)),
  autoExport: Schema.UndefinedOr(Prefix),
  archiveOnDelete: Schema.UndefinedOr(Schema.Boolean),
  /** Parameters that are not the blob integration's: left alone. */
  others: Schema.Record(Schema.Literals(["sku-name", "hsm-hydrate", "sub-dir"]), Schema.String)
}).check(Schema.makeFilter((v) => v.loggingName !== v.container.name))
type Valid = typeof Valid.Type

const recase = (text: string, how: Valid["loggingCase"]) => (how === "upper" ? text.toUpperCase() : how === "lower" ? text.toLowerCase() : text)

const parametersOf = (v: Valid): Record<string, string> => {
  const logging = blobContainerIdOf({
    ...v.container,
    subscription: recase(v.container.subscription, v.loggingCase),
    resourceGroup: recase(v.container.resourceGroup, v.loggingCase),
    name: v.loggingName
  })
  const optional: Record<string, string | undefined> = {
    "import-prefixes": v.importPrefixes?.join(","),
    "auto-import": v.autoImport?.join(","),
    "auto-import-conflict-resolution": v.autoImport === undefined ? undefined : v.conflictResolution,
    "auto-export": v.autoExport,
    "archive-on-delete": v.archiveOnDelete === undefined ? undefined : String(v.archiveOnDelete)
  }
  return {
    ...v.others,
    "blob-container": blobContainerIdOf(v.container).id,
    "blob-logging-container": logging.id,
    ...Object.fromEntries(Object.entries(optional).filter((entry): entry is [string, string] => entry[1] !== undefined))
  }
}

/** Anything a user could type, with ids, prefixes and the values of each parameter over-represented. */
const Hostile = Schema.Union([
  Schema.String,
  Schema.Literals([containerId, loggingId, blobContainerIdOf({ ...parts, storageAccount: "other" }).id, "/", "/a,/b", "Skip", "skip", "true", "no", ""]),
  Schema.String.check(Schema.isPattern(/^(?:\/|,|\.\.|a|\0|é|Skip|true|subscriptions|containers){0,12}$/))
])
const parameterPattern = new RegExp(
  `^StorageClass parameters? (?:"(?:${blobIntegrationParameterNames.join("|")})"(?:, | and )?)+ `
)

describe("blob integration parameters", () => {
  it.prop("reads every valid set, with the defaults: import everything, skip conflicts, archive before delete", [Valid], ([v]) => {
    expect(accepted(blobIntegrationOf(parametersOf(v)))).toEqual({
      container: blobContainerIdOf(v.container),
      loggingContainer: blobContainerIdOf({
        ...v.container,
        subscription: recase(v.container.subscription, v.loggingCase),
        resourceGroup: recase(v.container.resourceGroup, v.loggingCase),
        name: v.loggingName
      }),
      importPrefixes: v.importPrefixes === undefined ? ["/"] : distinct(v.importPrefixes),
      autoImport: v.autoImport === undefined
        ? undefined
        : { prefixes: distinct(v.autoImport), conflictResolution: v.conflictResolution ?? "Skip" },
      autoExport: v.autoExport === undefined ? undefined : { prefix: canonical(v.autoExport) },
      archiveOnDelete: v.archiveOnDelete ?? true
    })
  })

  it.prop("no blob-container, no blob integration; empty values count as not set", [
    Schema.Record(Schema.Literals(blobIntegrationParameterNames), Schema.Literal("")),
    Schema.Record(Schema.Literals(["sku-name", "zone"]), Schema.String)
  ], ([empty, others]) => {
    expect(blobIntegrationOf({ ...others, ...empty })).toEqual(Result.succeed(undefined))
  })

  it.prop("any other parameter without blob-container is refused, naming each", [
    Schema.Array(Schema.Literals(blobIntegrationParameterNames.filter((name) => name !== "blob-container"))).check(Schema.isMinLength(1))
  ], ([names]) => {
    const valid: Record<string, string> = {
      "blob-logging-container": loggingId,
      "import-prefixes": "/",
      "auto-import": "/a",
      "auto-import-conflict-resolution": "Skip",
      "auto-export": "/",
      "archive-on-delete": "false"
    }
    const given = blobIntegrationParameterNames.filter((name) => names.includes(name as never))
    const problems = failure(blobIntegrationOf(Object.fromEntries(given.map((name) => [name, valid[name] ?? ""]))))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(parameterPattern)
    for (const name of given) expect(problems[0]).toContain(JSON.stringify(name))
    expect(problems[0]).toContain("need")
    expect(problems[0]).toContain("set blob-container to the container's resource id")
  })

  const Pairing = Schema.Literals(["same account", "other subscription", "other resource group", "other storage account", "same container"])

  it.prop("the logging container: same storage account and another container, or refused saying which", [ContainerParts, Container, Pairing], ([container, otherName, pairing]) => {
    if (otherName === container.name && pairing === "same account") return
    const flip = (text: string) => `${text.slice(0, -1)}${text.endsWith("0") ? "1" : "0"}`
    const logging = {
      "same account": { ...container, name: otherName },
      "other subscription": { ...container, subscription: flip(container.subscription), name: otherName },
      "other resource group": { ...container, resourceGroup: flip(container.resourceGroup), name: otherName },
      "other storage account": { ...container, storageAccount: flip(container.storageAccount), name: otherName },
      "same container": { ...container, resourceGroup: container.resourceGroup.toUpperCase() }
    }[pairing]
    const result = blobIntegrationOf({
      "blob-container": blobContainerIdOf(container).id,
      "blob-logging-container": blobContainerIdOf(logging).id
    })
    if (pairing === "same account") {
      expect(accepted(result)?.loggingContainer).toEqual(blobContainerIdOf(logging))
      return
    }
    const problems = failure(result)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^StorageClass parameter "blob-logging-container" /)
    if (pairing === "same container") expect(problems[0]).toContain("names the same container as blob-container")
    else {
      const part = pairing.replace("other ", "")
      expect(problems[0]).toContain(`is not in blob-container's storage account (its ${part} is ${JSON.stringify(logging[part === "resource group" ? "resourceGroup" : part === "storage account" ? "storageAccount" : "subscription"])}`)
    }
    expect(problems[0]).toContain(`az storage container create --account-name ${container.storageAccount}`)
  })

  it.prop("never throws; a refusal names its parameter, an acceptance holds checked values", [
    Valid,
    Schema.Array(Schema.Struct({ name: Schema.Literals(blobIntegrationParameterNames), value: Hostile })).check(Schema.isMaxLength(3)),
    Schema.Boolean
  ], ([valid, changes, fromValid]) => {
    const parameters: Record<string, string> = fromValid ? parametersOf(valid) : {}
    for (const { name, value } of changes) parameters[name] = value
    const result = blobIntegrationOf(parameters)
    if (Result.isFailure(result)) {
      expect(result.failure.length).toBeGreaterThan(0)
      for (const problem of result.failure) expect(problem).toMatch(parameterPattern)
      return
    }
    const integration = result.success
    if (integration === undefined) {
      expect(parameters["blob-container"] ?? "").toBe("")
      return
    }
    expect(integration.container.id.toLowerCase()).toBe(parameters["blob-container"]?.toLowerCase())
    expect(integration.loggingContainer.storageAccount).toBe(integration.container.storageAccount)
    expect(integration.loggingContainer.name).not.toBe(integration.container.name)
    expect(integration.importPrefixes.length).toBeLessThanOrEqual(MAX_IMPORT_PREFIXES)
    for (const prefix of [...integration.importPrefixes, ...(integration.autoImport?.prefixes ?? [])]) expect(prefix.startsWith("/")).toBe(true)
  })

  it("prefix counts: at most 100 import and auto-import prefixes (distinct ones counted), one auto-export prefix", () => {
    const list = (count: number) => Array.from({ length: count }, (_, i) => `/d${i}`).join(",")
    expect(accepted(blobIntegrationOf({ ...withContainers, "import-prefixes": list(MAX_IMPORT_PREFIXES) }))?.importPrefixes).toHaveLength(100)
    expect(accepted(blobIntegrationOf({ ...withContainers, "import-prefixes": `${list(MAX_IMPORT_PREFIXES)},/d0,d1` }))?.importPrefixes).toHaveLength(100)
    expect(failure(blobIntegrationOf({ ...withContainers, "import-prefixes": list(MAX_IMPORT_PREFIXES + 1) }))[0]).toContain(
      "it has 101 different prefixes; Azure Managed Lustre takes at most 100"
    )
    expect(accepted(blobIntegrationOf({ ...withContainers, "auto-import": list(MAX_AUTO_IMPORT_PREFIXES) }))?.autoImport?.prefixes).toHaveLength(100)
    expect(failure(blobIntegrationOf({ ...withContainers, "auto-import": list(MAX_AUTO_IMPORT_PREFIXES + 1) }))[0]).toMatch(
      /^StorageClass parameter "auto-import" is "\/d0,.*it has 101 different prefixes; Azure Managed Lustre takes at most 100/
    )
    expect(accepted(blobIntegrationOf({ ...withContainers, "auto-export": "results,/results" }))?.autoExport).toEqual({ prefix: "/results" })
    expect(failure(blobIntegrationOf({ ...withContainers, "auto-export": "/results,/models" }))).toEqual([
      `StorageClass parameter "auto-export" is "/results,/models": it has 2 different prefixes; Azure Managed Lustre ` +
        `takes at most 1; write the one path an auto-export job exports new and changed files from, such as /results ` +
        `(Azure Managed Lustre allows one per job; "/" for the whole filesystem)`
    ])
  })

  it("examples", () => {
    expect(blobIntegrationOf({ ...withContainers, "import-prefixes": "datasets/, /models", "auto-import": "/datasets/", "auto-import-conflict-resolution": "OverwriteIfDirty", "auto-export": "results", "archive-on-delete": "false" }))
      .toEqual(Result.succeed({
        container: { id: containerId, ...parts },
        loggingContainer: { id: loggingId, ...parts, name: "training-logs" },
        importPrefixes: ["/datasets/", "/models"],
        autoImport: { prefixes: ["/datasets/"], conflictResolution: "OverwriteIfDirty" },
        autoExport: { prefix: "/results" },
        archiveOnDelete: false
      }))
    const lowerCased = containerId.replace("resourceGroups", "resourcegroups").replace("Microsoft.Storage", "microsoft.storage")
    expect(accepted(blobIntegrationOf({ ...withContainers, "blob-container": lowerCased, "archive-on-delete": "" }))).toEqual({
      container: { id: containerId, ...parts },
      loggingContainer: { id: loggingId, ...parts, name: "training-logs" },
      importPrefixes: ["/"],
      autoImport: undefined,
      autoExport: undefined,
      archiveOnDelete: true
    })
  })

  it("refusals: the parameter, what is wrong and the fix", () => {
    const refusal = (parameters: Record<string, string>) => failure(blobIntegrationOf(parameters)).join("; ")
    const sibling = `/subscriptions/${subscription}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets01/blobServices/default/containers/<logging-container>`
    const create = "az storage container create --account-name datasets01 --name <logging-container> --auth-mode login"
    const form = "/subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.Storage/storageAccounts/<storage-account>/blobServices/default/containers/<container>"
    const hint = `write ${form} (the storage account's id, from az storage account show --name <storage-account> --query id ` +
      "--output tsv, followed by /blobServices/default/containers/<container>)"

    expect(refusal({ ...withContainers, "blob-container": "https://datasets01.blob.core.windows.net/training" })).toBe(
      `StorageClass parameter "blob-container" is "https://datasets01.blob.core.windows.net/training", not a blob container ` +
        `resource id: it does not begin with "/"; ${hint}`
    )
    const accountId = containerId.replace("/blobServices/default/containers/training", "")
    expect(refusal({ ...withContainers, "blob-logging-container": accountId })).toBe(
      `StorageClass parameter "blob-logging-container" is ${JSON.stringify(accountId)}, not a blob container resource id: ` +
        `it has 8 parts separated by "/" where the form has 12; ${hint}`
    )
    expect(refusal({ "blob-container": containerId })).toBe(
      `StorageClass parameter "blob-logging-container" is required with blob-container: Azure Managed Lustre writes its ` +
        `job logs to a second container of the same storage account; create one (${create}) and set ` +
        `blob-logging-container to ${sibling}`
    )
    expect(refusal({ "blob-container": containerId.replace("training", "Training") })).toContain(
      `is required with blob-container: Azure Managed Lustre writes its job logs to a second container of the same ` +
        `storage account; name another container of blob-container's storage account`
    )
    expect(refusal({ "blob-logging-container": loggingId })).toBe(
      `StorageClass parameter "blob-logging-container" needs blob-container: it configures the blob integration that ` +
        `blob-container turns on; set blob-container to the container's resource id (${form}), or remove it`
    )
    expect(refusal({ "import-prefixes": "/", "auto-export": "/", "archive-on-delete": "true" })).toBe(
      `StorageClass parameters "import-prefixes", "auto-export" and "archive-on-delete" need blob-container: they ` +
        `configure the blob integration that blob-container turns on; set blob-container to the container's resource ` +
        `id (${form}), or remove them`
    )
    expect(refusal({ ...withContainers, "blob-logging-container": containerId })).toBe(
      `StorageClass parameter "blob-logging-container" names the same container as blob-container ("training"): Azure ` +
        `Managed Lustre requires a separate container for its logs; create one (${create}) and set ` +
        `blob-logging-container to ${sibling}`
    )
    expect(refusal({ ...withContainers, "blob-logging-container": blobContainerIdOf({ ...parts, storageAccount: "logs01", resourceGroup: "rg-logs" }).id })).toBe(
      `StorageClass parameter "blob-logging-container" is not in blob-container's storage account (its resource group ` +
        `is "rg-logs", blob-container's "rg-data", its storage account is "logs01", blob-container's "datasets01"): ` +
        `Azure Managed Lustre requires the logging container in the same storage account; name a container of that ` +
        `account, ${sibling} (create it with ${create})`
    )
    expect(refusal({ ...withContainers, "import-prefixes": "/a/../b,,x" })).toBe(
      `StorageClass parameter "import-prefixes" is "/a/../b,,x": it has an empty entry (separate the prefixes with ` +
        `single commas; "/" alone stands for everything), the prefix "/a/../b" has a "." or ".." path component, ` +
        `which no file in the filesystem can have; write the blob name prefixes to import when the cluster is created, ` +
        `separated by commas, such as /datasets,/models (at most 100; "/", the default, imports the whole container)`
    )
    expect(refusal({ ...withContainers, "auto-import": "/a\u0000" })).toBe(
      `StorageClass parameter "auto-import" is "/a\\u0000": the prefix "/a\\u0000" has a control character (such as ` +
        `NUL or a line break); write the blob name prefixes an auto-import job keeps in sync with the container, ` +
        `separated by commas, such as /datasets,/models (at most 100; "/" for the whole container)`
    )
    expect(refusal({ ...withContainers, "auto-import": "/", "auto-import-conflict-resolution": "overwrite" })).toBe(
      `StorageClass parameter "auto-import-conflict-resolution" is "overwrite", not a conflict resolution mode: use ` +
        `Fail, Skip (the default), OverwriteIfDirty or OverwriteAlways (case matters)`
    )
    expect(refusal({ ...withContainers, "auto-import-conflict-resolution": "Skip" })).toBe(
      `StorageClass parameter "auto-import-conflict-resolution" needs auto-import: it says what the auto-import job ` +
        `does with a blob whose path already exists in the filesystem; set auto-import to the prefixes to keep in ` +
        `sync, or remove auto-import-conflict-resolution`
    )
    expect(refusal({ ...withContainers, "archive-on-delete": "True" })).toBe(
      `StorageClass parameter "archive-on-delete" is "True", not true or false: true (the default with ` +
        `blob-container) archives the whole filesystem to the container before the cluster is deleted; false ` +
        `deletes the cluster with whatever was never exported`
    )
  })

  it("names every problem at once, each value bounded", () => {
    const problems = failure(blobIntegrationOf({
      "blob-container": `/${"x".repeat(100_000)}`,
      "import-prefixes": "..",
      "auto-import-conflict-resolution": "z".repeat(100_000),
      "archive-on-delete": "maybe"
    }))
    expect(problems.map((problem) => problem.match(parameterPattern)?.[0])).toEqual([
      `StorageClass parameter "blob-container" `,
      `StorageClass parameter "import-prefixes" `,
      `StorageClass parameter "auto-import-conflict-resolution" `,
      `StorageClass parameter "archive-on-delete" `,
      `StorageClass parameter "blob-logging-container" `,
      `StorageClass parameter "auto-import-conflict-resolution" `
    ])
    for (const problem of problems) expect(problem.length).toBeLessThan(1000)
  })

  it.prop("static volumes create no cluster: every blob integration parameter is refused there by name", [
    Schema.Literals(blobIntegrationParameterNames)
  ], ([name]) => {
    const result = parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.4", [name]: name === "blob-container" ? containerId : "/" })
    expect(Result.isFailure(result) && result.failure).toContain(`unknown parameter(s) ${JSON.stringify(name)}`)
    expect(Result.isFailure(result) && result.failure).toContain(`${name} is a parameter of dynamic provisioning, which creates a filesystem`)
  })
})
