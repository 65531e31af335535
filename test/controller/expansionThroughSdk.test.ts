import { status } from "@grpc/grpc-js"
import { Duration, Effect } from "effect"
import * as Https from "node:https"
import { describe, expect, it } from "vitest"
import { type ArmEmulator, expansionFailedError, expansionRolledBackError } from "../../layers/azure/ArmEmulator.js"
import { armEmulatorForTests } from "../support/armEmulatorForTests.js"
import type { Answer } from "../support/csiClient.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters } from "../support/csiRequests.js"
import { testControllerConfig } from "../support/inProcessDriver.js"

// ControllerExpandVolume as it runs, down to the wire: gRPC on a unix socket, the controller's
// real @azure/arm-storagecache client over HTTPS to the ARM emulator, which counts what it is sent.
// The controller reads a running job every 50 ms (testControllerConfig); expansions take 300 ms.

const TIB = 1n << 40n
const RESOURCE_GROUP = "rg-test"
const subscriptionId = testControllerConfig.subscriptionId

const arm = armEmulatorForTests({
  creationDuration: Duration.millis(100),
  deletionDuration: Duration.millis(100),
  expansionDuration: Duration.millis(300),
  rollbackDuration: Duration.millis(300)
})

/** A plain HTTPS GET of the emulator's ARM API at 2026-01-01: the resource as ARM sends it. */
const armGet = (emulator: ArmEmulator, path: string): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const request = Https.request(`${emulator.url}${path}?api-version=2026-01-01`, {
      method: "GET",
      ca: emulator.certificatePem,
      headers: { authorization: "Bearer test", accept: "application/json" }
    }, (response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      response.on("end", () => {
        if (response.statusCode !== 200) reject(new Error(`GET ${path}: ${response.statusCode} ${body}`))
        else resolve(JSON.parse(body))
      })
    })
    request.once("error", reject)
    request.end()
  })

const filesystemPath = (name: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.StorageCache/amlFilesystems/${name}`

interface FilesystemJson {
  readonly systemData: { readonly lastModifiedAt: string } & Record<string, unknown>
  readonly properties: {
    readonly storageCapacityTiB: number
    readonly currentStorageCapacityTiB: number
    readonly throughputProvisionedMBps: number
    readonly health: { readonly state: string }
  } & Record<string, unknown>
}

interface JobListJson {
  readonly value: ReadonlyArray<{ readonly name: string; readonly properties: { readonly status: { readonly state: string } } }>
}

/**
 * The whole resource without what an expansion changes on purpose: the current capacity, the
 * throughput derived from it, and when it was last modified.
 */
const withoutCapacity = (fs: FilesystemJson) => {
  const { currentStorageCapacityTiB: _capacity, throughputProvisionedMBps: _throughput, ...properties } = fs.properties
  const { lastModifiedAt: _modified, ...systemData } = fs.systemData
  return { ...fs, properties, systemData }
}

/** Waits (without a time limit of its own: the test's applies) until `done` holds. */
const until = async (done: () => Promise<boolean>) => {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 20))
}

const details = (answer: Answer<unknown>) => (answer.ok ? "" : answer.details)

const PARAMETERS = {
  ...dynamicParameters
}

/** The controller (real SDK, the emulator) in this process, with helpers for one volume's calls. */
const start = async () => {
  const driver = await arm.startController()
  const controller = driver.client.controller
  /** A 32 TiB AMLFS-Durable-Premium-125 volume (16 TiB steps, at most 128 TiB), through CreateVolume. */
  const createVolume = async (name: string) => {
    const created = await ask(
      controller,
      controller.createVolume,
      createVolumeRequest(name, PARAMETERS, { capacityRange: { requiredBytes: 32n * TIB, limitBytes: 0n } })
    )
    if (!created.ok) throw new Error(`CreateVolume ${name} failed: ${created.details}`)
    return created.value.volume?.volumeId ?? ""
  }
  const expand = (volumeId: string, requiredBytes: bigint, deadlineMs?: number) =>
    ask(
      controller,
      controller.controllerExpandVolume,
      { volumeId, capacityRange: { requiredBytes, limitBytes: 0n }, secrets: {}, volumeCapability: undefined },
      deadlineMs === undefined ? {} : { deadlineMs }
    )
  return { ...driver, createVolume, expand }
}

/** What the emulator saw of one filesystem's expansions. */
const expansionCounts = async (emulator: ArmEmulator, name: string) => {
  const counters = await Effect.runPromise(emulator.counters)
  return {
    puts: counters.expansionPutsByFilesystem[name] ?? 0,
    started: counters.expansionsStartedByFilesystem[name] ?? 0
  }
}

const jobsOf = async (emulator: ArmEmulator, name: string) => {
  const list = (await armGet(emulator, `${filesystemPath(name)}/expansionJobs`)) as JobListJson
  return list.value.map((job) => `${job.name} ${job.properties.status.state}`).sort()
}

const filesystem = async (emulator: ArmEmulator, name: string) => (await armGet(emulator, filesystemPath(name))) as FilesystemJson

const okOf = (tib: bigint) => ({ ok: true, value: { capacityBytes: tib * TIB, nodeExpansionRequired: false } })

describe("ControllerExpandVolume through the real SDK against the ARM emulator", () => {
  it("grows the cluster to the rounded-up size with one job and changes nothing else about it", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-grow")
    const before = await filesystem(arm.emulator, "pvc-grow")
    expect(before.properties.currentStorageCapacityTiB).toBe(32)

    // 40 TiB and a byte, in 16 TiB steps: 48 TiB.
    const answer = await driver.expand(volumeId, 40n * TIB + 1n)
    expect(answer).toEqual(okOf(48n))

    const after = await filesystem(arm.emulator, "pvc-grow")
    expect(after.properties.currentStorageCapacityTiB).toBe(48)
    expect(after.properties.storageCapacityTiB).toBe(32)
    expect(after.properties.health.state).toBe("Available")
    expect(withoutCapacity(after)).toEqual(withoutCapacity(before))
    expect(await expansionCounts(arm.emulator, "pvc-grow")).toEqual({ puts: 1, started: 1 })
    expect(await jobsOf(arm.emulator, "pvc-grow")).toEqual(["expand-to-48tib Completed"])
  })

  it("answers UNAVAILABLE with ARM's reason when the job fails, keeps the old size, and the retry starts attempt 2", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-fail")
    await Effect.runPromise(arm.emulator.faults.failNextExpansion())

    const failed = await driver.expand(volumeId, 40n * TIB)
    expect(failed).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(details(failed)).toContain(`(${expansionFailedError.code}): ${expansionFailedError.message}`)
    expect((await filesystem(arm.emulator, "pvc-fail")).properties.currentStorageCapacityTiB).toBe(32)

    expect(await driver.expand(volumeId, 40n * TIB)).toEqual(okOf(48n))
    expect(await jobsOf(arm.emulator, "pvc-fail")).toEqual(["expand-to-48tib Failed", "expand-to-48tib-2 Completed"])
    expect(await expansionCounts(arm.emulator, "pvc-fail")).toEqual({ puts: 2, started: 2 })
    expect((await filesystem(arm.emulator, "pvc-fail")).properties.currentStorageCapacityTiB).toBe(48)
  })

  it("answers UNAVAILABLE with ARM's reason when the job rolls back, keeps the old size, and once it ended the retry starts attempt 2", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-rollback")
    await Effect.runPromise(arm.emulator.faults.rollBackNextExpansion())

    const rolledBack = await driver.expand(volumeId, 40n * TIB)
    expect(rolledBack).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(details(rolledBack)).toContain(expansionRolledBackError.code)
    expect(details(rolledBack)).toContain(expansionRolledBackError.message)
    expect((await filesystem(arm.emulator, "pvc-rollback")).properties.currentStorageCapacityTiB).toBe(32)

    await until(async () => (await jobsOf(arm.emulator, "pvc-rollback")).includes("expand-to-48tib Failed"))
    expect((await filesystem(arm.emulator, "pvc-rollback")).properties.currentStorageCapacityTiB).toBe(32)
    expect(await driver.expand(volumeId, 40n * TIB)).toEqual(okOf(48n))
    expect(await jobsOf(arm.emulator, "pvc-rollback")).toEqual(["expand-to-48tib Failed", "expand-to-48tib-2 Completed"])
    expect(await expansionCounts(arm.emulator, "pvc-rollback")).toEqual({ puts: 2, started: 2 })
  })

  it("on an ARM without expansionJobs answers FAILED_PRECONDITION naming the feature and the api-version, never NOT_FOUND", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-old-arm")
    // An ARM that lags behind: 404 InvalidResourceType for amlFilesystems/expansionJobs.
    await Effect.runPromise(arm.emulator.faults.latestApiVersion("2025-07-01"))
    const answer = await driver.expand(volumeId, 48n * TIB)
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(details(answer)).toContain(
      "does not offer AMLFS cluster expansion (Microsoft.StorageCache/amlFilesystems/expansionJobs) at api-version 2026-01-01"
    )
    expect(details(answer)).toContain("ARM answered 404 InvalidResourceType")
    expect(await expansionCounts(arm.emulator, "pvc-old-arm")).toEqual({ puts: 0, started: 0 })
  })

  it("retries ARM's throttling (429 with Retry-After) and then answers OK", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-throttled")
    const seenBefore = (await Effect.runPromise(arm.emulator.counters)).requests.length
    await Effect.runPromise(arm.emulator.faults.throttle(1, 1))

    expect(await driver.expand(volumeId, 40n * TIB)).toEqual(okOf(48n))
    const requests = (await Effect.runPromise(arm.emulator.counters)).requests.slice(seenBefore)
    expect(requests[0]).toMatchObject({ method: "GET", statusCode: 429 })
    expect(requests[1]).toMatchObject({ method: "GET", path: filesystemPath("pvc-throttled"), statusCode: 200 })
    expect(await expansionCounts(arm.emulator, "pvc-throttled")).toEqual({ puts: 1, started: 1 })
  })

  it("starts one job for five concurrent calls and for the retries after them", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-concurrent")
    const answers = await Promise.all(Array.from({ length: 5 }, () => driver.expand(volumeId, 64n * TIB)))
    expect(answers).toEqual(Array.from({ length: 5 }, () => okOf(64n)))
    expect(await expansionCounts(arm.emulator, "pvc-concurrent")).toEqual({ puts: 1, started: 1 })

    const retries = await Promise.all(Array.from({ length: 3 }, () => driver.expand(volumeId, 64n * TIB)))
    expect(retries).toEqual(Array.from({ length: 3 }, () => okOf(64n)))
    expect(await expansionCounts(arm.emulator, "pvc-concurrent")).toEqual({ puts: 1, started: 1 })
    expect(await jobsOf(arm.emulator, "pvc-concurrent")).toEqual(["expand-to-64tib Completed"])
  })

  it("lets a deadline interrupt the wait; the next call joins the same job", async () => {
    const driver = await start()
    const volumeId = await driver.createVolume("pvc-deadline")
    await Effect.runPromise(arm.emulator.faults.expansionDuration(Duration.millis(1500)))

    expect(await driver.expand(volumeId, 40n * TIB, 200)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    await until(async () => (await expansionCounts(arm.emulator, "pvc-deadline")).puts > 0)
    expect(await driver.expand(volumeId, 40n * TIB)).toEqual(okOf(48n))
    expect(await expansionCounts(arm.emulator, "pvc-deadline")).toEqual({ puts: 1, started: 1 })
    expect(await jobsOf(arm.emulator, "pvc-deadline")).toEqual(["expand-to-48tib Completed"])
  })

  it("after a deadline and a controller restart, the new controller finds the running job and waits for it", async () => {
    const first = await start()
    const volumeId = await first.createVolume("pvc-restart")
    await Effect.runPromise(arm.emulator.faults.expansionDuration(Duration.millis(1500)))

    expect(await first.expand(volumeId, 40n * TIB, 200)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    await until(async () => (await expansionCounts(arm.emulator, "pvc-restart")).puts > 0)
    await first.stop()
    expect(await jobsOf(arm.emulator, "pvc-restart")).toEqual(["expand-to-48tib InProgress"])

    const second = await start()
    expect(await second.expand(volumeId, 40n * TIB)).toEqual(okOf(48n))
    expect(await expansionCounts(arm.emulator, "pvc-restart")).toEqual({ puts: 1, started: 1 })
    expect(await jobsOf(arm.emulator, "pvc-restart")).toEqual(["expand-to-48tib Completed"])
  })
})
