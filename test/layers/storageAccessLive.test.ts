/**
 * StorageAccessLive through the @azure/arm-storagecache client's pipeline (ArmClient) against
 * the ARM emulator over HTTPS: container reads answered from the HSM model's directories, role
 * assignments paged with nextLink, the emulator's storage faults (revoke a role, deny either
 * read) through the programmatic API and `POST /emulator/faults`, and each request counted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Https from "node:https"
import { afterAll } from "vitest"
import { ArmEmulator, type ArmEmulatorOptions, EMULATOR_HPC_CACHE_PRINCIPAL_ID } from "../../layers/azure/ArmEmulator.js"
import type { ArmRequestEnded } from "../../layers/azure/ArmClient.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { selfSignedCertificate } from "../../layers/azure/selfSignedCertificate.js"
import {
  AMLFS_STORAGE_ROLES,
  roleDefinitionGuidOf,
  StorageAccess,
  STORAGE_BLOB_DATA_CONTRIBUTOR
} from "../../layers/azure/StorageAccess.js"
import { StorageAccessLive } from "../../layers/azure/StorageAccessLive.js"
import { HsmModel } from "../../layers/hsm/simulation/HsmModel.js"
import { hsmPaths } from "../../layers/hsm/simulation/HsmPaths.js"
import { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"
import { scratchFolder } from "../support/mounts.js"

const subscription = "00000000-0000-0000-0000-000000000000"
const account = `/subscriptions/${subscription}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets`
const containerId = (name: string, storageAccount = "datasets") =>
  `/subscriptions/${subscription}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/${storageAccount}/blobServices/default/containers/${name}`

const folders: Array<string> = []
afterAll(() => folders.forEach((folder) => Fs.rmSync(folder, { recursive: true, force: true })))

let certificate: Promise<{ certificatePem: string; keyPem: string }> | undefined
const sharedCertificate = Effect.promise(() => (certificate ??= Effect.runPromise(selfSignedCertificate())))

/** An emulator on a fresh HSM model (containers datasets/imagenet and datasets/amlfs-logs exist), and the live layer on it. */
const world = ({ withModel = true, ...options }: Partial<ArmEmulatorOptions> & { readonly withModel?: boolean } = {}) =>
  Effect.gen(function*() {
    const stateDir = scratchFolder("storage-access-")
    folders.push(stateDir)
    const paths = hsmPaths(stateDir)
    Fs.mkdirSync(paths.faults, { recursive: true })
    for (const name of ["imagenet", "amlfs-logs"]) Fs.mkdirSync(paths.container({ storageAccount: "datasets", container: name }), { recursive: true })
    const model = !withModel ? undefined : Context.get(
      yield* Layer.build(HsmModel.layer(stateDir, { restoreDelay: "10 millis" }).pipe(Layer.provide(SimulationFaults.layer(paths.faults)))),
      HsmModel
    )
    const emulator = yield* ArmEmulator.start({ certificate: yield* sharedCertificate, ...(model === undefined ? {} : { hsm: model }), ...options })
    const requests: Array<ArmRequestEnded> = []
    const client = yield* Layer.build(StorageAccessLive.layer({
      subscriptionId: subscription,
      credential: staticCredential("storage"),
      endpoint: emulator.url,
      trustedCertificatePem: emulator.certificatePem,
      onRequest: (request) => Effect.sync(() => requests.push(request))
    }))
    return { emulator, storage: Context.get(client, StorageAccess), requests }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

describe("StorageAccessLive against the ARM emulator", () => {
  it.live("a container exists when the model has its directory; a missing container or storage account is false", () =>
    Effect.scoped(Effect.gen(function*() {
      const { storage, requests } = yield* world()
      assert.isTrue(yield* storage.containerExists(containerId("imagenet")))
      assert.isFalse(yield* storage.containerExists(containerId("missing")))
      assert.isFalse(yield* storage.containerExists(containerId("imagenet", "otheraccount")))
      assert.deepStrictEqual(requests, [
        { operation: "getBlobContainer", status: "200" },
        { operation: "getBlobContainer", status: "404" },
        { operation: "getBlobContainer", status: "404" }
      ])
    })))

  it.live("a container in a subscription ARM does not know (or the identity may not see) is no answer: an ArmError 404 SubscriptionNotFound", () =>
    Effect.scoped(Effect.gen(function*() {
      const { storage } = yield* world()
      const elsewhere = containerId("imagenet").replace(subscription, "11111111-1111-1111-1111-111111111111")
      const failure = failureOf(yield* Effect.exit(storage.containerExists(elsewhere)))
      assert.deepInclude(failure, { statusCode: 404, code: "SubscriptionNotFound", operation: "getBlobContainer" })
    })))

  it.live("without a model, every container exists", () =>
    Effect.scoped(Effect.gen(function*() {
      const { storage } = yield* world({ withModel: false })
      assert.isTrue(yield* storage.containerExists(containerId("anything")))
    })))

  it.live("role assignments: every page (nextLink), the AMLFS roles to the emulator's HPC Cache principal, inherited ones too", () =>
    Effect.scoped(Effect.gen(function*() {
      const { storage, requests, emulator } = yield* world({ roleAssignmentsPageSize: 2 })
      const assignments = yield* storage.roleAssignmentsAt(account)
      assert.strictEqual(assignments.length, 5)
      assert.strictEqual(requests.filter((r) => r.operation === "listRoleAssignments").length, 3)
      const hpc = assignments.filter((a) => a.principalId === EMULATOR_HPC_CACHE_PRINCIPAL_ID)
      assert.deepStrictEqual(hpc.map((a) => roleDefinitionGuidOf(a.roleDefinitionId)), AMLFS_STORAGE_ROLES.map((role) => role.id))
      assert.deepStrictEqual([...new Set(hpc.map((a) => a.principalType))], ["ServicePrincipal"])
      assert.isTrue(assignments.some((a) => a.principalType === "User"))
      // The request carried $filter=atScope(), and each page was asked of the emulator's own host.
      const paths = (yield* emulator.counters).requests.map((r) => r.path)
      assert.deepStrictEqual(paths, Array(3).fill(`${account}/providers/Microsoft.Authorization/roleAssignments`))

      yield* emulator.faults.revokeStorageRoles(["Storage Account Contributor"])
      const revoked = yield* storage.roleAssignmentsAt(account)
      assert.deepStrictEqual(
        revoked.filter((a) => a.principalId === EMULATOR_HPC_CACHE_PRINCIPAL_ID).map((a) => roleDefinitionGuidOf(a.roleDefinitionId)),
        [STORAGE_BLOB_DATA_CONTRIBUTOR.id]
      )
      yield* emulator.faults.reset
      assert.strictEqual((yield* storage.roleAssignmentsAt(account)).length, 5)
    })))

  it.live("denied reads are ArmErrors with status 403 AuthorizationFailed naming the operation; the faults go through JSON too", () =>
    Effect.scoped(Effect.gen(function*() {
      const { storage, emulator } = yield* world()
      const post = (body: unknown) =>
        Effect.callback<number>((resume) => {
          const request = Https.request(`${emulator.url}/emulator/faults`, {
            method: "POST",
            ca: emulator.certificatePem,
            headers: { "content-type": "application/json" }
          }, (response) => {
            response.resume()
            response.on("end", () => resume(Effect.succeed(response.statusCode ?? 0)))
          })
          request.on("error", (error) => resume(Effect.die(error)))
          request.end(JSON.stringify(body))
        })
      assert.strictEqual(yield* post({ denyContainerRead: true, denyRoleAssignmentRead: true }), 200)
      const container = failureOf(yield* Effect.exit(storage.containerExists(containerId("imagenet"))))
      assert.deepInclude(container, { statusCode: 403, code: "AuthorizationFailed", operation: "getBlobContainer" })
      const roles = failureOf(yield* Effect.exit(storage.roleAssignmentsAt(account)))
      assert.deepInclude(roles, { statusCode: 403, code: "AuthorizationFailed", operation: "listRoleAssignments" })
      assert.deepInclude(yield* emulator.faults.current, { denyContainerRead: true, denyRoleAssignmentRead: true, revokedStorageRoles: [] })
      assert.strictEqual(yield* post({ revokeStorageRoles: ["Storage Owner"] }), 400)
      assert.strictEqual(yield* post({ revokeStorageRoles: ["Storage Blob Data Contributor"], denyContainerRead: false }), 200)
      assert.isTrue(yield* storage.containerExists(containerId("imagenet")))
      assert.deepInclude(yield* emulator.faults.current, { revokedStorageRoles: ["Storage Blob Data Contributor"] })
    })))

  it.live("throttling is a retryable ArmError carrying Retry-After", () =>
    Effect.scoped(Effect.gen(function*() {
      const { storage, emulator } = yield* world()
      yield* emulator.faults.throttle(1, 3)
      const exit = yield* Effect.exit(storage.containerExists(containerId("imagenet")))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
      assert.strictEqual(error?.statusCode, 429)
      assert.isTrue(error?.retryable)
      assert.strictEqual(error?.retryAfterMillis, 3000)
    })))
})
