import { StorageCacheManagementClient } from "@azure/arm-storagecache"
import type { TokenCredential } from "@azure/core-auth"
import { isRestError, type RestError } from "@azure/core-rest-pipeline"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Https from "node:https"
import { ArmEmulator, type ArmEmulatorOptions } from "../../layers/azure/ArmEmulator.js"
import { emulatorSubnet } from "../support/clusterFixtures.js"

/** The emulator accepts any bearer token, but wants one. */
const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: "emulator-token", expiresOnTimestamp: Date.now() + 3_600_000 })
}

const subnet = emulatorSubnet

const body = (capacity = 16) => ({
  location: "eastus",
  sku: { name: "AMLFS-Durable-Premium-125" },
  zones: ["1"],
  tags: { owner: "test" },
  storageCapacityTiB: capacity,
  filesystemSubnet: subnet,
  maintenanceWindow: { dayOfWeek: "Saturday" as const, timeOfDayUTC: "22:00" }
})

/** The raw SDK client, trusting the emulator's certificate only. */
const sdkClient = (emulator: ArmEmulator) =>
  new StorageCacheManagementClient(credential, emulator.subscriptionId, {
    $host: emulator.url,
    endpoint: emulator.url,
    tlsOptions: { ca: emulator.certificatePem },
    retryOptions: { maxRetries: 0 }
  })

const start = (options: ArmEmulatorOptions = {}) =>
  ArmEmulator.start({ creationDuration: "1200 millis", deletionDuration: "300 millis", ...options }).pipe(
    Effect.map((emulator) => ({ emulator, client: sdkClient(emulator) }))
  )

/** What a promise rejected with, as a RestError. */
const restError = <A>(promise: () => Promise<A>) =>
  Effect.promise(() => promise().then(() => undefined, (e: unknown) => e)).pipe(
    Effect.map((e): RestError => {
      assert.isTrue(isRestError(e), `expected a RestError, got ${String(e)}`)
      return e as RestError
    })
  )

/** A plain HTTPS request to the emulator (no SDK, no credential unless given). */
const rawRequest = (emulator: ArmEmulator, method: string, path: string, options: { body?: unknown; authorization?: string } = {}) =>
  Effect.callback<{ status: number; headers: Record<string, string | Array<string> | undefined>; json: unknown }>((resume) => {
    const text = options.body === undefined ? undefined : JSON.stringify(options.body)
    const request = Https.request(`${emulator.url}${path}`, {
      method,
      ca: emulator.certificatePem,
      headers: {
        ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
        ...(text === undefined ? {} : { "content-type": "application/json" })
      }
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (c: Buffer) => chunks.push(c))
      response.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8")
        resume(Effect.succeed({ status: response.statusCode ?? 0, headers: response.headers, json: raw === "" ? undefined : JSON.parse(raw) }))
      })
    })
    request.on("error", (error) => resume(Effect.die(error)))
    request.end(text)
  })

const rg = "rg1"
const fsPath = (emulator: ArmEmulator, name: string, apiVersion = "2023-05-01") =>
  `/subscriptions/${emulator.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.StorageCache/amlFilesystems/${name}?api-version=${apiVersion}`

describe("ArmEmulator through the real @azure/arm-storagecache client over HTTPS", () => {
  it.live("beginCreateOrUpdateAndWait and beginDeleteAndWait complete (Azure-AsyncOperation, Location, Retry-After)", () =>
    Effect.gen(function*() {
      const { emulator, client } = yield* start()
      const started = Date.now()
      const created = yield* Effect.promise(() => client.amlFilesystems.beginCreateOrUpdateAndWait(rg, "fs1", body()))
      assert.isAtLeast(Date.now() - started, 1_000)
      assert.strictEqual(created.provisioningState, "Succeeded")
      assert.strictEqual(created.clientInfo?.mgsAddress, "10.0.0.4")
      assert.strictEqual(created.health?.state, "Available")
      assert.strictEqual(created.throughputProvisionedMBps, 16 * 125)
      assert.deepStrictEqual(created.zones, ["1"])
      assert.deepStrictEqual(created.tags, { owner: "test" })
      assert.instanceOf(created.systemData?.createdAt, Date)
      assert.strictEqual(
        created.id,
        `/subscriptions/${emulator.subscriptionId}/resourceGroups/rg1/providers/Microsoft.StorageCache/amlFilesystems/fs1`
      )

      // The same PUT again: 200, nothing to wait for.
      const again = yield* Effect.promise(() => client.amlFilesystems.beginCreateOrUpdateAndWait(rg, "fs1", body()))
      assert.strictEqual(again.provisioningState, "Succeeded")
      const listed = yield* Effect.promise(async () => {
        const all = []
        for await (const fs of client.amlFilesystems.listByResourceGroup(rg)) all.push(fs.name)
        return all
      })
      assert.deepStrictEqual(listed, ["fs1"])

      yield* Effect.promise(() => client.amlFilesystems.beginDeleteAndWait(rg, "fs1"))
      const gone = yield* restError(() => client.amlFilesystems.get(rg, "fs1"))
      assert.strictEqual(gone.statusCode, 404)
      assert.strictEqual(gone.code, "ResourceNotFound")

      const counters = yield* emulator.counters
      assert.deepStrictEqual(counters.putsByName, { fs1: 2 })
      assert.deepStrictEqual(counters.deletesByName, { fs1: 1 })
      assert.isTrue(counters.requests.some((r) => r.path.includes("/ascOperations/")))
    }))

  it.live("a failed creation ends the SDK's poller with ARM's error; the filesystem reads Failed", () =>
    Effect.gen(function*() {
      const { emulator, client } = yield* start({ creationDuration: "200 millis" })
      yield* emulator.faults.failNextCreate({ code: "CreateTimeout", message: "Amlfilesystem creation did not complete because an operation timed out." })
      const failure = yield* Effect.promise(() =>
        client.amlFilesystems.beginCreateOrUpdateAndWait(rg, "bad", body()).then(() => undefined, (e: unknown) => e)
      )
      assert.include(String(failure), "operation timed out")
      const fs = yield* Effect.promise(() => client.amlFilesystems.get(rg, "bad"))
      assert.strictEqual(fs.provisioningState, "Failed")
      assert.strictEqual(fs.health?.state, "Unavailable")
      assert.isUndefined(fs.clientInfo?.mgsAddress)
    }))

  it.live("409 while Creating, 400 on a changed capacity, 409 QuotaExceeded, validation", () =>
    Effect.gen(function*() {
      const { emulator, client } = yield* start()
      yield* Effect.promise(() => client.amlFilesystems.beginCreateOrUpdate(rg, "busy", body()))
      const busy = yield* restError(() => client.amlFilesystems.beginCreateOrUpdate(rg, "busy", body()))
      assert.strictEqual(busy.statusCode, 409)
      assert.strictEqual(busy.code, "Conflict")

      yield* emulator.seed({ resourceGroup: rg, name: "done", storageCapacityTiB: 16 })
      const changed = yield* restError(() => client.amlFilesystems.beginCreateOrUpdate(rg, "done", body(32)))
      assert.strictEqual(changed.statusCode, 400)

      yield* emulator.faults.filesystemQuota(2)
      const quota = yield* restError(() => client.amlFilesystems.beginCreateOrUpdate(rg, "third", body()))
      assert.strictEqual(quota.statusCode, 409)
      assert.strictEqual(quota.code, "QuotaExceeded")
      assert.include(quota.message, "Operation results in exceeding quota limits of resource type AmlFilesystem")
      yield* emulator.faults.filesystemQuota(undefined)

      const badCapacity = yield* restError(() => client.amlFilesystems.beginCreateOrUpdate(rg, "odd", body(20)))
      assert.strictEqual(badCapacity.statusCode, 400)
      assert.include(badCapacity.message, "multiple of 16 TiB")
      const badZone = yield* restError(() => client.amlFilesystems.beginCreateOrUpdate(rg, "zone", { ...body(), zones: ["7"] }))
      assert.strictEqual(badZone.code, "InvalidAvailabilityZone")
    }))

  it.live("SKUs, subnet size and subnet checks", () =>
    Effect.gen(function*() {
      const { emulator, client } = yield* start({ subnetFreeAddresses: { [subnet]: 20 } })
      const skus = yield* Effect.promise(async () => {
        const all = []
        for await (const sku of client.skus.list()) all.push(sku)
        return all
      })
      const eastus = skus.filter((s) => s.resourceType === "amlFilesystems" && s.locations?.includes("eastus"))
      assert.deepStrictEqual(eastus.map((s) => s.name), [
        "AMLFS-Durable-Premium-40",
        "AMLFS-Durable-Premium-125",
        "AMLFS-Durable-Premium-250",
        "AMLFS-Durable-Premium-500"
      ])
      const p40 = eastus[0]
      assert.strictEqual(p40?.capabilities?.find((c) => c.name === "OSS capacity increment (TiB)")?.value, "48")
      assert.strictEqual(p40?.capabilities?.find((c) => c.name === "default maximum capacity (TiB)")?.value, "768")
      assert.deepStrictEqual(p40?.locationInfo, [{ location: "eastus", zones: ["1", "2", "3"] }])
      assert.isTrue(skus.some((s) => s.resourceType === "caches"))

      const size = yield* Effect.promise(() =>
        client.getRequiredAmlFSSubnetsSize({ requiredAMLFilesystemSubnetsSizeInfo: { storageCapacityTiB: 16, sku: { name: "AMLFS-Durable-Premium-125" } } })
      )
      assert.strictEqual(size.filesystemSubnetSize, 10)
      yield* Effect.promise(() =>
        client.checkAmlFSSubnets({
          amlFilesystemSubnetInfo: { filesystemSubnet: subnet, storageCapacityTiB: 16, sku: { name: "AMLFS-Durable-Premium-125" }, location: "eastus" }
        })
      )
      const tooSmall = yield* restError(() =>
        client.checkAmlFSSubnets({
          amlFilesystemSubnetInfo: { filesystemSubnet: subnet, storageCapacityTiB: 128, sku: { name: "AMLFS-Durable-Premium-125" }, location: "eastus" }
        })
      )
      assert.strictEqual(tooSmall.statusCode, 400)
      assert.strictEqual(tooSmall.code, "InvalidSubnet")
      assert.include(tooSmall.message, "24 are required, 20 are available")
      // A filesystem in the subnet takes its addresses: 20 - 10 left, 10 fit, 12 do not.
      yield* emulator.seed({ resourceGroup: rg, name: "tenant", filesystemSubnet: subnet, storageCapacityTiB: 16 })
      const afterSeed = yield* restError(() =>
        client.checkAmlFSSubnets({
          amlFilesystemSubnetInfo: { filesystemSubnet: subnet, storageCapacityTiB: 32, sku: { name: "AMLFS-Durable-Premium-125" }, location: "eastus" }
        })
      )
      assert.include(afterSeed.message, "12 are required, 10 are available")
    }))

  it.live("wire protocol: auth required, api-version checked, operation URLs, control endpoint", () =>
    Effect.gen(function*() {
      const { emulator, client } = yield* start({ creationDuration: "5 seconds", operationRetryAfterSeconds: 3 })
      const noAuth = yield* rawRequest(emulator, "GET", fsPath(emulator, "x"))
      assert.strictEqual(noAuth.status, 401)
      assert.deepStrictEqual(noAuth.json, {
        error: { code: "AuthenticationFailed", message: "Authentication failed. The 'Authorization' header is missing or is not a bearer token." }
      })
      const old = yield* rawRequest(emulator, "GET", fsPath(emulator, "x", "2021-03-01"), { authorization: "Bearer t" })
      assert.strictEqual(old.status, 400)
      const newer = yield* rawRequest(emulator, "GET", fsPath(emulator, "x", "2026-01-01"), { authorization: "Bearer t" })
      assert.strictEqual(newer.status, 404)

      const put = yield* rawRequest(emulator, "PUT", fsPath(emulator, "raw"), {
        authorization: "Bearer t",
        body: {
          location: "eastus",
          sku: { name: "AMLFS-Durable-Premium-500" },
          properties: { storageCapacityTiB: 8, filesystemSubnet: subnet, maintenanceWindow: { dayOfWeek: "Monday", timeOfDayUTC: "3:30" } }
        }
      })
      assert.strictEqual(put.status, 201)
      assert.strictEqual(put.headers["retry-after"], "3")
      const asyncUrl = String(put.headers["azure-asyncoperation"])
      assert.match(asyncUrl, /\/subscriptions\/[^/]+\/providers\/Microsoft\.StorageCache\/locations\/eastus\/ascOperations\/[0-9a-f-]+\?api-version=2023-05-01$/)
      const operation = yield* rawRequest(emulator, "GET", asyncUrl.slice(emulator.url.length), { authorization: "Bearer t" })
      assert.strictEqual((operation.json as { status: string }).status, "InProgress")
      assert.strictEqual(operation.headers["retry-after"], "3")

      const del = yield* rawRequest(emulator, "DELETE", fsPath(emulator, "raw"), { authorization: "Bearer t" })
      assert.strictEqual(del.status, 202)
      const monitor = yield* rawRequest(emulator, "GET", String(del.headers["location"]).slice(emulator.url.length), { authorization: "Bearer t" })
      assert.strictEqual(monitor.status, 202)
      const deleting = yield* Effect.promise(() => client.amlFilesystems.get(rg, "raw"))
      assert.strictEqual(deleting.provisioningState, "Deleting")
      const missing = yield* rawRequest(emulator, "DELETE", fsPath(emulator, "never"), { authorization: "Bearer t" })
      assert.strictEqual(missing.status, 204)

      const faults = yield* rawRequest(emulator, "POST", "/emulator/faults", { body: { throttle: { count: 1, retryAfterSeconds: 7 }, forbidden: false } })
      assert.strictEqual(faults.status, 200)
      const throttled = yield* restError(() => client.amlFilesystems.get(rg, "raw"))
      assert.strictEqual(throttled.statusCode, 429)
      assert.strictEqual(throttled.response?.headers.get("retry-after"), "7")
      const refused = yield* rawRequest(emulator, "POST", "/emulator/faults", { body: { throttle: { count: "x" } } })
      assert.strictEqual(refused.status, 400)
      const counters = yield* rawRequest(emulator, "GET", "/emulator/counters")
      assert.deepStrictEqual((counters.json as { putsByName: unknown }).putsByName, { raw: 1 })
    }))

  it.live("expansionJobs: 201 with Azure-AsyncOperation, Location and Retry-After; the operation and the job end together; faults through JSON", () =>
    Effect.gen(function*() {
      const { emulator } = yield* start({ expansionDuration: "300 millis", rollbackDuration: "200 millis", operationRetryAfterSeconds: 2 })
      yield* emulator.seed({ resourceGroup: rg, name: "fs9", storageCapacityTiB: 8, skuName: "AMLFS-Durable-Premium-250" })
      const auth = { authorization: "Bearer t" }
      const jobPath = (job: string, apiVersion = "2026-01-01") =>
        `/subscriptions/${emulator.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.StorageCache/amlFilesystems/fs9/expansionJobs/${job}?api-version=${apiVersion}`
      const grow = (capacity: number) => ({ location: "eastus", properties: { newStorageCapacityTiB: capacity } })

      // Only api-version 2026-01-01 and newer know expansionJobs and currentStorageCapacityTiB.
      const old = yield* rawRequest(emulator, "PUT", jobPath("j1", "2025-07-01"), { ...auth, body: grow(16) })
      assert.strictEqual(old.status, 400)
      assert.strictEqual((old.json as { error: { code: string } }).error.code, "NoRegisteredProviderFound")
      const oldRead = yield* rawRequest(emulator, "GET", fsPath(emulator, "fs9", "2025-07-01"), auth)
      assert.notProperty((oldRead.json as { properties: object }).properties, "currentStorageCapacityTiB")

      const put = yield* rawRequest(emulator, "PUT", jobPath("j1"), { ...auth, body: grow(16) })
      assert.strictEqual(put.status, 201)
      assert.strictEqual(put.headers["retry-after"], "2")
      const asyncUrl = String(put.headers["azure-asyncoperation"])
      assert.match(asyncUrl, /\/locations\/eastus\/ascOperations\/[0-9a-f-]+\?api-version=2026-01-01$/)
      assert.match(String(put.headers["location"]), /monitor=true/)
      const job = put.json as { type: string; properties: { newStorageCapacityTiB: number; provisioningState: string; status: { state: string; percentComplete: number } } }
      assert.strictEqual(job.type, "Microsoft.StorageCache/amlFilesystems/expansionJobs")
      assert.deepStrictEqual([job.properties.newStorageCapacityTiB, job.properties.provisioningState, job.properties.status.state], [16, "Creating", "InProgress"])
      const read = (yield* rawRequest(emulator, "GET", fsPath(emulator, "fs9", "2026-01-01"), auth)).json as {
        properties: { storageCapacityTiB: number; currentStorageCapacityTiB: number; health: { state: string } }
      }
      assert.deepStrictEqual([read.properties.storageCapacityTiB, read.properties.currentStorageCapacityTiB, read.properties.health.state], [8, 8, "Expanding"])
      const again = yield* rawRequest(emulator, "PUT", jobPath("J1"), { ...auth, body: grow(16) })
      assert.strictEqual(again.status, 200)

      const poll = (url: string) =>
        rawRequest(emulator, "GET", url.slice(emulator.url.length), auth).pipe(
          Effect.map((r) => (r.json as { status: string; error?: { code: string } })),
          Effect.repeat({ schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 40 })), until: (o) => o.status !== "InProgress" })
        )
      assert.strictEqual((yield* poll(asyncUrl)).status, "Succeeded")
      const done = (yield* rawRequest(emulator, "GET", jobPath("j1"), auth)).json as { properties: { status: { state: string; percentComplete: number; completionTimeUTC: string } } }
      assert.deepStrictEqual([done.properties.status.state, done.properties.status.percentComplete], ["Completed", 100])
      const grown = (yield* rawRequest(emulator, "GET", fsPath(emulator, "fs9", "2026-01-01"), auth)).json as {
        properties: { storageCapacityTiB: number; currentStorageCapacityTiB: number; throughputProvisionedMBps: number }
      }
      assert.deepStrictEqual([grown.properties.storageCapacityTiB, grown.properties.currentStorageCapacityTiB, grown.properties.throughputProvisionedMBps], [8, 16, 16 * 250])

      // A rollback through the control endpoint: the operation ends Failed with the reason.
      const fault = yield* rawRequest(emulator, "POST", "/emulator/faults", { body: { rollBackNextExpansion: { code: "OstAddFailed", message: "Adding OSTs failed." } } })
      assert.strictEqual(fault.status, 200)
      const rolled = yield* rawRequest(emulator, "PUT", jobPath("j2"), { ...auth, body: grow(24) })
      assert.strictEqual(rolled.status, 201)
      const outcome = yield* poll(String(rolled.headers["azure-asyncoperation"]))
      assert.deepStrictEqual([outcome.status, outcome.error?.code], ["Failed", "OstAddFailed"])
      const list = (yield* rawRequest(emulator, "GET", jobPath("").replace("/expansionJobs/?", "/expansionJobs?"), auth)).json as {
        value: ReadonlyArray<{ name: string; properties: { status: { state: string } } }>
      }
      assert.deepStrictEqual(list.value.map((j) => [j.name, j.properties.status.state]), [["j1", "Completed"], ["j2", "Failed"]])
      const counters = (yield* rawRequest(emulator, "GET", "/emulator/counters")).json as {
        expansionPutsByFilesystem: unknown
        expansionsStartedByFilesystem: unknown
      }
      // The PUT at 2025-07-01 never reached the resource provider: not counted.
      assert.deepStrictEqual([counters.expansionPutsByFilesystem, counters.expansionsStartedByFilesystem], [{ fs9: 3 }, { fs9: 2 }])
    }))
})
