import { status } from "@grpc/grpc-js"
import { Duration, Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { CreateVolumeRequest } from "../../src/gen/csi.js"
import { armEmulatorForTests } from "../support/armEmulatorForTests.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest } from "../support/csiRequests.js"

// The controller as it runs, down to the wire: the real @azure/arm-storagecache client over HTTPS
// to the ARM emulator. Only the process around it is shared with the test.
const arm = armEmulatorForTests({ creationDuration: Duration.millis(800), deletionDuration: Duration.millis(200) })

const startController = async () => {
  const driver = await arm.startController()
  const controller = driver.client.controller
  return {
    ...driver,
    create: (name: string, deadlineMs?: number) =>
      ask(controller, controller.createVolume, request(name), deadlineMs === undefined ? {} : { deadlineMs }),
    remove: (volumeId: string) => ask(controller, controller.deleteVolume, { volumeId, secrets: {} })
  }
}

const request = (name: string): CreateVolumeRequest =>
  createVolumeRequest(name, {
    "sku-name": "AMLFS-Durable-Premium-125",
    zone: "2",
    "maintenance-day-of-week": "Saturday",
    "maintenance-time-of-day-utc": "23:30"
  }, { capacityRange: { requiredBytes: 16n << 40n, limitBytes: 0n } })

const puts = async (name: string) => (await Effect.runPromise(arm.emulator.counters)).putsByName[name] ?? 0

describe("dynamic provisioning through the real SDK against the ARM emulator", () => {
  it("creates, answers the MGS the emulator assigned, and deletes", async () => {
    const driver = await startController()
    const created = await driver.create("pvc-sdk-happy")
    expect(created).toMatchObject({ ok: true, value: { volume: { capacityBytes: 16n << 40n } } })
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    expect(volumeId).toMatch(/^pvc-sdk-happy#lustrefs#10\.\d+\.\d+\.4##t#rg-test$/)
    expect(await puts("pvc-sdk-happy")).toBe(1)
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
  })

  it("survives a deadline and a controller restart mid-creation with one PUT", async () => {
    const first = await startController()
    expect(await first.create("pvc-sdk-restart", 200)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    await first.stop()
    const second = await startController()
    expect(await second.create("pvc-sdk-restart")).toMatchObject({ ok: true })
    expect(await puts("pvc-sdk-restart")).toBe(1)
  })

  it("retries throttling (429 with Retry-After) and succeeds", async () => {
    const driver = await startController()
    await Effect.runPromise(arm.emulator.faults.throttle(2, 1))
    expect(await driver.create("pvc-sdk-throttled")).toMatchObject({ ok: true })
  })

  it("re-creates a cluster that ended Failed on the next call; the failure says ARM's reason, read from the creation's operation", async () => {
    const driver = await startController()
    await Effect.runPromise(
      arm.emulator.faults.failNextCreate({ code: "CreateTimeout", message: "Amlfilesystem creation did not complete because an operation timed out." })
    )
    const failed = await driver.create("pvc-sdk-failed")
    expect(failed).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    // The emulator, like ARM may, gives the Failed cluster no health description: the reason is the operation's.
    expect(failed.ok ? "" : failed.details).toBe(
      "Azure Managed Lustre pvc-sdk-failed ended Failed: CreateTimeout: Amlfilesystem creation did not complete because an " +
        "operation timed out. It is being deleted, and the next retry creates it again"
    )
    expect(await driver.create("pvc-sdk-failed")).toMatchObject({ ok: true })
    expect(await puts("pvc-sdk-failed")).toBe(2)
  })

  it("a cluster found Failed after a restart says its health's description, else that ARM gave no reason: never 'Failed ()'", async () => {
    const driver = await startController()
    const seedFailed = (name: string, description: string) =>
      Effect.runPromise(arm.emulator.seed({
        resourceGroup: "rg-test",
        name,
        provisioningState: "Failed",
        tags: { "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver" },
        health: { state: "Unavailable", description }
      }))
    await seedFailed("pvc-sdk-found-failed", "The subnet has no route to the storage account.")
    await seedFailed("pvc-sdk-mute", "")
    const described = await driver.create("pvc-sdk-found-failed")
    expect(described.ok ? "" : described.details).toContain("ended Failed: The subnet has no route to the storage account. It is")
    const mute = await driver.create("pvc-sdk-mute")
    expect(mute.ok ? "" : mute.details).toContain("ended Failed: ARM gave no reason (health Unavailable). It is being deleted")
    expect(mute.ok ? "" : mute.details).not.toContain("()")
  })

  it("on an ARM without Microsoft.StorageCache, DeleteVolume answers FAILED_PRECONDITION naming it: the cluster is not taken for gone", async () => {
    const driver = await startController()
    const created = await driver.create("pvc-sdk-no-provider")
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    await Effect.runPromise(arm.emulator.faults.storageCacheMissing(true))
    const deleted = await driver.remove(volumeId)
    expect(deleted).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(deleted.ok ? "" : deleted.details).toContain(
      "does not offer Azure Managed Lustre filesystems (Microsoft.StorageCache/amlFilesystems) at api-version 2023-05-01"
    )
    await Effect.runPromise(arm.emulator.faults.storageCacheMissing(false))
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
  })

  it("answers quota RESOURCE_EXHAUSTED (ARM's message once, no doubled period) and 403 PERMISSION_DENIED", async () => {
    const driver = await startController()
    await Effect.runPromise(arm.emulator.faults.filesystemQuota(0))
    const quota = await driver.create("pvc-sdk-quota")
    expect(quota).toMatchObject({ ok: false, code: status.RESOURCE_EXHAUSTED })
    expect(quota.ok ? "" : quota.details).toContain("Please request a quota increase. Ask for more AMLFS quota")
    expect(quota.ok ? "" : quota.details).not.toContain("..")
    await Effect.runPromise(arm.emulator.faults.reset)
    await Effect.runPromise(arm.emulator.faults.forbidden(true))
    expect(await driver.create("pvc-sdk-forbidden")).toMatchObject({ ok: false, code: status.PERMISSION_DENIED })
  })
})
