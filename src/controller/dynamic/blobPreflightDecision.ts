import {
  AMLFS_STORAGE_ROLES,
  type BuiltInRole,
  HPC_CACHE_PRINCIPAL_NAME,
  type RoleAssignment,
  roleDefinitionGuidOf
} from "../../../layers/azure/StorageAccess.js"
import type { BlobContainerId } from "../../domain/BlobContainerId.js"

/**
 * What the blob-integration preflight found, and what is missing: pure, so that the decision
 * (exactly the missing containers and roles, each with the `az` command that fixes it) is tested
 * on its own.
 */

export type ContainerParameter = "blob-container" | "blob-logging-container"

/** What one read said: the answer, or that it could not be made (the reason, in ARM's words). */
export type Finding<A> =
  | { readonly _tag: "Read"; readonly value: A }
  | { readonly _tag: "Unreadable"; readonly reason: string; readonly refused: boolean }

export interface PreflightFindings {
  readonly containers: ReadonlyArray<{
    readonly parameter: ContainerParameter
    readonly container: BlobContainerId
    readonly exists: Finding<boolean>
  }>
  /** The assignments at the containers' storage account (one account: the parameters were checked). */
  readonly roleAssignments: Finding<ReadonlyArray<RoleAssignment>>
}

export type Missing =
  | { readonly _tag: "Container"; readonly parameter: ContainerParameter; readonly container: BlobContainerId }
  | { readonly _tag: "Role"; readonly role: BuiltInRole }

/** The storage account's ARM id: the scope the roles are assigned at. */
export const storageAccountIdOf = (container: BlobContainerId): string =>
  `/subscriptions/${container.subscription}/resourceGroups/${container.resourceGroup}/providers/Microsoft.Storage/` +
  `storageAccounts/${container.storageAccount}`

/**
 * Whether an assignment gives the role to AMLFS: to the HPC Cache Resource Provider's object id
 * when the controller knows it, else (weaker) to any service principal.
 */
const countsFor = (principalId: string | undefined) => (assignment: RoleAssignment): boolean =>
  principalId === undefined
    ? assignment.principalType.toLowerCase() === "serviceprincipal"
    : assignment.principalId.toLowerCase() === principalId.toLowerCase()

/** Exactly what is missing: the containers that do not exist, then the roles not held; what could not be read is not. */
export const missingOf = (findings: PreflightFindings, principalId: string | undefined): ReadonlyArray<Missing> => {
  const containers: ReadonlyArray<Missing> = findings.containers.flatMap((checked) =>
    checked.exists._tag === "Read" && !checked.exists.value
      ? [{ _tag: "Container", parameter: checked.parameter, container: checked.container } as const]
      : []
  )
  const assignments = findings.roleAssignments
  if (assignments._tag === "Unreadable") return containers
  const held = new Set(assignments.value.filter(countsFor(principalId)).map((a) => roleDefinitionGuidOf(a.roleDefinitionId)))
  const roles: ReadonlyArray<Missing> = AMLFS_STORAGE_ROLES.filter((role) => !held.has(role.id)).map((role) => ({ _tag: "Role", role }))
  return [...containers, ...roles]
}

/** The `--assignee-object-id` value: the configured id, or the shell lookup of the principal by name. */
const assigneeOf = (principalId: string | undefined): string =>
  principalId ?? `"$(az ad sp list --display-name "${HPC_CACHE_PRINCIPAL_NAME}" --query "[0].id" -o tsv)"`

/** The command that creates the container or grants the role. */
export const azCommandOf = (missing: Missing, account: BlobContainerId, principalId: string | undefined): string =>
  missing._tag === "Container"
    ? `az storage container create --account-name ${missing.container.storageAccount} --name ${missing.container.name} --auth-mode login`
    : `az role assignment create --assignee-object-id ${assigneeOf(principalId)} --assignee-principal-type ServicePrincipal ` +
      `--role "${missing.role.name}" --scope ${storageAccountIdOf(account)}`

const describe = (missing: Missing, account: BlobContainerId, principalId: string | undefined): string =>
  missing._tag === "Container"
    ? `the container ${missing.container.name} (${missing.parameter}) does not exist in the storage account ` +
      `${missing.container.storageAccount}`
    : principalId === undefined
    ? `the role "${missing.role.name}" is not assigned to any service principal on the storage account ${account.storageAccount} ` +
      `(AMLFS needs it for the ${HPC_CACHE_PRINCIPAL_NAME})`
    : `the ${HPC_CACHE_PRINCIPAL_NAME} (object id ${principalId}) lacks the role "${missing.role.name}" on the storage ` +
      `account ${account.storageAccount}`

/** The FAILED_PRECONDITION message: everything missing, each with its fix, and that nothing was created. */
export const preflightFailureMessage = (
  clusterName: string,
  account: BlobContainerId,
  missing: ReadonlyArray<Missing>,
  principalId: string | undefined
): string =>
  `Azure Managed Lustre ${clusterName} was not created: AMLFS could not use the blob containers. ` +
  missing.map((m, i) => `(${i + 1}) ${describe(m, account, principalId)}: ${azCommandOf(m, account, principalId)}`).join("; ") +
  ". Fix these, and the provisioner's next retry creates the cluster"
