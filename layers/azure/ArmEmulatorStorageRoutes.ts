/**
 * The ARM emulator's routes outside Microsoft.StorageCache that the blob-integration preflight
 * reads, on ARM's wire (paths after `/subscriptions/{sub}`, matched case-insensitively):
 * - GET resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{name}
 *   (200 with the container; 404 ContainerNotFound, or ResourceNotFound for the storage account)
 * - GET [resourceGroups/{rg}/[providers/Microsoft.Storage/storageAccounts/{account}/]]providers/Microsoft.Authorization/roleAssignments
 *   (`$filter=atScope()` or none; pages of `roleAssignmentsPageSize` with a nextLink carrying `$skipToken`)
 * Both answer 403 AuthorizationFailed while their deny fault is on (EmulatorStorage).
 */
import type { EmulatorScope, EmulatorStorage } from "./ArmEmulatorStorageState.js"
import { apiVersionPattern, type ArmRequest, armError, type Reply } from "./ArmEmulatorReply.js"

export type StorageRoute =
  | { readonly _tag: "BlobContainer"; readonly resourceGroup: string; readonly storageAccount: string; readonly container: string }
  | { readonly _tag: "RoleAssignments"; readonly resourceGroup?: string | undefined; readonly storageAccount?: string | undefined }

const CONTAINER_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/read"
const ROLE_ASSIGNMENTS_READ = "Microsoft.Authorization/roleAssignments/read"
const storageAccountPattern = /^[a-z0-9]{3,24}$/
const containerPattern = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/

/** The storage route of the segments after `/subscriptions/{sub}`, or undefined. */
export const storageRouteOf = (rest: ReadonlyArray<string>): StorageRoute | undefined => {
  const lower = rest.map((segment) => segment.toLowerCase())
  const roleAssignmentsAt = (from: number) =>
    rest.length === from + 3 && lower[from] === "providers" && lower[from + 1] === "microsoft.authorization" &&
    lower[from + 2] === "roleassignments"
  if (roleAssignmentsAt(0)) return { _tag: "RoleAssignments" }
  const resourceGroup = rest[1]
  if (lower[0] !== "resourcegroups" || resourceGroup === undefined) return undefined
  if (roleAssignmentsAt(2)) return { _tag: "RoleAssignments", resourceGroup }
  const storageAccount = rest[5]
  if (lower[2] !== "providers" || lower[3] !== "microsoft.storage" || lower[4] !== "storageaccounts" || storageAccount === undefined) {
    return undefined
  }
  if (roleAssignmentsAt(6)) return { _tag: "RoleAssignments", resourceGroup, storageAccount }
  const container = rest[9]
  if (rest.length === 10 && lower[6] === "blobservices" && lower[7] === "default" && lower[8] === "containers" && container !== undefined) {
    return { _tag: "BlobContainer", resourceGroup, storageAccount, container }
  }
  return undefined
}

/** The RBAC action ARM would check, for 403 messages. */
export const storageActionOf = (route: StorageRoute): string =>
  route._tag === "BlobContainer" ? CONTAINER_READ : ROLE_ASSIGNMENTS_READ

const authorizationFailed = (action: string, scope: string): Reply =>
  armError(
    403,
    "AuthorizationFailed",
    `The client '00000000-0000-0000-0000-00000000c5c1' with object id '00000000-0000-0000-0000-00000000c5c1' does not have ` +
      `authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently ` +
      "granted, please refresh your credentials."
  )

const versionRefusal = (url: URL, resourceType: string, minimum: string): Reply | undefined => {
  const apiVersion = url.searchParams.get("api-version")
  if (apiVersion === null || apiVersion === "") {
    return armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
  }
  const match = apiVersionPattern.exec(apiVersion)
  if (match?.[1] === undefined || match[1] < minimum) {
    return armError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for API version '${apiVersion}' and type '${resourceType}'. The supported api-versions are '${minimum}' and newer.`
    )
  }
  return undefined
}

const accountPath = (subscriptionId: string, resourceGroup: string, storageAccount: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/${storageAccount}`

const handleContainer = (storage: EmulatorStorage, subscriptionId: string, request: ArmRequest, route: StorageRoute & { _tag: "BlobContainer" }): Reply => {
  const refusal = versionRefusal(request.url, "storageAccounts/blobServices/containers", "2019-06-01")
  if (refusal !== undefined) return refusal
  if (!storageAccountPattern.test(route.storageAccount)) {
    return armError(400, "AccountNameInvalid", `${route.storageAccount} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.`)
  }
  if (!containerPattern.test(route.container)) {
    return armError(400, "ContainerOperationFailure", "The specifed resource name contains invalid characters.")
  }
  const account = accountPath(subscriptionId, route.resourceGroup, route.storageAccount)
  const id = `${account}/blobServices/default/containers/${route.container}`
  if (storage.denyContainerRead) return authorizationFailed(CONTAINER_READ, id)
  switch (storage.lookup(route.storageAccount, route.container)) {
    case "accountMissing":
      return armError(
        404,
        "ResourceNotFound",
        `The Resource 'Microsoft.Storage/storageAccounts/${route.storageAccount}' under resource group '${route.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
      )
    case "containerMissing":
      return armError(404, "ContainerNotFound", "The specified container does not exist.")
    case "exists":
      return {
        statusCode: 200,
        body: {
          id,
          name: route.container,
          type: "Microsoft.Storage/storageAccounts/blobServices/containers",
          etag: "\"0x8DC0000000000000\"",
          properties: {
            publicAccess: "None",
            leaseStatus: "Unlocked",
            leaseState: "Available",
            hasImmutabilityPolicy: false,
            hasLegalHold: false,
            deleted: false,
            remainingRetentionDays: 0
          }
        }
      }
  }
}

const handleRoleAssignments = (
  storage: EmulatorStorage,
  baseUrl: string,
  subscriptionId: string,
  request: ArmRequest,
  route: StorageRoute & { _tag: "RoleAssignments" }
): Reply => {
  const refusal = versionRefusal(request.url, "roleAssignments", "2015-07-01")
  if (refusal !== undefined) return refusal
  const scope: EmulatorScope = { subscription: subscriptionId, resourceGroup: route.resourceGroup, storageAccount: route.storageAccount }
  const scopePath = route.storageAccount !== undefined && route.resourceGroup !== undefined
    ? accountPath(subscriptionId, route.resourceGroup, route.storageAccount)
    : route.resourceGroup !== undefined
    ? `/subscriptions/${subscriptionId}/resourceGroups/${route.resourceGroup}`
    : `/subscriptions/${subscriptionId}`
  if (storage.denyRoleAssignmentRead) return authorizationFailed(ROLE_ASSIGNMENTS_READ, scopePath)
  const filter = request.url.searchParams.get("$filter")
  if (filter !== null && filter.replace(/\s+/g, "") !== "atScope()") {
    return armError(400, "UnsupportedQuery", `The emulator lists role assignments with $filter=atScope() or no filter, not '${filter}'.`)
  }
  const skipText = request.url.searchParams.get("$skipToken") ?? "0"
  const skip = /^\d+$/.test(skipText) ? Number(skipText) : Number.NaN
  if (Number.isNaN(skip)) return armError(400, "InvalidSkipToken", `The $skipToken '${skipText}' is not valid.`)
  const all = storage.assignmentsAt(scope)
  const page = all.slice(skip, skip + storage.roleAssignmentsPageSize)
  const next = new URL(`${baseUrl}${request.url.pathname}`)
  next.searchParams.set("api-version", request.url.searchParams.get("api-version") ?? "")
  if (filter !== null) next.searchParams.set("$filter", filter)
  next.searchParams.set("$skipToken", String(skip + storage.roleAssignmentsPageSize))
  return {
    statusCode: 200,
    body: {
      value: page.map((assignment) => ({
        id: `${assignment.scope}/providers/Microsoft.Authorization/roleAssignments/${assignment.name}`,
        type: "Microsoft.Authorization/roleAssignments",
        name: assignment.name,
        properties: {
          roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${assignment.roleDefinitionGuid}`,
          principalId: assignment.principalId,
          principalType: assignment.principalType,
          scope: assignment.scope,
          condition: null,
          conditionVersion: null
        }
      })),
      ...(skip + storage.roleAssignmentsPageSize < all.length ? { nextLink: next.toString() } : {})
    }
  }
}

/** The reply to a storage route, for the emulator's one subscription. */
export const handleStorage = (
  storage: EmulatorStorage,
  context: { readonly baseUrl: string; readonly subscriptionId: string },
  request: ArmRequest,
  route: StorageRoute
): Reply => {
  if (request.method !== "GET") {
    return armError(405, "MethodNotAllowed", `The method '${request.method}' is not supported by the emulator here: it only reads storage.`)
  }
  return route._tag === "BlobContainer"
    ? handleContainer(storage, context.subscriptionId, request, route)
    : handleRoleAssignments(storage, context.baseUrl, context.subscriptionId, request, route)
}
