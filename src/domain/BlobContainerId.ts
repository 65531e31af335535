import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { quote } from "./BoundedText.js"
import { isResourceGroupName, isSubscriptionId, RESOURCE_GROUP_RULE } from "./AzureResourceNames.js"

/**
 * A blob container named by its ARM resource id, as AMLFS's `hsm.settings.container` and
 * `loggingContainer` take it:
 * `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<account>/blobServices/default/containers/<container>`.
 */
export const BlobContainerId = Schema.Struct({
  /** The id with its fixed segments spelled as ARM writes them, and the parts as given. */
  id: Schema.String,
  subscription: Schema.String,
  resourceGroup: Schema.String,
  storageAccount: Schema.String,
  name: Schema.String
})
export type BlobContainerId = typeof BlobContainerId.Type

export const BLOB_CONTAINER_ID_FORM =
  "/subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.Storage/" +
  "storageAccounts/<storage-account>/blobServices/default/containers/<container>"

// Azure Storage's rules (learn.microsoft.com, "Naming and referencing containers, blobs, and metadata").
const STORAGE_ACCOUNT_PATTERN = /^[a-z0-9]{3,24}$/
const CONTAINER_PATTERN = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/

export const isStorageAccountName = (value: string): boolean => STORAGE_ACCOUNT_PATTERN.test(value)
export const isContainerName = (value: string): boolean => CONTAINER_PATTERN.test(value)

/**
 * The segments of the id's form; undefined stands for a part. ARM compares the fixed segments
 * case-insensitively ("resourcegroups", "microsoft.storage" are the same resource).
 */
const FORM: ReadonlyArray<string | undefined> = [
  "",
  "subscriptions",
  undefined,
  "resourceGroups",
  undefined,
  "providers",
  "Microsoft.Storage",
  "storageAccounts",
  undefined,
  "blobServices",
  "default",
  "containers",
  undefined
]

/** Where `segments` (the id split at "/") leave the form, or undefined. */
const formProblemOf = (segments: ReadonlyArray<string>): string | undefined => {
  if (segments[0] !== "") return `it does not begin with "/"`
  if (segments.length !== FORM.length) {
    return `it has ${segments.length - 1} parts separated by "/" where the form has ${FORM.length - 1}`
  }
  const at = FORM.findIndex((fixed, index) => fixed !== undefined && fixed.toLowerCase() !== segments[index]?.toLowerCase())
  return at < 0 ? undefined : `it has ${quote(segments[at] ?? "")} where the form has ${quote(FORM[at] ?? "")}`
}

export const blobContainerIdOf = (
  parts: Pick<BlobContainerId, "subscription" | "resourceGroup" | "storageAccount" | "name">
): BlobContainerId => ({
  id: `/subscriptions/${parts.subscription}/resourceGroups/${parts.resourceGroup}/providers/Microsoft.Storage/` +
    `storageAccounts/${parts.storageAccount}/blobServices/default/containers/${parts.name}`,
  subscription: parts.subscription,
  resourceGroup: parts.resourceGroup,
  storageAccount: parts.storageAccount,
  name: parts.name
})

/**
 * Reads a blob container's resource id. The failure says what is wrong, to follow "is not a blob
 * container resource id: ": the form, or each part that breaks Azure's naming rules.
 */
export const parseBlobContainerId = (text: string): Result.Result<BlobContainerId, string> => {
  const segments = text.split("/")
  const formProblem = formProblemOf(segments)
  if (formProblem !== undefined) return Result.fail(formProblem)
  const [, , subscription = "", , resourceGroup = "", , , , storageAccount = "", , , , name = ""] = segments
  const problems: Array<string> = []
  if (!isSubscriptionId(subscription)) {
    problems.push(`its subscription ${quote(subscription)} is not a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)`)
  }
  if (!isResourceGroupName(resourceGroup)) {
    problems.push(`its resource group ${quote(resourceGroup)} is not a resource group name (${RESOURCE_GROUP_RULE})`)
  }
  if (!isStorageAccountName(storageAccount)) {
    problems.push(`its storage account ${quote(storageAccount)} is not a storage account name (3-24 lowercase letters and digits)`)
  }
  if (!isContainerName(name)) {
    problems.push(
      `its container ${quote(name)} is not a container name (3-63 lowercase letters, digits and single hyphens, ` +
        "beginning and ending with a letter or digit)"
    )
  }
  if (problems.length > 0) return Result.fail(problems.join(", "))
  return Result.succeed(blobContainerIdOf({ subscription, resourceGroup, storageAccount, name }))
}

/** Whether two containers are in the same storage account (ARM compares subscription and resource group case-insensitively). */
export const inSameStorageAccount = (a: BlobContainerId, b: BlobContainerId): boolean =>
  a.subscription.toLowerCase() === b.subscription.toLowerCase() &&
  a.resourceGroup.toLowerCase() === b.resourceGroup.toLowerCase() &&
  a.storageAccount === b.storageAccount
