/**
 * The blob-integration preflight through CreateVolume over gRPC, on the fake ARM and the fake
 * storage reads: what is missing is one FAILED_PRECONDITION naming all of it with its `az`
 * command, before any PUT; a read the controller may not make is a Warning Event and the
 * creation goes on; a retry that joins a running creation reads nothing again.
 */
import { status } from "@grpc/grpc-js"
import { Effect, Layer, Ref } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { AmlfsApiFake } from "../../layers/azure/AmlfsApiFake.js"
import { STORAGE_ACCOUNT_CONTRIBUTOR, STORAGE_BLOB_DATA_CONTRIBUTOR } from "../../layers/azure/StorageAccess.js"
import {
  FAKE_HPC_CACHE_PRINCIPAL_ID,
  roleAssignmentOf,
  StorageAccessFake,
  type StorageAccessFakeOptions
} from "../../layers/azure/StorageAccessFake.js"
import type { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import type { CreateVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters as required } from "../support/csiRequests.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"

const TIB = 1n << 40n
const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets"
const container = `${account}/blobServices/default/containers/imagenet`
const logging = `${account}/blobServices/default/containers/amlfs-logs`
const parameters = {
  ...required,
  "csi.storage.k8s.io/pvc/name": "training-data",
  "csi.storage.k8s.io/pvc/namespace": "ml",
  "blob-container": container,
  "blob-logging-container": logging
}
const request = (extra: Record<string, string> = {}): CreateVolumeRequest =>
  createVolumeRequest("pvc-preflight", { ...parameters, ...extra }, { capacityRange: { requiredBytes: 16n * TIB, limitBytes: 0n } })

const lookup = `"$(az ad sp list --display-name "HPC Cache Resource Provider" --query "[0].id" -o tsv)"`
const grant = (role: string, assignee = lookup) =>
  `az role assignment create --assignee-object-id ${assignee} --assignee-principal-type ServicePrincipal --role "${role}" --scope ${account}`
const createContainer = (name: string) => `az storage container create --account-name datasets --name ${name} --auth-mode login`

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})

const start = async (
  storageOptions: StorageAccessFakeOptions = {},
  controllerConfig: Partial<ControllerConfig["Service"]> = {},
  createDurationMillis = 200
) => {
  const storage = Effect.runSync(StorageAccessFake.make(storageOptions))
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    armLayer: Layer.merge(
      AmlfsApiFake.layer({ createDurationMillis, deleteDurationMillis: 100, hsmTimings: { importMillis: 100, archiveMillis: 100 } }),
      StorageAccessFake.layerOf(storage)
    ),
    controllerConfig
  })
  stops.push(driver.stop)
  const controller = driver.client.controller
  return {
    ...driver,
    storage,
    create: (extra: Record<string, string> = {}, deadlineMs?: number) =>
      ask(controller, controller.createVolume, request(extra), deadlineMs === undefined ? {} : { deadlineMs }),
    puts: () =>
      driver.inspect(Effect.gen(function*() {
        return yield* (yield* AmlfsApiFake).count("beginCreate")
      })),
    reads: async () => ({
      containers: await Effect.runPromise(storage.count("containerExists")),
      roles: await Effect.runPromise(storage.count("roleAssignmentsAt"))
    }),
    skipped: () => driver.events().filter((event) => event.reason === "BlobPreflightSkipped")
  }
}

const detailsOf = (answer: { readonly ok: boolean; readonly details?: string }) => (answer.ok ? "" : answer.details ?? "")

describe("CreateVolume with blob-container checks the containers and the storage roles before the PUT", () => {
  it("creates when both containers exist and the roles are granted: two container reads, one role read, no Warning", async () => {
    const driver = await start()
    expect(await driver.create()).toMatchObject({ ok: true })
    expect(await driver.reads()).toEqual({ containers: 2, roles: 1 })
    expect((await Effect.runPromise(Ref.get(driver.storage.calls))).map((call) => call.target)).toEqual([container, logging, account])
    expect(driver.skipped()).toEqual([])
    expect(await driver.puts()).toBe(1)
  })

  it("a volume without blob-container reads no storage", async () => {
    const driver = await start()
    const plain = createVolumeRequest("pvc-plain", required, { capacityRange: { requiredBytes: 16n * TIB, limitBytes: 0n } })
    expect(await ask(driver.client.controller, driver.client.controller.createVolume, plain)).toMatchObject({ ok: true })
    expect(await driver.reads()).toEqual({ containers: 0, roles: 0 })
  })

  it("a missing container is FAILED_PRECONDITION naming it and the az command that creates it; nothing is PUT", async () => {
    const driver = await start({ missingContainers: [container] })
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toBe(
      "Azure Managed Lustre pvc-preflight was not created: AMLFS could not use the blob containers. (1) the container " +
        `imagenet (blob-container) does not exist in the storage account datasets: ${createContainer("imagenet")}. ` +
        "Fix these, and the provisioner's next retry creates the cluster"
    )
    expect(await driver.puts()).toBe(0)
  })

  it("a missing logging container is named as blob-logging-container", async () => {
    const driver = await start({ missingContainers: [logging] })
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toContain(`(1) the container amlfs-logs (blob-logging-container) does not exist`)
    expect(detailsOf(answer)).toContain(createContainer("amlfs-logs"))
    expect(detailsOf(answer)).not.toContain(createContainer("imagenet"))
    expect(await driver.puts()).toBe(0)
  })

  it.each([STORAGE_ACCOUNT_CONTRIBUTOR, STORAGE_BLOB_DATA_CONTRIBUTOR])("a missing role, $name, is FAILED_PRECONDITION with the az command that grants it", async (role) => {
    const driver = await start()
    await Effect.runPromise(driver.storage.revokeRole(role.id))
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toContain(
      `(1) the role "${role.name}" is not assigned to any service principal on the storage account datasets ` +
        `(AMLFS needs it for the HPC Cache Resource Provider): ${grant(role.name)}. Fix these`
    )
    expect(detailsOf(answer)).not.toContain("(2)")
    expect(await driver.puts()).toBe(0)
  })

  it("everything missing at once is one answer listing all four, each with its command", async () => {
    const driver = await start({ missingContainers: [container, logging], roleAssignments: [] })
    const details = detailsOf(await driver.create())
    expect(details).toContain(`(1) the container imagenet (blob-container) does not exist in the storage account datasets: ${createContainer("imagenet")}; `)
    expect(details).toContain(`(2) the container amlfs-logs (blob-logging-container) does not exist in the storage account datasets: ${createContainer("amlfs-logs")}; `)
    expect(details).toContain(`(3) the role "Storage Account Contributor" is not assigned`)
    expect(details).toContain(grant("Storage Account Contributor"))
    expect(details).toContain(`(4) the role "Storage Blob Data Contributor" is not assigned`)
    expect(details).toContain(grant("Storage Blob Data Contributor"))
  })

  it("once the container is there, the provisioner's retry creates the cluster", async () => {
    const driver = await start({ missingContainers: [container] })
    expect(await driver.create()).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    await Effect.runPromise(Ref.set(driver.storage.missingContainers, new Set()))
    expect(await driver.create()).toMatchObject({ ok: true })
    expect(await driver.puts()).toBe(1)
  })

  it("a retry that joins the running creation reads nothing again, even once a role is gone", async () => {
    const driver = await start({}, {}, 1500)
    expect(await driver.create({}, 300)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    expect(await driver.reads()).toEqual({ containers: 2, roles: 1 })
    await Effect.runPromise(driver.storage.revokeRole(STORAGE_ACCOUNT_CONTRIBUTOR.id))
    await Effect.runPromise(driver.storage.removeContainer(container))
    expect(await driver.create()).toMatchObject({ ok: true })
    // The cluster exists now: another retry finds it and reads nothing either.
    expect(await driver.create()).toMatchObject({ ok: true })
    expect(await driver.reads()).toEqual({ containers: 2, roles: 1 })
    expect(await driver.puts()).toBe(1)
  })
})

describe("a check the controller may not make is a Warning Event, and the creation goes on", () => {
  it("a refused container read: OK, with BlobPreflightSkipped naming both containers and the action that would allow it", async () => {
    const driver = await start({ refused: ["containerExists"], missingContainers: [container] })
    expect(await driver.create()).toMatchObject({ ok: true })
    const [skipped, ...more] = driver.skipped()
    expect(more).toEqual([])
    expect(skipped).toMatchObject({ type: "Warning", action: "Provisioning", pvc: { namespace: "ml", name: "training-data" } })
    expect(skipped?.note).toContain("that the container imagenet (blob-container) exists: ARM answered 403 AuthorizationFailed")
    expect(skipped?.note).toContain("that the container amlfs-logs (blob-logging-container) exists")
    expect(skipped?.note).toContain(
      "the controller's identity needs Microsoft.Storage/storageAccounts/blobServices/containers/read on the storage account datasets (Reader has it)"
    )
    expect(skipped?.note).not.toContain("roleAssignments")
    expect(await driver.puts()).toBe(1)
  })

  it("a refused role-assignment read: OK, with BlobPreflightSkipped naming the read and Microsoft.Authorization/roleAssignments/read", async () => {
    const driver = await start({ refused: ["roleAssignmentsAt"], roleAssignments: [] })
    expect(await driver.create()).toMatchObject({ ok: true })
    const notes = driver.skipped().map((event) => event.note)
    expect(notes).toHaveLength(1)
    expect(notes[0]).toContain("the roles of the HPC Cache Resource Provider on the storage account datasets: ARM answered 403 AuthorizationFailed")
    expect(notes[0]).toContain("needs Microsoft.Authorization/roleAssignments/read on the storage account datasets (Reader has it)")
    expect(notes[0]).toContain("The creation goes on")
  })

  it("a refused read still fails on what could be read: a missing container with unreadable roles is FAILED_PRECONDITION, with the Warning", async () => {
    const driver = await start({ refused: ["roleAssignmentsAt"], missingContainers: [logging] })
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toContain(createContainer("amlfs-logs"))
    expect(detailsOf(answer)).not.toContain("az role assignment")
    expect(driver.skipped()).toHaveLength(1)
  })
})

describe("whose roles count: the HPC Cache Resource Provider's when its object id is configured, any service principal's otherwise", () => {
  const otherServicePrincipal = "11111111-2222-4333-8444-555555555555"
  const heldBy = (principalId: string, principalType = "ServicePrincipal") => ({
    roleAssignments: [STORAGE_ACCOUNT_CONTRIBUTOR, STORAGE_BLOB_DATA_CONTRIBUTOR].map((role) => roleAssignmentOf(role.id, principalId, principalType))
  })

  it("configured, and the roles are its own: OK", async () => {
    const driver = await start(heldBy(FAKE_HPC_CACHE_PRINCIPAL_ID), { hpcCachePrincipalId: FAKE_HPC_CACHE_PRINCIPAL_ID.toUpperCase() })
    expect(await driver.create()).toMatchObject({ ok: true })
  })

  it("configured, and another service principal holds the roles: both missing, the commands name the configured id", async () => {
    const driver = await start(heldBy(otherServicePrincipal), { hpcCachePrincipalId: FAKE_HPC_CACHE_PRINCIPAL_ID })
    const details = detailsOf(await driver.create())
    expect(details).toContain(
      `(1) the HPC Cache Resource Provider (object id ${FAKE_HPC_CACHE_PRINCIPAL_ID}) lacks the role "Storage Account Contributor" ` +
        `on the storage account datasets: ${grant("Storage Account Contributor", FAKE_HPC_CACHE_PRINCIPAL_ID)}`
    )
    expect(details).toContain(grant("Storage Blob Data Contributor", FAKE_HPC_CACHE_PRINCIPAL_ID))
    expect(details).not.toContain("az ad sp list")
  })

  it("not configured, another service principal's roles count (the weaker check)", async () => {
    const driver = await start(heldBy(otherServicePrincipal))
    expect(await driver.create()).toMatchObject({ ok: true })
  })

  it("not configured, roles held by a user do not count", async () => {
    const driver = await start(heldBy(otherServicePrincipal, "User"))
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toContain(grant("Storage Account Contributor"))
    expect(detailsOf(answer)).toContain(grant("Storage Blob Data Contributor"))
  })
})
