import { status } from "@grpc/grpc-js"
import { Effect, Option } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import {
  AmlfsApiFake,
  type AmlfsApiFakeOptions,
  DEFAULT_EXPANSION_FAILED,
  DEFAULT_EXPANSION_ROLLED_BACK
} from "../../layers/azure/AmlfsApiFake.js"
import { CREATED_BY_TAG, CREATED_BY_VALUE } from "../../src/domain/ClusterTags.js"
import type { ControllerExpandVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"
import { createVolumeRequest, dynamicParameters } from "../support/csiRequests.js"
import { sampleSum } from "../support/prometheus.js"

const TIB = 1n << 40n
const CLUSTER = "pvc-0a1b2c3d"
const parameters = {
  ...dynamicParameters,
  "csi.storage.k8s.io/pvc/name": "training-data",
  "csi.storage.k8s.io/pvc/namespace": "ml",
  "csi.storage.k8s.io/pv/name": CLUSTER
}

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})

/** A driver whose fake ARM creates in 100 ms and expands in 300 ms; the volume is a 32 TiB Premium-125 cluster. */
const start = async (arm: AmlfsApiFakeOptions = {}) => {
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    arm: { createDurationMillis: 100, deleteDurationMillis: 100, expansionDurationMillis: 300, rollbackDurationMillis: 100, ...arm }
  })
  stops.push(driver.stop)
  const controller = driver.client.controller
  const useArm = <A>(f: (fake: AmlfsApiFake["Service"]) => Effect.Effect<A>) => driver.inspect(AmlfsApiFake.use(f))
  const cluster = (name = CLUSTER) =>
    // The fake is the AmlfsApi of the driver's context too.
    driver.inspect(
      AmlfsApi.use((api) => api.get("rg-test", name)).pipe(Effect.orDie, Effect.map(Option.getOrUndefined))
    )
  const createVolume = async () => {
    const created = await ask(
      controller,
      controller.createVolume,
      createVolumeRequest(CLUSTER, parameters, { capacityRange: { requiredBytes: 20n * TIB, limitBytes: 0n } })
    )
    if (!created.ok) throw new Error(`CreateVolume failed: ${created.details}`)
    return created.value.volume?.volumeId ?? ""
  }
  const expand = (overrides: Partial<ControllerExpandVolumeRequest>, deadlineMs?: number) =>
    ask(
      controller,
      controller.controllerExpandVolume,
      { volumeId: "", capacityRange: undefined, secrets: {}, volumeCapability: undefined, ...overrides },
      deadlineMs === undefined ? {} : { deadlineMs }
    )
  const expandTo = (volumeId: string, tib: bigint, deadlineMs?: number) =>
    expand({ volumeId, capacityRange: { requiredBytes: tib * TIB, limitBytes: 0n } }, deadlineMs)
  const puts = () => useArm((fake) => Effect.map(fake.counters, (c) => c.expansionPutsByFilesystem[CLUSTER] ?? 0))
  const jobNames = () =>
    driver.inspect(
      AmlfsApi.use((api) => api.listExpansionJobs("rg-test", CLUSTER)).pipe(
        Effect.orDie,
        Effect.map((jobs) => jobs.map((job) => `${job.name} ${job.status}`))
      )
    )
  return { ...driver, useArm, cluster, createVolume, expand, expandTo, puts, jobNames }
}

const details = (answer: { ok: boolean; details?: string }) => (answer.ok ? "" : answer.details ?? "")

describe("ControllerExpandVolume of a driver-created volume grows its AMLFS cluster", () => {
  it("rounds up to the SKU's step, starts one job, and changes nothing else about the cluster", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    const before = await driver.cluster()
    expect(before?.currentStorageCapacityTiB).toBe(32)

    const answer = await driver.expandTo(volumeId, 40n)
    expect(answer).toEqual({ ok: true, value: { capacityBytes: 48n * TIB, nodeExpansionRequired: false } })
    expect(await driver.puts()).toBe(1)
    expect(await driver.jobNames()).toEqual(["expand-to-48tib Completed"])

    const after = await driver.cluster()
    expect(after?.currentStorageCapacityTiB).toBe(48)
    expect({ ...after, currentStorageCapacityTiB: 0 }).toEqual({ ...before, currentStorageCapacityTiB: 0 })
    expect(driver.events().map((e) => `${e.type} ${e.action} ${e.reason} ${e.pvc.namespace}/${e.pvc.name}`)).toEqual(
      expect.arrayContaining(["Normal Expanding ExpansionStarted ml/training-data", "Normal Expanding Expanded ml/training-data"])
    )

    // Asked again (the resizer's retry after a lost answer): the capacity, no second job.
    expect(await driver.expandTo(volumeId, 40n)).toEqual(answer)
    expect(await driver.puts()).toBe(1)
  })

  it("answers the capacity without a job when the cluster is already large enough", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    expect(await driver.expandTo(volumeId, 30n)).toEqual({ ok: true, value: { capacityBytes: 32n * TIB, nodeExpansionRequired: false } })
    expect(await driver.puts()).toBe(0)
    expect(await driver.useArm((fake) => fake.count("listExpansionJobs"))).toBe(0)
  })

  it("joins concurrent calls: ten calls, one job", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    const answers = await Promise.all(Array.from({ length: 10 }, () => driver.expandTo(volumeId, 64n)))
    expect(answers.every((a) => a.ok && a.value.capacityBytes === 64n * TIB)).toBe(true)
    expect(await driver.puts()).toBe(1)
  })

  it("lets a call's deadline pass while the job runs, and the retry joins the same job", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    expect(await driver.expandTo(volumeId, 64n, 100)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    expect(await driver.expandTo(volumeId, 64n)).toMatchObject({ ok: true, value: { capacityBytes: 64n * TIB } })
    expect(await driver.puts()).toBe(1)
  })

  it("answers UNAVAILABLE with ARM's reason when the job fails, and the retry starts a second job", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    await driver.useArm((fake) => fake.failNextExpansion())
    const failed = await driver.expandTo(volumeId, 40n)
    expect(failed).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(details(failed)).toContain(DEFAULT_EXPANSION_FAILED.message)
    expect((await driver.cluster())?.currentStorageCapacityTiB).toBe(32)
    expect(driver.events().some((e) => e.type === "Warning" && e.reason === "ExpansionFailed")).toBe(true)

    expect(await driver.expandTo(volumeId, 40n)).toMatchObject({ ok: true, value: { capacityBytes: 48n * TIB } })
    expect(await driver.puts()).toBe(2)
    expect(await driver.jobNames()).toEqual(["expand-to-48tib Failed", "expand-to-48tib-2 Completed"])

    const metrics = await driver.metrics()
    expect(["started", "completed", "failed"].map((outcome) => sampleSum(metrics, "azurelustre_csi_expansion_jobs_total", { outcome })))
      .toEqual([2, 1, 1])
    expect(sampleSum(metrics, "azurelustre_csi_expansion_job_duration_seconds_count", { outcome: "failed" })).toBe(1)
    expect(sampleSum(metrics, "azurelustre_csi_expansion_job_duration_seconds_count", { outcome: "completed" })).toBe(1)
    expect(sampleSum(metrics, "azurelustre_csi_arm_operation_wait_seconds_count", { operation: "expand", outcome: "ok" })).toBe(2)
  })

  it("answers an error with ARM's reason when the job rolls back", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    await driver.useArm((fake) => fake.rollBackNextExpansion())
    const rolledBack = await driver.expandTo(volumeId, 40n)
    expect(rolledBack).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(details(rolledBack)).toContain(DEFAULT_EXPANSION_ROLLED_BACK.message)
    expect((await driver.cluster())?.currentStorageCapacityTiB).toBe(32)
  })

  it("refuses more than the SKU's maximum with OUT_OF_RANGE naming it, without a job", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume()
    const answer = await driver.expandTo(volumeId, 200n)
    expect(answer).toMatchObject({ ok: false, code: status.OUT_OF_RANGE })
    expect(details(answer)).toContain("128")
    expect(await driver.puts()).toBe(0)
  })

  it("refuses a cluster still being created with FAILED_PRECONDITION", async () => {
    const driver = await start({ createDurationMillis: 60_000 })
    await driver.useArm((fake) =>
      fake.seed({
        resourceGroup: "rg-test",
        name: "pvc-creating",
        state: "Creating",
        spec: { skuName: "AMLFS-Durable-Premium-125", storageCapacityTiB: 16, tags: { [CREATED_BY_TAG]: CREATED_BY_VALUE } }
      })
    )
    const answer = await driver.expandTo("pvc-creating#lustrefs#10.0.0.9##t#rg-test", 32n)
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(details(answer)).toContain("Creating")
    expect(await driver.useArm((fake) => fake.count("beginExpansion"))).toBe(0)
  })
})

describe("ControllerExpandVolume refusals", () => {
  it("refuses a static volume with INVALID_ARGUMENT (infeasible to the resizer), the same way every time, without calling ARM", async () => {
    const driver = await start()
    const volumeId = "team-fs#lustrefs#10.0.0.4##f#"
    for (let i = 0; i < 2; i++) {
      const answer = await driver.expandTo(volumeId, 64n)
      expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
      expect(details(answer)).toContain("not the driver's to grow")
    }
    expect(await driver.useArm((fake) => fake.count("get"))).toBe(0)
  })

  it.each<[string, Partial<ControllerExpandVolumeRequest>, status]>([
    ["an unknown volume id", { volumeId: "nonsense", capacityRange: { requiredBytes: TIB, limitBytes: 0n } }, status.NOT_FOUND],
    ["a volume whose cluster is gone", { volumeId: "pvc-gone#lustrefs#10.0.0.9##t#rg-test", capacityRange: { requiredBytes: TIB, limitBytes: 0n } }, status.NOT_FOUND],
    ["a missing volume id", { capacityRange: { requiredBytes: TIB, limitBytes: 0n } }, status.INVALID_ARGUMENT],
    ["a missing capacity range", { volumeId: "pvc-1#lustrefs#10.0.0.9##t#rg-test" }, status.INVALID_ARGUMENT],
    ["a limit below the required size", { volumeId: "pvc-1#lustrefs#10.0.0.9##t#rg-test", capacityRange: { requiredBytes: 2n * TIB, limitBytes: TIB } }, status.INVALID_ARGUMENT]
  ])("answers %s with its code", async (_case, request, code) => {
    const driver = await start()
    expect(await driver.expand(request)).toMatchObject({ ok: false, code })
    expect(await driver.useArm((fake) => fake.count("beginExpansion"))).toBe(0)
  })
})
