/**
 * The ARM emulator's blob-integration endpoints on the wire: status codes, LRO headers and the
 * operation that ends with an import, job shapes per api-version, faults through the control
 * endpoint's JSON, and archive / cancelArchive through the real @azure/arm-storagecache client.
 */
import { StorageCacheManagementClient } from "@azure/arm-storagecache"
import type { TokenCredential } from "@azure/core-auth"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Https from "node:https"
import { ArmEmulator, type ArmEmulatorOptions } from "../../layers/azure/ArmEmulator.js"

const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: "emulator-token", expiresOnTimestamp: Date.now() + 3_600_000 })
}
const rg = "rg1"
const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/account1"
const hsm = {
  container: `${account}/blobServices/default/containers/datasets`,
  loggingContainer: `${account}/blobServices/default/containers/logs`,
  importPrefixesInitial: ["/data", "/models"]
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly json: unknown
}

const request = (emulator: ArmEmulator, method: string, path: string, body?: unknown) =>
  Effect.callback<Answer>((resume) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const sent = Https.request(`${emulator.url}${path}`, {
      method,
      ca: emulator.certificatePem,
      headers: { authorization: "Bearer t", ...(text === undefined ? {} : { "content-type": "application/json" }) }
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (c: Buffer) => chunks.push(c))
      response.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8")
        resume(Effect.succeed({ status: response.statusCode ?? 0, headers: response.headers, json: raw === "" ? undefined : JSON.parse(raw) }))
      })
    })
    sent.on("error", (error) => resume(Effect.die(error)))
    sent.end(text)
  })

const fsPath = (emulator: ArmEmulator, tail = "") =>
  `/subscriptions/${emulator.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.StorageCache/amlFilesystems/fs1${tail}`
const at = (path: string, apiVersion: string) => `${path}${path.includes("?") ? "&" : "?"}api-version=${apiVersion}`

const start = (options: ArmEmulatorOptions = {}) =>
  ArmEmulator.start({ importDuration: "250 millis", jobCancelDuration: "100 millis", operationRetryAfterSeconds: 2, ...options }).pipe(
    Effect.tap((emulator) => emulator.seed({ resourceGroup: rg, name: "fs1", hsm }))
  )

/** The operation's status once it ended. */
const operationEnd = (emulator: ArmEmulator, url: string) =>
  request(emulator, "GET", url.slice(emulator.url.length)).pipe(
    Effect.map((answer) => answer.json as { status: string; error?: { code: string; message: string } }),
    Effect.repeat({ schedule: Schedule.spaced("40 millis").pipe(Schedule.upTo({ times: 50 })), until: (op) => op.status !== "InProgress" })
  )

type JobJson = { type: string; properties: Record<string, unknown> & { status: Record<string, unknown> } }

describe("ArmEmulator blob-integration wire", () => {
  it.live("importJobs: 201 with Azure-AsyncOperation, Location and Retry-After; the operation ends with the import; 2024-03-01 has no adminStatus nor counts", () =>
    Effect.gen(function*() {
      const emulator = yield* start()
      const job = fsPath(emulator, "/importJobs/import-1")
      const body = { location: "eastus", properties: { importPrefixes: ["/data"], conflictResolutionMode: "Skip" } }
      const put = yield* request(emulator, "PUT", at(job, "2024-07-01"), body)
      assert.strictEqual(put.status, 201)
      assert.strictEqual(put.headers["retry-after"], "2")
      assert.match(String(put.headers["azure-asyncoperation"]), /\/locations\/eastus\/ascOperations\/[0-9a-f-]+\?api-version=2024-07-01$/)
      assert.match(String(put.headers["location"]), /monitor=true/)
      const created = put.json as JobJson
      assert.strictEqual(created.type, "Microsoft.StorageCache/amlFilesystems/importJobs")
      assert.deepStrictEqual([created.properties["adminStatus"], created.properties.status["state"]], ["Active", "InProgress"])
      assert.strictEqual((yield* request(emulator, "PUT", at(job, "2024-07-01"), body)).status, 200)
      assert.deepStrictEqual((yield* operationEnd(emulator, String(put.headers["azure-asyncoperation"]))).status, "Succeeded")

      const old = (yield* request(emulator, "GET", at(job, "2024-03-01"))).json as JobJson
      assert.notProperty(old.properties, "adminStatus")
      assert.notProperty(old.properties.status, "importedFiles")
      assert.strictEqual(old.properties.status["state"], "Completed")
      const current = (yield* request(emulator, "GET", at(job, "2024-07-01"))).json as JobJson
      assert.deepStrictEqual([current.properties.status["importedFiles"], current.properties.status["statusMessage"]], [0, "Import job completed successfully"])
      const tooOld = yield* request(emulator, "GET", at(job, "2023-11-01-preview"))
      assert.deepStrictEqual([tooOld.status, (tooOld.json as { error: { code: string } }).error.code], [400, "NoRegisteredProviderFound"])
      const list = (yield* request(emulator, "GET", at(fsPath(emulator, "/importJobs"), "2024-07-01"))).json as { value: ReadonlyArray<{ name: string }> }
      assert.deepStrictEqual(list.value.map((j) => j.name), ["import-1"])
    }))

  it.live("faults through the control endpoint's JSON: a failing import's operation ends Failed with its reason; throttleJobs; durations", () =>
    Effect.gen(function*() {
      const emulator = yield* start()
      const set = yield* request(emulator, "POST", "/emulator/faults", {
        failNextImport: { message: "Import job failed: the container could not be listed." },
        partialNextImport: { errors: 4 },
        failNextArchive: true,
        throttleJobs: { count: 1, retryAfterSeconds: 9 },
        archiveMillis: 300,
        autoExportIntervalMillis: 1_000
      })
      assert.strictEqual(set.status, 200)
      const snapshot = set.json as Record<string, unknown>
      assert.deepStrictEqual([snapshot["archiveMillis"], snapshot["autoExportIntervalMillis"], snapshot["jobThrottle"]], [300, 1_000, {
        remaining: 1,
        retryAfterSeconds: 9
      }])
      assert.deepStrictEqual((snapshot["nextImports"] as ReadonlyArray<{ _tag: string }>).map((o) => o._tag), ["Failed", "CompletedPartial"])
      const refused = yield* request(emulator, "POST", "/emulator/faults", { throttleJobs: { count: "x" } })
      assert.strictEqual(refused.status, 400)

      const body = { location: "eastus", properties: { importPrefixes: ["/data"] } }
      const throttled = yield* request(emulator, "PUT", at(fsPath(emulator, "/importJobs/job-a"), "2024-07-01"), body)
      assert.deepStrictEqual([throttled.status, throttled.headers["retry-after"]], [429, "9"])
      const put = yield* request(emulator, "PUT", at(fsPath(emulator, "/importJobs/job-a"), "2024-07-01"), body)
      const failed = yield* operationEnd(emulator, String(put.headers["azure-asyncoperation"]))
      assert.deepStrictEqual(failed, {
        ...failed,
        status: "Failed",
        error: { code: "ImportJobFailed", message: "Import job failed: the container could not be listed." }
      })
      const partial = yield* request(emulator, "PUT", at(fsPath(emulator, "/importJobs/job-b"), "2024-07-01"), body)
      assert.strictEqual((yield* operationEnd(emulator, String(partial.headers["azure-asyncoperation"]))).status, "Succeeded")
      const partialJob = (yield* request(emulator, "GET", at(fsPath(emulator, "/importJobs/job-b"), "2024-07-01"))).json as JobJson
      assert.deepStrictEqual([partialJob.properties.status["state"], partialJob.properties.status["totalErrors"]], ["CompletedPartial", 4])
      const reset = (yield* request(emulator, "POST", "/emulator/faults", { reset: true })).json as Record<string, unknown>
      assert.deepStrictEqual([reset["archiveMillis"], reset["nextArchives"], reset["importMillis"]], [2_000, [], 250])
    }))

  it.live("PATCH cancels and disables; DELETE: a running job 409, an ended one 200, an absent one 204; versions of each job kind", () =>
    Effect.gen(function*() {
      const emulator = yield* start()
      const job = at(fsPath(emulator, "/importJobs/import-1"), "2024-07-01")
      yield* request(emulator, "PUT", job, { location: "eastus", properties: {} })
      assert.strictEqual((yield* request(emulator, "DELETE", job)).status, 409)
      const patched = yield* request(emulator, "PATCH", job, { properties: { adminStatus: "Cancel" } })
      assert.deepStrictEqual([patched.status, ((patched.json as JobJson).properties.status)["state"]], [200, "Cancelling"])
      assert.strictEqual((yield* request(emulator, "PATCH", job, { properties: { adminStatus: "Pause" } })).status, 400)
      yield* Effect.sleep("150 millis")
      assert.strictEqual(((yield* request(emulator, "GET", job)).json as JobJson).properties.status["state"], "Canceled")
      assert.strictEqual((yield* request(emulator, "DELETE", job)).status, 200)
      assert.strictEqual((yield* request(emulator, "DELETE", job)).status, 204)

      const exportBody = { location: "eastus", properties: { autoExportPrefixes: ["/"] } }
      const early = yield* request(emulator, "PUT", at(fsPath(emulator, "/autoExportJobs/export-1"), "2024-03-01"), exportBody)
      assert.deepStrictEqual([early.status, (early.json as { error: { code: string } }).error.code], [400, "NoRegisteredProviderFound"])
      const exported = yield* request(emulator, "PUT", at(fsPath(emulator, "/autoExportJobs/export-1"), "2024-07-01"), exportBody)
      assert.strictEqual(exported.status, 201)
      assert.strictEqual((yield* operationEnd(emulator, String(exported.headers["azure-asyncoperation"]))).status, "Succeeded")
      const disabled = yield* request(emulator, "PATCH", at(fsPath(emulator, "/autoExportJobs/export-1"), "2024-07-01"), { properties: { adminStatus: "Disable" } })
      assert.strictEqual(((disabled.json as JobJson).properties.status)["state"], "Disabling")
      const importBody = { location: "eastus", properties: { autoImportPrefixes: ["/"], enableDeletions: true } }
      const tooEarly = yield* request(emulator, "PUT", at(fsPath(emulator, "/autoImportJobs/follow-1"), "2024-07-01"), importBody)
      assert.deepStrictEqual([tooEarly.status, (tooEarly.json as { error: { code: string } }).error.code], [400, "NoRegisteredProviderFound"])
      const followed = yield* request(emulator, "PUT", at(fsPath(emulator, "/autoImportJobs/follow-1"), "2025-07-01"), importBody)
      assert.deepStrictEqual([followed.status, (followed.json as JobJson).properties["enableDeletions"]], [201, true])
      assert.deepStrictEqual((yield* emulator.counters).jobPutsByFilesystem, { fs1: 3 })
    }))

  it.live("archive and cancelArchive through the real 7.0.0 client (200); its model reads hsm.archiveStatus; hsm.settings per api-version", () =>
    Effect.gen(function*() {
      const emulator = yield* start({ archiveDuration: "2 seconds" })
      const client = new StorageCacheManagementClient(credential, emulator.subscriptionId, {
        $host: emulator.url,
        endpoint: emulator.url,
        tlsOptions: { ca: emulator.certificatePem },
        retryOptions: { maxRetries: 0 }
      })
      yield* Effect.promise(() => client.amlFilesystems.archive(rg, "fs1", { archiveInfo: { filesystemPath: "/" } }))
      const running = yield* Effect.promise(() => client.amlFilesystems.get(rg, "fs1"))
      const status = running.hsm?.archiveStatus?.[0]
      assert.deepStrictEqual([status?.filesystemPath, status?.status?.state], ["/", "InProgress"])
      assert.instanceOf(status?.status?.lastStartedTime, Date)
      assert.deepStrictEqual(running.hsm?.settings, { container: hsm.container, loggingContainer: hsm.loggingContainer, importPrefix: "/data" })
      yield* Effect.promise(() => client.amlFilesystems.cancelArchive(rg, "fs1"))
      const cancelling = yield* Effect.promise(() => client.amlFilesystems.get(rg, "fs1"))
      assert.strictEqual(cancelling.hsm?.archiveStatus?.[0]?.status?.state, "Cancelling")

      // Without a body the whole filesystem is archived.
      const plain = yield* request(emulator, "POST", at(fsPath(emulator, "/archive"), "2023-05-01"))
      assert.strictEqual(plain.status, 409, "one archive at a time: the cancelled one is still Cancelling")
      yield* Effect.sleep("600 millis")
      assert.strictEqual((yield* request(emulator, "POST", at(fsPath(emulator, "/archive"), "2023-05-01"))).status, 200)
      const read = (yield* request(emulator, "GET", at(fsPath(emulator), "2024-03-01"))).json as {
        properties: { hsm: { settings: Record<string, unknown>; archiveStatus: ReadonlyArray<{ filesystemPath: string; status: { state: string } }> } }
      }
      assert.deepStrictEqual(read.properties.hsm.settings["importPrefixesInitial"], ["/data", "/models"])
      assert.deepStrictEqual(read.properties.hsm.archiveStatus.map((s) => [s.filesystemPath, s.status.state]), [["/", "InProgress"]])
      const wrongMethod = yield* request(emulator, "GET", at(fsPath(emulator, "/archive"), "2023-05-01"))
      assert.strictEqual(wrongMethod.status, 405)
      assert.deepStrictEqual((yield* emulator.counters).archivesByFilesystem, { fs1: 3 })
    }))
})
