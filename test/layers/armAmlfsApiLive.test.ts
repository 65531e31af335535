import type { TokenCredential } from "@azure/core-auth"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import * as Net from "node:net"
import { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiLive, type AmlfsApiLiveOptions, retryAfterMillis } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator, type ArmEmulatorOptions } from "../../layers/azure/ArmEmulator.js"
import { emulatorClusterSpec, emulatorSmallSubnet } from "../support/clusterFixtures.js"

const credential: TokenCredential = {
  getToken: () => Promise.resolve({ token: "emulator-token", expiresOnTimestamp: Date.now() + 3_600_000 })
}

const small = emulatorSmallSubnet
const rg = "rg1"
const spec = emulatorClusterSpec

/** An emulator and an AmlfsApiLive pointed at it, trusting its certificate. */
const withEmulator = <A, E>(
  program: (emulator: ArmEmulator) => Effect.Effect<A, E, AmlfsApi>,
  options: ArmEmulatorOptions = {},
  trustEmulator = true
) =>
  Effect.gen(function*() {
    const emulator = yield* ArmEmulator.start({
      creationDuration: "500 millis",
      deletionDuration: "200 millis",
      subnetFreeAddresses: { [small]: 12 },
      ...options
    })
    const live: AmlfsApiLiveOptions = { subscriptionId: emulator.subscriptionId, credential, endpoint: emulator.url }
    const layer = AmlfsApiLive.layer(trustEmulator ? { ...live, trustedCertificatePem: emulator.certificatePem } : live)
    return yield* program(emulator).pipe(Effect.provide(layer))
  })

const pollUntil = (name: string, done: (state: string | undefined) => boolean) =>
  Effect.gen(function*() {
    const api = yield* AmlfsApi
    return yield* api.get(rg, name).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })),
        until: (fs) => done(Option.getOrUndefined(fs)?.provisioningState)
      })
    )
  })

describe("AmlfsApiLive against the ARM emulator over HTTPS", () => {
  it.live("beginCreate returns once ARM accepted, with its Azure-AsyncOperation; nothing polls it but a read", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        const operation = yield* api.beginCreate(rg, "fs1", spec())
        assert.isTrue(Option.isSome(operation))
        assert.isFalse((yield* emulator.counters).requests.some((r) => r.path.includes("ascOperations")))
        assert.strictEqual((yield* Option.getOrThrow(operation).read).status, "InProgress")
        yield* pollUntil("fs1", (s) => s === "Succeeded")
        // A retried CreateVolume: the same PUT on a Succeeded filesystem is accepted (200) and starts nothing.
        assert.isTrue(Option.isNone(yield* api.beginCreate(rg, "fs1", spec())))
        yield* api.beginDelete(rg, "fs1")
        yield* pollUntil("fs1", (s) => s === undefined)
        const operationReads = (yield* emulator.counters).requests.filter((r) => r.path.includes("ascOperations"))
        assert.deepStrictEqual(operationReads.map((r) => r.statusCode), [200])
      })
    ))

  it.live("quota, throttling (Retry-After), server errors and 403 are ArmErrors as ARM sent them, each one request", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.faults.filesystemQuota(0)
        const quota = yield* Effect.flip(api.beginCreate(rg, "qq", spec()))
        assert.include(quota, { statusCode: 409, code: "QuotaExceeded" })
        assert.include(quota.message, "exceeding quota limits")
        yield* emulator.faults.filesystemQuota(undefined)

        yield* emulator.faults.throttle(1, 3)
        const throttled = yield* Effect.flip(api.get(rg, "qq"))
        assert.include(throttled, { operation: "getAmlFilesystem", statusCode: 429, code: "TooManyRequests", retryAfterMillis: 3_000 })
        assert.isTrue(throttled.retryable)

        yield* emulator.faults.throttle(1, 2)
        const throttledPut = yield* Effect.flip(api.beginCreate(rg, "qq", spec()))
        assert.include(throttledPut, { statusCode: 429, retryAfterMillis: 2_000 })

        yield* emulator.faults.serverErrors(1, 503)
        const unavailable = yield* Effect.flip(api.listSkus("eastus"))
        assert.include(unavailable, { operation: "listSkus", statusCode: 503, code: "ServiceUnavailable" })
        assert.isTrue(unavailable.retryable)

        yield* emulator.faults.forbidden(true)
        const forbidden = yield* Effect.flip(api.beginDelete(rg, "qq"))
        assert.include(forbidden, { statusCode: 403, code: "AuthorizationFailed" })
        assert.include(forbidden.message, "Microsoft.StorageCache/amlFilesystems/delete")
        yield* emulator.faults.forbidden(false)

        // The SDK did not retry behind our back: one request per call.
        const statuses = (yield* emulator.counters).requests.map((r) => r.statusCode)
        assert.deepStrictEqual(statuses, [409, 429, 429, 503, 403])
      })
    ))

  it.live("no answer (closed port) and an untrusted certificate are ArmErrors with status 0", () =>
    Effect.gen(function*() {
      const port = yield* Effect.callback<number>((resume) => {
        const server = Net.createServer()
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const closed = yield* AmlfsApi.use((api) => Effect.flip(api.get(rg, "x"))).pipe(
        Effect.provide(AmlfsApiLive.layer({ subscriptionId: "s", credential, endpoint: `https://127.0.0.1:${port}` }))
      )
      assert.include(closed, { statusCode: 0, code: "NoResponse" })
      assert.isTrue(closed.retryable)

      const untrusted = yield* withEmulator(() => AmlfsApi.use((api) => Effect.flip(api.get(rg, "x"))), {}, false)
      assert.include(untrusted, { statusCode: 0 })
      assert.match(untrusted.message, /certificate/i)
    }))

  it("Retry-After: seconds, HTTP date, milliseconds headers", () => {
    const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] })
    assert.strictEqual(retryAfterMillis(headers({ "retry-after": "5" })), 5_000)
    assert.strictEqual(retryAfterMillis(headers({ "retry-after": "Wed, 21 Oct 2015 07:28:10 GMT" }), Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")), 10_000)
    assert.strictEqual(retryAfterMillis(headers({ "retry-after-ms": "250", "retry-after": "5" })), 250)
    assert.strictEqual(retryAfterMillis(headers({ "retry-after": "soon" })), undefined)
    assert.strictEqual(retryAfterMillis(headers({})), undefined)
  })
})

/** Polls an expansion job until `done` holds for its status (or 50 polls). */
const pollJob = (filesystem: string, job: string, done: (status: string | undefined) => boolean) =>
  Effect.gen(function*() {
    const api = yield* AmlfsApi
    return yield* api.getExpansionJob(rg, filesystem, job).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 50 })),
        until: (found) => done(Option.getOrUndefined(found)?.status)
      })
    )
  })

const expansionEmulator: ArmEmulatorOptions = {
  expansionDuration: "400 millis",
  rollbackDuration: "300 millis",
  filesystems: [{ resourceGroup: rg, name: "big", storageCapacityTiB: 16, skuName: "AMLFS-Durable-Premium-125", location: "eastus" }]
}

describe("AmlfsApiLive expansion jobs against the ARM emulator (api-version 2026-01-01)", () => {
  it.live("beginExpansion returns once ARM accepted (201), the same job again is 200 and another 409: one job started", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "eastus")
        // It did not wait for the job: the job still runs.
        assert.notStrictEqual(Option.getOrUndefined(yield* api.getExpansionJob(rg, "big", "grow-32"))?.status, "Completed")
        yield* api.beginExpansion(rg, "big", "grow-32", 32, "East US")
        yield* Effect.flip(api.beginExpansion(rg, "big", "grow-48", 48, "eastus"))
        const done = Option.getOrThrow(yield* pollJob("big", "grow-32", (s) => s === "Completed"))
        assert.instanceOf(done.completionTime, Date)
        const counters = yield* emulator.counters
        assert.deepStrictEqual(counters.expansionsStartedByFilesystem, { big: 1 })
        assert.deepStrictEqual(
          counters.requests.filter((r) => r.method === "PUT" && r.path.includes("expansionJobs")).map((r) => r.statusCode),
          [201, 200, 409]
        )
      }), expansionEmulator))

  it.live("an api-version without expansionJobs: 400 NoRegisteredProviderFound; get falls back to the client's own", () =>
    Effect.gen(function*() {
      const emulator = yield* ArmEmulator.start(expansionEmulator)
      const layerFor = (expansionApiVersion: string) =>
        AmlfsApiLive.layer({
          subscriptionId: emulator.subscriptionId,
          credential,
          endpoint: emulator.url,
          trustedCertificatePem: emulator.certificatePem,
          expansionApiVersion
        })
      const older = yield* AmlfsApi.use((api) =>
        Effect.gen(function*() {
          const refused = yield* Effect.flip(api.beginExpansion(rg, "big", "grow", 32, "eastus"))
          const fs = Option.getOrThrow(yield* api.get(rg, "big"))
          return { refused, fs }
        })
      ).pipe(Effect.provide(layerFor("2025-07-01")))
      assert.include(older.refused, { statusCode: 400, code: "NoRegisteredProviderFound", apiVersion: "2025-07-01" })
      assert.isTrue(older.refused.featureMissing)
      assert.include(older.refused.message, "amlFilesystems/expansionJobs")
      // 2025-07-01 knows amlFilesystems but not currentStorageCapacityTiB.
      assert.deepStrictEqual([older.fs.storageCapacityTiB, older.fs.currentStorageCapacityTiB], [16, undefined])

      // A cloud that refuses the version for amlFilesystems too: one refused GET, then the client's.
      const unknown = yield* AmlfsApi.use((api) =>
        Effect.gen(function*() {
          const first = Option.getOrThrow(yield* api.get(rg, "big"))
          const second = Option.getOrThrow(yield* api.get(rg, "big"))
          return [first.provisioningState, second.provisioningState, first.currentStorageCapacityTiB]
        })
      ).pipe(Effect.provide(layerFor("2020-01-01")))
      assert.deepStrictEqual(unknown, ["Succeeded", "Succeeded", undefined])
      const gets = (yield* emulator.counters).requests.filter((r) => r.method === "GET").map((r) => r.statusCode)
      assert.deepStrictEqual(gets, [200, 400, 200, 200])
    }))

  it.live("an ARM without a resource type: 404 InvalidResourceType or InvalidResourceNamespace is an ArmError naming the api-version, never 'not there'", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        // An ARM that lags behind (a sovereign cloud, Azure Stack, an older test server): no expansionJobs.
        yield* emulator.faults.latestApiVersion("2025-07-01")
        const job = yield* Effect.flip(api.getExpansionJob(rg, "big", "grow-32"))
        assert.include(job, { operation: "getExpansionJob", statusCode: 404, code: "InvalidResourceType", apiVersion: "2026-01-01" })
        assert.isTrue(job.featureMissing)
        assert.include((yield* Effect.flip(api.listExpansionJobs(rg, "big"))), { code: "InvalidResourceType" })
        // amlFilesystems is there at the client's own api-version: get falls back to it.
        assert.strictEqual(Option.getOrThrow(yield* api.get(rg, "big")).provisioningState, "Succeeded")

        // An ARM without Microsoft.StorageCache: a GET or DELETE must not take that for "already gone".
        yield* emulator.faults.storageCacheMissing(true)
        const read = yield* Effect.flip(api.get(rg, "big"))
        assert.include(read, { operation: "getAmlFilesystem", statusCode: 404, code: "InvalidResourceNamespace", apiVersion: "2023-05-01" })
        assert.isTrue(read.featureMissing)
        const deleted = yield* Effect.flip(api.beginDelete(rg, "big"))
        assert.include(deleted, { operation: "deleteAmlFilesystem", statusCode: 404, code: "InvalidResourceNamespace" })
        assert.isTrue(deleted.featureMissing)
        yield* emulator.faults.storageCacheMissing(false)
        assert.deepStrictEqual((yield* emulator.counters).deletesByName, {})
        assert.strictEqual(Option.getOrThrow(yield* api.get(rg, "big")).provisioningState, "Succeeded")
      }), expansionEmulator))
})

const blobAccount = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/account1"
const hsmSettings = {
  container: `${blobAccount}/blobServices/default/containers/datasets`,
  loggingContainer: `${blobAccount}/blobServices/default/containers/logs`,
  importPrefixesInitial: ["/data", "/models"]
}

describe("AmlfsApiLive blob integration against the ARM emulator (the api-version each feature needs)", () => {
  it.live("a creation with hsm.settings is sent at 2024-03-01 (importPrefixesInitial); an ARM without it names the feature and the version", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.faults.latestApiVersion("2023-05-01")
        const refused = yield* Effect.flip(api.beginCreate(rg, "blob", spec({ hsm: hsmSettings })))
        assert.include(refused, { operation: "createAmlFilesystemWithHsm", statusCode: 400, code: "NoRegisteredProviderFound", apiVersion: "2024-03-01" })
        assert.deepStrictEqual(refused.missingFeature, {
          feature: "AMLFS blob integration at creation (hsm.settings.importPrefixesInitial)",
          apiVersion: "2024-03-01"
        })
        // Without blob integration the client's own 2023-05-01 will do.
        assert.isTrue(Option.isSome(yield* api.beginCreate(rg, "plain", spec())))
        yield* emulator.faults.latestApiVersion(undefined)
        yield* api.beginCreate(rg, "blob", spec({ hsm: hsmSettings }))
        assert.deepStrictEqual(Option.getOrThrow(yield* api.get(rg, "blob")).hsm?.importPrefixesInitial, ["/data", "/models"])
      })))

  it.live("job sub-resources on an ARM that lags behind: InvalidResourceType or NoRegisteredProviderFound, with missingFeature naming each feature's api-version", () =>
    withEmulator((emulator) =>
      Effect.gen(function*() {
        const api = yield* AmlfsApi
        yield* emulator.seed({ resourceGroup: rg, name: "fs1", hsm: hsmSettings })
        yield* emulator.faults.latestApiVersion("2024-03-01")
        // importJobs exist at 2024-03-01, but the live layer needs 2024-07-01 (adminStatus, the counts).
        const imports = yield* Effect.flip(api.listImportJobs(rg, "fs1"))
        assert.include(imports, { operation: "listImportJobs", statusCode: 400, code: "NoRegisteredProviderFound", apiVersion: "2024-07-01" })
        assert.deepStrictEqual(imports.missingFeature, {
          feature: "AMLFS import jobs (Microsoft.StorageCache/amlFilesystems/importJobs)",
          apiVersion: "2024-07-01"
        })
        const exports = yield* Effect.flip(api.getAutoExportJob(rg, "fs1", "export"))
        assert.include(exports, { statusCode: 404, code: "InvalidResourceType" })
        assert.deepStrictEqual(exports.missingFeature?.apiVersion, "2024-07-01")
        yield* emulator.faults.latestApiVersion("2025-01-01")
        yield* api.beginAutoExportJob(rg, "fs1", "export", { location: "eastus", autoExportPrefixes: ["/"] })
        const autoImport = yield* Effect.flip(api.beginAutoImportJob(rg, "fs1", "follow", { location: "eastus", autoImportPrefixes: ["/"] }))
        assert.include(autoImport, { operation: "createAutoImportJob", statusCode: 404, code: "InvalidResourceType" })
        assert.deepStrictEqual(autoImport.missingFeature, {
          feature: "AMLFS auto-import jobs (Microsoft.StorageCache/amlFilesystems/autoImportJobs)",
          apiVersion: "2025-07-01"
        })
        // archive is 2023-05-01's: any ARM with AMLFS has it.
        yield* api.archive(rg, "fs1", "/")
        // A job that is not there is None, never a missing feature.
        yield* emulator.faults.latestApiVersion(undefined)
        assert.isTrue(Option.isNone(yield* api.getImportJob(rg, "fs1", "never")))
      })))

  it.live("at api-version 2024-03-01 an import job cannot be cancelled (no adminStatus): why importJobs go at 2024-07-01", () =>
    Effect.gen(function*() {
      const emulator = yield* ArmEmulator.start({ importDuration: "5 seconds" })
      yield* emulator.seed({ resourceGroup: rg, name: "fs1", hsm: hsmSettings })
      const layerAt = (importJobs: string) =>
        AmlfsApiLive.layer({
          subscriptionId: emulator.subscriptionId,
          credential,
          endpoint: emulator.url,
          trustedCertificatePem: emulator.certificatePem,
          hsmApiVersions: { importJobs }
        })
      const old = yield* AmlfsApi.use((api) =>
        Effect.gen(function*() {
          yield* api.beginImportJob(rg, "fs1", "import-1", { location: "eastus", importPrefixes: ["/data"] })
          const job = Option.getOrThrow(yield* api.getImportJob(rg, "fs1", "import-1"))
          return { job, refused: yield* Effect.flip(api.cancelImportJob(rg, "fs1", "import-1")) }
        })
      ).pipe(Effect.provide(layerAt("2024-03-01")))
      // 2024-03-01 reports neither adminStatus nor the imported counts: they read as defaults.
      assert.deepStrictEqual([old.job.status.state, old.job.adminStatus], ["InProgress", "Active"])
      assert.include(old.refused, { operation: "cancelImportJob", statusCode: 400, code: "InvalidParameter" })
      assert.include(old.refused.message, "2024-07-01")
      const cancelled = yield* AmlfsApi.use((api) =>
        Effect.gen(function*() {
          yield* api.cancelImportJob(rg, "fs1", "import-1")
          return Option.getOrThrow(yield* api.getImportJob(rg, "fs1", "import-1"))
        })
      ).pipe(Effect.provide(layerAt("2024-07-01")))
      assert.deepStrictEqual([cancelled.status.state, cancelled.adminStatus], ["Cancelling", "Cancel"])
    }))

  it.live("a cloud without 2026-01-01: get falls back to the 7.0.0 client, whose hsm.settings has the one importPrefix", () =>
    Effect.gen(function*() {
      const emulator = yield* ArmEmulator.start({ filesystems: [{ resourceGroup: rg, name: "fs1", hsm: hsmSettings }] })
      const fs = yield* AmlfsApi.use((api) => Effect.map(api.get(rg, "fs1"), Option.getOrThrow)).pipe(
        Effect.provide(AmlfsApiLive.layer({
          subscriptionId: emulator.subscriptionId,
          credential,
          endpoint: emulator.url,
          trustedCertificatePem: emulator.certificatePem,
          expansionApiVersion: "2020-01-01"
        }))
      )
      assert.deepStrictEqual(fs.hsm, {
        container: hsmSettings.container,
        loggingContainer: hsmSettings.loggingContainer,
        importPrefixesInitial: ["/data"],
        archiveStatus: []
      })
    }))
})
