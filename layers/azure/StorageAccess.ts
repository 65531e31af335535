import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ArmError } from "./AmlfsApi.js"

/**
 * Whether Azure Managed Lustre may use a storage account's blob containers: the reads the
 * controller makes before it creates a cluster with blob integration (hsm.settings), so that a
 * missing container or role fails in seconds, not after a 10-20 minute creation.
 */

/** A built-in Azure role, by the name `az role assignment create --role` takes and its role definition id. */
export interface BuiltInRole {
  readonly name: string
  readonly id: string
}

export const STORAGE_ACCOUNT_CONTRIBUTOR: BuiltInRole = {
  name: "Storage Account Contributor",
  id: "17d1049b-9a84-46fb-8f53-869881c3d3ab"
}
export const STORAGE_BLOB_DATA_CONTRIBUTOR: BuiltInRole = {
  name: "Storage Blob Data Contributor",
  id: "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
}

/**
 * The roles Azure's blob-integration prerequisites ask for on the storage account, for the
 * service principal named HPC_CACHE_PRINCIPAL_NAME (its object id differs per tenant).
 */
export const AMLFS_STORAGE_ROLES: ReadonlyArray<BuiltInRole> = [STORAGE_ACCOUNT_CONTRIBUTOR, STORAGE_BLOB_DATA_CONTRIBUTOR]

/** The display name of the service principal AMLFS reaches the storage account as. */
export const HPC_CACHE_PRINCIPAL_NAME = "HPC Cache Resource Provider"

/** The api-versions of the reads (Microsoft.Storage containers, Microsoft.Authorization role assignments). */
export const storageApiVersions = { containers: "2023-05-01", roleAssignments: "2022-04-01" } as const

/** One role assignment as ARM lists it (properties of Microsoft.Authorization/roleAssignments). */
export interface RoleAssignment {
  /** The role definition's ARM id (…/providers/Microsoft.Authorization/roleDefinitions/<guid>). */
  readonly roleDefinitionId: string
  /** The object id of the principal it is assigned to. */
  readonly principalId: string
  /** User, Group, ServicePrincipal, ForeignGroup, Device; "" when ARM sent none. */
  readonly principalType: string
}

/** The role definition GUID of an assignment: the last segment of its roleDefinitionId, lower case. */
export const roleDefinitionGuidOf = (roleDefinitionId: string): string =>
  (roleDefinitionId.split("/").filter((segment) => segment !== "").at(-1) ?? "").toLowerCase()

/**
 * The ARM reads of a storage account the blob-integration preflight makes, through the
 * controller's ARM client (its credential: what the controller's identity may read). A refused
 * read is an ArmError with statusCode 403; the caller decides that it means "cannot check".
 */
export class StorageAccess extends Context.Service<StorageAccess, {
  /**
   * GET the container (`…/blobServices/default/containers/<name>`, api-version 2023-05-01): true
   * when it exists, false when ARM answers 404 for it or its storage account. A 404 that says the
   * endpoint lacks the type (featureMissing), or SubscriptionNotFound (which ARM also answers for
   * a subscription the identity has no access to), is an ArmError: no answer about the container.
   */
  readonly containerExists: (containerId: string) => Effect.Effect<boolean, ArmError>
  /**
   * GET `<scope>/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`
   * (api-version 2022-04-01): the assignments at the scope and those it inherits from its
   * resource group, subscription and management groups, every page of them.
   */
  readonly roleAssignmentsAt: (scope: string) => Effect.Effect<ReadonlyArray<RoleAssignment>, ArmError>
}>()("azurelustre/azure/StorageAccess") {}
