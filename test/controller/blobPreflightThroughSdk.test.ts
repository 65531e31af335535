/**
 * The blob-integration preflight as the controller runs it, down to the wire: the real
 * @azure/arm-storagecache client (AmlfsApiLive) and StorageAccessLive over HTTPS to the ARM
 * emulator, whose containers are the HSM model's directories (as in `sim`). Only the process
 * around it is shared with the test.
 */
import { status } from "@grpc/grpc-js"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import { afterAll, afterEach, beforeAll, expect, it } from "vitest"
import { AmlfsApiLive } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator, EMULATOR_HPC_CACHE_PRINCIPAL_ID } from "../../layers/azure/ArmEmulator.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { StorageAccessLive } from "../../layers/azure/StorageAccessLive.js"
import { HsmModel } from "../../layers/hsm/simulation/HsmModel.js"
import { type HsmPaths, hsmPaths } from "../../layers/hsm/simulation/HsmPaths.js"
import { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"
import type { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import type { CreateVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest } from "../support/csiRequests.js"
import { startInProcessDriver, testControllerConfig } from "../support/inProcessDriver.js"
import { scratchFolder } from "../support/mounts.js"
import { rootOnly } from "../support/rootOnly.js"

// The creation's initial import makes stubs owned as the blobs are: the model chowns, which needs root.
const { describe } = rootOnly("the HSM model chowns the stubs an initial import makes")

const subscription = testControllerConfig.subscriptionId
const account = `/subscriptions/${subscription}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets`
const request = (name: string): CreateVolumeRequest =>
  createVolumeRequest(name, {
    "sku-name": "AMLFS-Durable-Premium-125",
    zone: "2",
    "maintenance-day-of-week": "Saturday",
    "maintenance-time-of-day-utc": "23:30",
    "csi.storage.k8s.io/pvc/name": "data",
    "csi.storage.k8s.io/pvc/namespace": "ml",
    "blob-container": `${account}/blobServices/default/containers/imagenet`,
    "blob-logging-container": `${account}/blobServices/default/containers/amlfs-logs`
  }, { capacityRange: { requiredBytes: 16n << 40n, limitBytes: 0n } })

const scope = Effect.runSync(Scope.make())
let emulator: ArmEmulator | undefined
let paths: HsmPaths | undefined
let stateDir = ""
const stops: Array<() => Promise<void>> = []

beforeAll(async () => {
  stateDir = scratchFolder("preflight-sdk-")
  paths = hsmPaths(stateDir)
  Fs.mkdirSync(paths.faults, { recursive: true })
  const built = paths
  emulator = await Effect.runPromise(Effect.gen(function*() {
    const model = Context.get(
      yield* Layer.build(HsmModel.layer(stateDir, { restoreDelay: "10 millis" }).pipe(Layer.provide(SimulationFaults.layer(built.faults)))),
      HsmModel
    )
    return yield* ArmEmulator.start({
      subscriptionId: subscription,
      hsm: model,
      creationDuration: "600 millis",
      deletionDuration: "100 millis",
      importDuration: "100 millis",
      operationRetryAfterSeconds: 1
    })
  }).pipe(Scope.provide(scope)))
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  Fs.rmSync(stateDir, { recursive: true, force: true })
})
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
  if (emulator !== undefined) await Effect.runPromise(emulator.faults.reset)
})

const arm = () => {
  if (emulator === undefined) throw new Error("the emulator starts in beforeAll")
  return emulator
}

/** The test's containers: both there, as the README's walk-through makes them, unless `without` names one. */
const containers = (...without: ReadonlyArray<string>) => {
  for (const name of ["imagenet", "amlfs-logs"]) {
    const directory = paths?.container({ storageAccount: "datasets", container: name }) ?? ""
    if (without.includes(name)) Fs.rmSync(directory, { recursive: true, force: true })
    else Fs.mkdirSync(directory, { recursive: true })
  }
}

const startController = async (controllerConfig: Partial<ControllerConfig["Service"]> = {}) => {
  const client = {
    subscriptionId: subscription,
    credential: staticCredential("test"),
    endpoint: arm().url,
    trustedCertificatePem: arm().certificatePem
  }
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    mode: "controller",
    armLayer: Layer.merge(AmlfsApiLive.layer(client), StorageAccessLive.layer(client)),
    controllerConfig
  })
  const stop = async () => {
    stops.splice(stops.indexOf(stop), 1)
    await driver.stop()
  }
  stops.push(stop)
  const controller = driver.client.controller
  return {
    ...driver,
    stop,
    create: (name: string, deadlineMs?: number) =>
      ask(controller, controller.createVolume, request(name), deadlineMs === undefined ? {} : { deadlineMs })
  }
}

const counters = () => Effect.runPromise(arm().counters)
/** The storage reads the emulator answered, as "container" or "roles" (the preflight makes its three at once). */
const storageReads = async () =>
  (await counters()).requests.flatMap((r) =>
    r.path.includes("/blobServices/default/containers/") ? ["container"] : r.path.endsWith("/roleAssignments") ? ["roles"] : []
  )
const detailsOf = (answer: { readonly ok: boolean; readonly details?: string }) => (answer.ok ? "" : answer.details ?? "")

describe("the blob-integration preflight through the real SDK client against the ARM emulator", () => {
  it("with both containers and the emulator's roles, creates: the reads come before the one PUT", async () => {
    containers()
    const driver = await startController({ hpcCachePrincipalId: EMULATOR_HPC_CACHE_PRINCIPAL_ID })
    const before = (await counters()).requests.length
    expect(await driver.create("pvc-pf-ok")).toMatchObject({ ok: true })
    const requests = (await counters()).requests.slice(before)
    const firstPut = requests.findIndex((r) => r.method === "PUT")
    const reads = requests.flatMap((r, i) => (r.path.includes("Microsoft.Storage/") || r.path.endsWith("/roleAssignments") ? [i] : []))
    expect(reads).toHaveLength(3)
    expect(Math.max(...reads)).toBeLessThan(firstPut)
    expect((await counters()).putsByName["pvc-pf-ok"]).toBe(1)
    expect(driver.events().filter((e) => e.reason === "BlobPreflightSkipped")).toEqual([])
  })

  it("a missing logging container: FAILED_PRECONDITION with the az command, and no PUT", async () => {
    containers("amlfs-logs")
    const driver = await startController()
    const answer = await driver.create("pvc-pf-nolog")
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toContain(
      "(1) the container amlfs-logs (blob-logging-container) does not exist in the storage account datasets: " +
        "az storage container create --account-name datasets --name amlfs-logs --auth-mode login. Fix these"
    )
    expect((await counters()).putsByName["pvc-pf-nolog"]).toBeUndefined()
  })

  it("a revoked role (the emulator's fault): FAILED_PRECONDITION naming it, the command granting it to the configured id", async () => {
    containers()
    await Effect.runPromise(arm().faults.revokeStorageRoles(["Storage Blob Data Contributor"]))
    const driver = await startController({ hpcCachePrincipalId: EMULATOR_HPC_CACHE_PRINCIPAL_ID })
    const answer = await driver.create("pvc-pf-role")
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(detailsOf(answer)).toContain(
      `(1) the HPC Cache Resource Provider (object id ${EMULATOR_HPC_CACHE_PRINCIPAL_ID}) lacks the role "Storage Blob Data Contributor" ` +
        `on the storage account datasets: az role assignment create --assignee-object-id ${EMULATOR_HPC_CACHE_PRINCIPAL_ID} ` +
        `--assignee-principal-type ServicePrincipal --role "Storage Blob Data Contributor" --scope ${account}. Fix these`
    )
    expect((await counters()).putsByName["pvc-pf-role"]).toBeUndefined()
  })

  it("a configured principal that is not the one holding the roles: both missing; unconfigured, any service principal counts", async () => {
    containers()
    const strict = await startController({ hpcCachePrincipalId: "12345678-1234-4234-8234-123456789abc" })
    const answer = await strict.create("pvc-pf-other")
    expect(detailsOf(answer)).toContain(`lacks the role "Storage Account Contributor"`)
    expect(detailsOf(answer)).toContain(`lacks the role "Storage Blob Data Contributor"`)
    const lenient = await startController()
    expect(await lenient.create("pvc-pf-other")).toMatchObject({ ok: true })
  })

  it("both reads denied (403): OK, with one Warning Event naming each refused read and the permission it needs", async () => {
    containers()
    await Effect.runPromise(Effect.all([arm().faults.denyContainerRead(true), arm().faults.denyRoleAssignmentRead(true)]))
    const driver = await startController()
    expect(await driver.create("pvc-pf-denied")).toMatchObject({ ok: true })
    const skipped = driver.events().filter((e) => e.reason === "BlobPreflightSkipped")
    expect(skipped).toHaveLength(1)
    expect(skipped[0]?.type).toBe("Warning")
    expect(skipped[0]?.note).toContain("ARM answered 403 AuthorizationFailed")
    expect(skipped[0]?.note).toContain("Microsoft.Storage/storageAccounts/blobServices/containers/read")
    expect(skipped[0]?.note).toContain("Microsoft.Authorization/roleAssignments/read")
  })

  it("a deadline mid-creation, then a controller restart: the new controller joins the creation and reads no storage", async () => {
    containers()
    const first = await startController()
    const before = (await storageReads()).length
    expect(await first.create("pvc-pf-restart", 250)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    await first.stop()
    expect((await storageReads()).slice(before).sort()).toEqual(["container", "container", "roles"])
    // A role lost since would fail a preflight: none runs for a creation that is under way.
    await Effect.runPromise(arm().faults.revokeStorageRoles(["Storage Account Contributor"]))
    const second = await startController()
    expect(await second.create("pvc-pf-restart")).toMatchObject({ ok: true })
    expect((await storageReads()).slice(before).sort()).toEqual(["container", "container", "roles"])
    expect((await counters()).putsByName["pvc-pf-restart"]).toBe(1)
  })
})
