/**
 * The preflight's decision as a property: for any containers present or not (or unreadable) and
 * any role assignments (the AMLFS roles and others, to the HPC Cache principal, another service
 * principal or a user; ids in any case), exactly the missing containers and roles are named, each
 * once with its `az` command, and nothing else is.
 */
import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { expect } from "vitest"
import {
  AMLFS_STORAGE_ROLES,
  STORAGE_ACCOUNT_CONTRIBUTOR,
  STORAGE_BLOB_DATA_CONTRIBUTOR
} from "../../layers/azure/StorageAccess.js"
import { roleAssignmentOf } from "../../layers/azure/StorageAccessFake.js"
import {
  type Finding,
  missingOf,
  type PreflightFindings,
  preflightFailureMessage
} from "../../src/controller/dynamic/blobPreflightDecision.js"
import { blobIntegrationOf } from "../../src/domain/BlobIntegration.js"

const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets"
const blob = Result.getOrThrow(blobIntegrationOf({
  "blob-container": `${account}/blobServices/default/containers/imagenet`,
  "blob-logging-container": `${account}/blobServices/default/containers/amlfs-logs`
}))
if (blob === undefined) throw new Error("the test's parameters ask for blob integration")

const HPC = "5f9d1c2e-0c1a-4b7e-9a55-0123456789ab"
const principals = {
  hpc: { id: HPC, type: "ServicePrincipal" },
  otherServicePrincipal: { id: "11111111-2222-4333-8444-555555555555", type: "ServicePrincipal" },
  user: { id: "99999999-8888-4777-8666-555555555555", type: "User" }
} as const
const roles = {
  accountContributor: STORAGE_ACCOUNT_CONTRIBUTOR.id,
  blobDataContributor: STORAGE_BLOB_DATA_CONTRIBUTOR.id,
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c"
} as const

const ContainerState = Schema.Literals(["exists", "missing", "unreadable"])
const Assignment = Schema.Struct({
  role: Schema.Literals(Object.keys(roles) as Array<keyof typeof roles>),
  principal: Schema.Literals(Object.keys(principals) as Array<keyof typeof principals>),
  upperCase: Schema.Boolean
})
const World = Schema.Struct({
  data: ContainerState,
  logging: ContainerState,
  rolesReadable: Schema.Boolean,
  assignments: Schema.Array(Assignment).check(Schema.isMaxLength(8)),
  principalConfigured: Schema.Boolean
})

const finding = (state: typeof ContainerState.Type): Finding<boolean> =>
  state === "unreadable" ? { _tag: "Unreadable", reason: "ARM answered 403", refused: true } : { _tag: "Read", value: state === "exists" }

it.prop("exactly what is missing is named, each with its command", [World], ([world]) => {
  const principalId = world.principalConfigured ? HPC : undefined
  const assignments = world.assignments.map(({ role, principal, upperCase }) => {
    const assignment = roleAssignmentOf(roles[role], principals[principal].id, principals[principal].type)
    return upperCase ? { ...assignment, roleDefinitionId: assignment.roleDefinitionId.toUpperCase() } : assignment
  })
  const findings: PreflightFindings = {
    containers: [
      { parameter: "blob-container", container: blob.container, exists: finding(world.data) },
      { parameter: "blob-logging-container", container: blob.loggingContainer, exists: finding(world.logging) }
    ],
    roleAssignments: world.rolesReadable
      ? { _tag: "Read", value: assignments }
      : { _tag: "Unreadable", reason: "ARM answered 403", refused: true }
  }
  const counts = (role: string) =>
    world.assignments.some((a) =>
      roles[a.role] === role && (world.principalConfigured ? a.principal === "hpc" : principals[a.principal].type === "ServicePrincipal")
    )
  const expectedContainers = [
    ...(world.data === "missing" ? ["imagenet"] : []),
    ...(world.logging === "missing" ? ["amlfs-logs"] : [])
  ]
  const expectedRoles = world.rolesReadable ? AMLFS_STORAGE_ROLES.filter((role) => !counts(role.id)).map((role) => role.name) : []

  const missing = missingOf(findings, principalId)
  expect(missing.flatMap((m) => (m._tag === "Container" ? [m.container.name] : []))).toEqual(expectedContainers)
  expect(missing.flatMap((m) => (m._tag === "Role" ? [m.role.name] : []))).toEqual(expectedRoles)

  const message = preflightFailureMessage("pvc-x", blob.container, missing, principalId)
  for (const name of ["imagenet", "amlfs-logs"]) {
    const command = `az storage container create --account-name datasets --name ${name} --auth-mode login`
    expect(message.split(command).length - 1).toBe(expectedContainers.includes(name) ? 1 : 0)
  }
  for (const role of AMLFS_STORAGE_ROLES) {
    expect(message.split(`--role "${role.name}" --scope ${account}`).length - 1).toBe(expectedRoles.includes(role.name) ? 1 : 0)
  }
  expect(message.split("--assignee-object-id").length - 1).toBe(expectedRoles.length)
  if (principalId !== undefined && expectedRoles.length > 0) expect(message).toContain(`--assignee-object-id ${HPC} `)
  // Numbered (1) to (n), one entry per missing thing.
  expect(message.match(/\(\d+\) /g) ?? []).toEqual(missing.map((_, i) => `(${i + 1}) `))
})
