import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { ArmError } from "./AmlfsApi.js"
import { AMLFS_STORAGE_ROLES, type RoleAssignment, StorageAccess } from "./StorageAccess.js"

/**
 * A deterministic, in-memory StorageAccess for tests. Every container exists unless it was
 * removed; every scope has the same role assignments (by default both AMLFS_STORAGE_ROLES
 * assigned to FAKE_HPC_CACHE_PRINCIPAL_ID, a ServicePrincipal); a refused read answers 403
 * AuthorizationFailed, as ARM does to an identity without read permission; scripted failures
 * (`failNext`) answer before anything else, as the emulator's faults do. Every call is recorded.
 */

/** The object id the fake's HPC Cache Resource Provider has. */
export const FAKE_HPC_CACHE_PRINCIPAL_ID = "00000000-0000-0000-0000-0000000fa4e0"

export type StorageOperation = "containerExists" | "roleAssignmentsAt"

export interface StorageCall {
  readonly operation: StorageOperation
  /** The container id or the scope asked about. */
  readonly target: string
}

export interface StorageAccessFakeOptions {
  /** Container ids that do not exist (compared case-insensitively); every other one does. */
  readonly missingContainers?: ReadonlyArray<string>
  /** The assignments every scope lists (default: the AMLFS roles to FAKE_HPC_CACHE_PRINCIPAL_ID). */
  readonly roleAssignments?: ReadonlyArray<RoleAssignment>
  /** Reads answered 403 AuthorizationFailed. */
  readonly refused?: ReadonlyArray<StorageOperation>
}

/** What an AMLFS role assigned to `principalId` at the storage account looks like in ARM's list. */
export const roleAssignmentOf = (roleId: string, principalId: string, principalType = "ServicePrincipal"): RoleAssignment => ({
  roleDefinitionId: `/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
  principalId,
  principalType
})

export const defaultFakeRoleAssignments: ReadonlyArray<RoleAssignment> = AMLFS_STORAGE_ROLES.map((role) =>
  roleAssignmentOf(role.id, FAKE_HPC_CACHE_PRINCIPAL_ID)
)

const armOperationOf: Readonly<Record<StorageOperation, string>> = {
  containerExists: "getBlobContainer",
  roleAssignmentsAt: "listRoleAssignments"
}
const refusedAction: Readonly<Record<StorageOperation, string>> = {
  containerExists: "Microsoft.Storage/storageAccounts/blobServices/containers/read",
  roleAssignmentsAt: "Microsoft.Authorization/roleAssignments/read"
}

interface ScriptedFailure {
  readonly operation: StorageOperation | undefined
  readonly error: ArmError
}

export class StorageAccessFake extends Context.Service<StorageAccessFake, {
  /** Lower-case ids of the containers that do not exist. */
  readonly missingContainers: Ref.Ref<ReadonlySet<string>>
  readonly roleAssignments: Ref.Ref<ReadonlyArray<RoleAssignment>>
  readonly refused: Ref.Ref<ReadonlySet<StorageOperation>>
  readonly failures: Ref.Ref<ReadonlyArray<ScriptedFailure>>
  readonly calls: Ref.Ref<ReadonlyArray<StorageCall>>
  /** The container no longer exists. */
  readonly removeContainer: (containerId: string) => Effect.Effect<void>
  /** The role (its definition id) is no longer assigned to anyone. */
  readonly revokeRole: (roleId: string) => Effect.Effect<void>
  /** The read answers 403 from now on (or, `false`, no longer). */
  readonly refuse: (operation: StorageOperation, refused?: boolean) => Effect.Effect<void>
  /** The next `times` calls (of `operation`, or of any) fail with `error`. */
  readonly failNext: (error: ArmError, options?: { readonly times?: number; readonly operation?: StorageOperation }) => Effect.Effect<void>
  readonly count: (operation: StorageOperation) => Effect.Effect<number>
}>()("azurelustre/azure/StorageAccessFake") {
  /** The fake's state, to be given to `layerOf` by a test that keeps a hand on it. */
  static readonly make = (options: StorageAccessFakeOptions = {}) =>
    Effect.gen(function*() {
      const missingContainers = yield* Ref.make<ReadonlySet<string>>(
        new Set((options.missingContainers ?? []).map((id) => id.toLowerCase()))
      )
      const roleAssignments = yield* Ref.make(options.roleAssignments ?? defaultFakeRoleAssignments)
      const refused = yield* Ref.make<ReadonlySet<StorageOperation>>(new Set(options.refused ?? []))
      const failures = yield* Ref.make<ReadonlyArray<ScriptedFailure>>([])
      const calls = yield* Ref.make<ReadonlyArray<StorageCall>>([])
      return StorageAccessFake.of({
        missingContainers,
        roleAssignments,
        refused,
        failures,
        calls,
        removeContainer: (id) => Ref.update(missingContainers, (all) => new Set([...all, id.toLowerCase()])),
        revokeRole: (roleId) =>
          Ref.update(roleAssignments, (all) => all.filter((assignment) => !assignment.roleDefinitionId.toLowerCase().endsWith(roleId.toLowerCase()))),
        refuse: (operation, on = true) =>
          Ref.update(refused, (all) => (on ? new Set([...all, operation]) : new Set([...all].filter((o) => o !== operation)))),
        failNext: (error, { times = 1, operation } = {}) =>
          Ref.update(failures, (all) => [...all, ...Array.from({ length: times }, () => ({ operation, error }))]),
        count: (operation) => Effect.map(Ref.get(calls), (all) => all.filter((call) => call.operation === operation).length)
      })
    })

  /** StorageAccess answered by `fake`, and the fake itself. */
  static readonly layerOf = (fake: StorageAccessFake["Service"]): Layer.Layer<StorageAccess | StorageAccessFake> =>
    Layer.merge(Layer.succeed(StorageAccessFake, fake), Layer.succeed(StorageAccess, apiOf(fake)))

  static readonly layer = (options: StorageAccessFakeOptions = {}): Layer.Layer<StorageAccess | StorageAccessFake> =>
    Layer.unwrap(Effect.map(StorageAccessFake.make(options), StorageAccessFake.layerOf))
}

/** The first scripted failure aimed at `operation`, taken from the queue. */
const takeFailure = (fake: StorageAccessFake["Service"], operation: StorageOperation) =>
  Ref.modify(fake.failures, (all): readonly [ArmError | undefined, ReadonlyArray<ScriptedFailure>] => {
    const at = all.findIndex((failure) => failure.operation === undefined || failure.operation === operation)
    return at < 0 ? [undefined, all] : [all[at]?.error, [...all.slice(0, at), ...all.slice(at + 1)]]
  })

const apiOf = (fake: StorageAccessFake["Service"]) => {
  /** Records the call, then answers a scripted failure or a refusal before `answer`. */
  const answer = <A>(operation: StorageOperation, target: string, value: Effect.Effect<A>): Effect.Effect<A, ArmError> =>
    Effect.gen(function*() {
      yield* Ref.update(fake.calls, (all) => [...all, { operation, target }])
      const scripted = yield* takeFailure(fake, operation)
      if (scripted !== undefined) return yield* scripted
      if ((yield* Ref.get(fake.refused)).has(operation)) {
        return yield* new ArmError({
          operation: armOperationOf[operation],
          statusCode: 403,
          code: "AuthorizationFailed",
          message: `The client does not have authorization to perform action '${refusedAction[operation]}' over scope '${target}'.`,
          retryAfterMillis: undefined
        })
      }
      return yield* value
    })
  return StorageAccess.of({
    containerExists: (containerId) =>
      answer("containerExists", containerId, Effect.map(Ref.get(fake.missingContainers), (missing) => !missing.has(containerId.toLowerCase()))),
    roleAssignmentsAt: (scope) => answer("roleAssignmentsAt", scope, Ref.get(fake.roleAssignments))
  })
}
