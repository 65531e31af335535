import { status } from "@grpc/grpc-js"
import type { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { AmlfsApiFake, type AmlfsApiFakeOptions, armErrors } from "../../layers/azure/AmlfsApiFake.js"
import { CREATED_BY_TAG } from "../../src/domain/ClusterTags.js"
import type { CreateVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"
import { createVolumeRequest, dynamicParameters as required } from "../support/csiRequests.js"

const TIB = 1n << 40n
const dynamicParameters = {
  ...required,
  "csi.storage.k8s.io/pvc/name": "training-data",
  "csi.storage.k8s.io/pvc/namespace": "ml",
  "csi.storage.k8s.io/pv/name": "pvc-0a1b2c3d"
}
const request = (overrides: Partial<CreateVolumeRequest> = {}): CreateVolumeRequest =>
  createVolumeRequest("pvc-0a1b2c3d", dynamicParameters, {
    capacityRange: { requiredBytes: 20n * TIB, limitBytes: 0n },
    ...overrides
  })

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})
const start = async (arm: AmlfsApiFakeOptions = {}) => {
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    arm: { createDurationMillis: 300, deleteDurationMillis: 100, ...arm }
  })
  stops.push(driver.stop)
  const controller = driver.client.controller
  return {
    ...driver,
    create: (overrides: Partial<CreateVolumeRequest> = {}, deadlineMs?: number) =>
      ask(controller, controller.createVolume, request(overrides), deadlineMs === undefined ? {} : { deadlineMs }),
    remove: (volumeId: string) => ask(controller, controller.deleteVolume, { volumeId, secrets: {} }),
    arm: <A>(f: (fake: AmlfsApiFake["Service"]) => Effect.Effect<A>) => driver.inspect(AmlfsApiFake.use(f))
  }
}

describe("CreateVolume without mgs-ip-address creates an AMLFS cluster", () => {
  it("creates it once, rounds the capacity up to the SKU's step, and answers what the node needs", async () => {
    const driver = await start()
    const answer = await driver.create()
    expect(answer).toMatchObject({
      ok: true,
      value: {
        volume: {
          volumeId: expect.stringMatching(/^pvc-0a1b2c3d#lustrefs#\d+\.\d+\.\d+\.\d+##t#rg-test$/),
          capacityBytes: 32n * TIB,
          volumeContext: { "fs-name": "lustrefs", "mgs-ip-address": expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/) }
        }
      }
    })
    expect(await driver.arm((fake) => fake.count("beginCreate", "pvc-0a1b2c3d"))).toBe(1)
    expect(driver.events().map((event) => `${event.type} ${event.action} ${event.reason} ${event.pvc.namespace}/${event.pvc.name}`)).toEqual(
      expect.arrayContaining(["Normal Provisioning ProvisioningStarted ml/training-data", "Normal Provisioning Provisioned ml/training-data"])
    )
    expect(await driver.create()).toEqual(answer)
    expect(await driver.arm((fake) => fake.count("beginCreate"))).toBe(1)
  })

  it("joins concurrent calls for one name: ten calls, one PUT", async () => {
    const driver = await start()
    const answers = await Promise.all(Array.from({ length: 10 }, () => driver.create()))
    expect(new Set(answers.map((a) => a.ok && a.value.volume?.volumeId)).size).toBe(1)
    expect(answers.every((a) => a.ok)).toBe(true)
    expect(await driver.arm((fake) => fake.count("beginCreate"))).toBe(1)
  })

  it("lets a call's deadline pass while ARM goes on, and the retry picks the creation up", async () => {
    const driver = await start({ createDurationMillis: 600 })
    expect(await driver.create({}, 150)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    expect(await driver.create()).toMatchObject({ ok: true })
    expect(await driver.arm((fake) => fake.count("beginCreate"))).toBe(1)
  })

  it("deletes a cluster that ended Failed, says so, and creates it again on the next retry", async () => {
    const driver = await start({ failNextCreates: 1 })
    const failed = await driver.create()
    expect(failed).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(failed.ok ? "" : failed.details).toContain("ended Failed")
    expect(driver.events().some((event) => event.type === "Warning" && event.reason === "ProvisioningFailed")).toBe(true)
    expect(await driver.create()).toMatchObject({ ok: true })
    expect(await driver.arm((fake) => fake.count("beginCreate"))).toBe(2)
  })

  it.each<[string, AmlfsApiFakeOptions, status, string]>([
    ["quota exceeded", { filesystemQuota: 0 }, status.RESOURCE_EXHAUSTED, "quota"],
    ["a subnet without room", { defaultSubnetFreeAddresses: 3 }, status.RESOURCE_EXHAUSTED, "addresses"],
    ["403 from ARM", { failures: [{ error: armErrors.forbidden(), operation: undefined }] }, status.PERMISSION_DENIED, "Grant"]
  ])("answers %s with its code", async (_case, arm, code, named) => {
    const driver = await start(arm)
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code })
    expect(answer.ok ? "" : answer.details).toContain(named)
  })

  // Throttling that never stops ends UNAVAILABLE after armRetry's five retries: with TestClock in
  // test/controller/armPolling.test.ts, since it takes half a minute of real time.
  it("retries throttling that stops, honouring Retry-After, then succeeds", async () => {
    const driver = await start({ failures: [{ error: armErrors.throttled(10), operation: "get" }, { error: armErrors.throttled(10), operation: "get" }] })
    expect(await driver.create()).toMatchObject({ ok: true })
  })

  it.each<[string, Record<string, string>, Partial<CreateVolumeRequest>, status, string]>([
    ["an SKU not offered", { "sku-name": "AMLFS-Durable-Premium-9" }, {}, status.INVALID_ARGUMENT, "AMLFS-Durable-Premium-125"],
    ["a zonal SKU without zone", { zone: "" }, {}, status.INVALID_ARGUMENT, "zone is required"],
    ["a zone not offered", { zone: "7" }, {}, status.INVALID_ARGUMENT, "zone 7"],
    ["a bad maintenance time", { "maintenance-time-of-day-utc": "25:00" }, {}, status.INVALID_ARGUMENT, "maintenance-time-of-day-utc"],
    ["a reserved tag", { tags: `${CREATED_BY_TAG}=me` }, {}, status.INVALID_ARGUMENT, CREATED_BY_TAG],
    ["more than the SKU's maximum", {}, { capacityRange: { requiredBytes: 1000n * TIB, limitBytes: 0n } }, status.OUT_OF_RANGE, "128"]
  ])("refuses %s before calling ARM to create", async (_case, parameters, overrides, code, named) => {
    const driver = await start()
    const answer = await driver.create({ parameters: { ...dynamicParameters, ...parameters }, ...overrides })
    expect(answer).toMatchObject({ ok: false, code })
    expect(answer.ok ? "" : answer.details).toContain(named)
    expect(await driver.arm((fake) => fake.count("beginCreate"))).toBe(0)
  })
})

describe("DeleteVolume of a driver-created volume", () => {
  it("deletes the cluster and waits until ARM no longer has it; again succeeds", async () => {
    const driver = await start()
    const created = await driver.create()
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
    expect(await driver.arm((fake) => fake.stateOf("rg-test", "pvc-0a1b2c3d"))).toBe("Gone")
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
  })

  it("leaves a cluster without the driver's tag alone: FAILED_PRECONDITION", async () => {
    const driver = await start()
    await driver.arm((fake) =>
      fake.seed({
        resourceGroup: "rg-test",
        name: "team-fs",
        spec: {
          location: "eastus", skuName: "AMLFS-Durable-Premium-125", storageCapacityTiB: 16, filesystemSubnet: "/s",
          zones: ["1"], maintenanceWindow: { dayOfWeek: "Sunday", timeOfDayUTC: "02:00" }, tags: {}, identities: []
        }
      })
    )
    const answer = await driver.remove("team-fs#lustrefs#10.0.0.9##t#rg-test")
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(await driver.arm((fake) => fake.count("beginDelete"))).toBe(0)
  })
})
