/**
 * The ARM emulator's Microsoft.Storage containers and Microsoft.Authorization role assignments,
 * as far as the blob-integration preflight reads them: a container exists when the HSM
 * simulation has its directory (every container does without a model); every storage account
 * grants AMLFS_STORAGE_ROLES to EMULATOR_HPC_CACHE_PRINCIPAL_ID unless a fault revokes one; faults
 * deny either read (403 AuthorizationFailed).
 */
import { AMLFS_STORAGE_ROLES, STORAGE_BLOB_DATA_CONTRIBUTOR } from "./StorageAccess.js"

/** The object id the emulator's "HPC Cache Resource Provider" has. */
export const EMULATOR_HPC_CACHE_PRINCIPAL_ID = "00000000-0000-0000-0000-00000000ca4e"
/** Other principals the emulator lists, so that a check must tell them apart. */
export const EMULATOR_USER_PRINCIPAL_ID = "00000000-0000-0000-0000-0000000005e4"
export const EMULATOR_CONTROLLER_PRINCIPAL_ID = "00000000-0000-0000-0000-00000000c5c1"

const READER_ROLE_ID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
const CONTRIBUTOR_ROLE_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"

export const STORAGE_ROLE_NAMES = ["Storage Account Contributor", "Storage Blob Data Contributor"] as const
export type StorageRoleName = typeof STORAGE_ROLE_NAMES[number]

/** Whether a container's directory is there: "accountMissing" when its storage account's is not either. */
export type ContainerLookup = (storageAccount: string, container: string) => "exists" | "containerMissing" | "accountMissing"

/** The storage part of a FaultRequest (`POST /emulator/faults`). */
export interface StorageFaultRequest {
  /** These roles are not assigned to the HPC Cache principal on any storage account (replaces the list; [] grants both again). */
  readonly revokeStorageRoles?: ReadonlyArray<StorageRoleName>
  /** Reads of blob containers answer 403 AuthorizationFailed. */
  readonly denyContainerRead?: boolean
  /** Reads of role assignments answer 403 AuthorizationFailed. */
  readonly denyRoleAssignmentRead?: boolean
}

export interface StorageFaultsSnapshot {
  readonly revokedStorageRoles: ReadonlyArray<StorageRoleName>
  readonly denyContainerRead: boolean
  readonly denyRoleAssignmentRead: boolean
}

export interface EmulatorRoleAssignment {
  /** The assignment's scope, as ARM writes it. */
  readonly scope: string
  /** A stable GUID, the assignment's name. */
  readonly name: string
  readonly roleDefinitionGuid: string
  readonly principalId: string
  readonly principalType: "User" | "ServicePrincipal"
}

/** A scope role assignments are listed at: a subscription, a resource group in it, or a storage account in that. */
export interface EmulatorScope {
  readonly subscription: string
  readonly resourceGroup?: string | undefined
  readonly storageAccount?: string | undefined
}

export class EmulatorStorage {
  revokedRoles: ReadonlyArray<StorageRoleName> = []
  denyContainerRead = false
  denyRoleAssignmentRead = false

  constructor(readonly lookup: ContainerLookup, readonly roleAssignmentsPageSize: number) {}

  applyFaults(request: StorageFaultRequest & { readonly reset?: boolean }) {
    if (request.reset === true) {
      this.revokedRoles = []
      this.denyContainerRead = false
      this.denyRoleAssignmentRead = false
    }
    if (request.revokeStorageRoles !== undefined) this.revokedRoles = [...new Set(request.revokeStorageRoles)]
    if (request.denyContainerRead !== undefined) this.denyContainerRead = request.denyContainerRead
    if (request.denyRoleAssignmentRead !== undefined) this.denyRoleAssignmentRead = request.denyRoleAssignmentRead
  }

  faults(): StorageFaultsSnapshot {
    return {
      revokedStorageRoles: [...this.revokedRoles],
      denyContainerRead: this.denyContainerRead,
      denyRoleAssignmentRead: this.denyRoleAssignmentRead
    }
  }

  /**
   * The assignments at `scope` and above it, as
   * `$filter=atScope()` lists them: a user reads the subscription and writes blobs in the
   * resource group, the controller's identity is Contributor there, and the HPC Cache principal
   * holds the AMLFS roles on each storage account (less the revoked ones).
   */
  assignmentsAt(scope: EmulatorScope): ReadonlyArray<EmulatorRoleAssignment> {
    const subscriptionScope = `/subscriptions/${scope.subscription}`
    const resourceGroupScope = scope.resourceGroup === undefined ? undefined : `${subscriptionScope}/resourceGroups/${scope.resourceGroup}`
    const account = resourceGroupScope === undefined || scope.storageAccount === undefined
      ? undefined
      : `${resourceGroupScope}/providers/Microsoft.Storage/storageAccounts/${scope.storageAccount}`
    const assignment = (at: string, roleDefinitionGuid: string, principalId: string, principalType: EmulatorRoleAssignment["principalType"]) => ({
      scope: at,
      name: stableGuid(`${at}|${roleDefinitionGuid}|${principalId}`),
      roleDefinitionGuid,
      principalId,
      principalType
    })
    return [
      assignment(subscriptionScope, READER_ROLE_ID, EMULATOR_USER_PRINCIPAL_ID, "User"),
      ...(resourceGroupScope === undefined ? [] : [
        assignment(resourceGroupScope, STORAGE_BLOB_DATA_CONTRIBUTOR.id, EMULATOR_USER_PRINCIPAL_ID, "User"),
        assignment(resourceGroupScope, CONTRIBUTOR_ROLE_ID, EMULATOR_CONTROLLER_PRINCIPAL_ID, "ServicePrincipal")
      ]),
      ...(account === undefined ? [] : AMLFS_STORAGE_ROLES
        .filter((role) => !this.revokedRoles.some((revoked) => revoked === role.name))
        .map((role) => assignment(account, role.id, EMULATOR_HPC_CACHE_PRINCIPAL_ID, "ServicePrincipal")))
    ]
  }
}

/** A GUID-shaped string that depends only on `seed` (FNV-1a, enough for names that must not change). */
const stableGuid = (seed: string): string => {
  let hex = ""
  for (let round = 0; hex.length < 32; round++) {
    let hash = 0x811c9dc5 ^ round
    for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 0x01000193)
    hex += (hash >>> 0).toString(16).padStart(8, "0")
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
