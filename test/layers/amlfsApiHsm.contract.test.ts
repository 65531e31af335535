/**
 * The blob-integration contract, run twice like amlfsApi.contract.test.ts: against the fake
 * (virtual time) and against the live AmlfsApi over HTTPS to the ARM emulator (its clock moved
 * by the test). Neither has files here (the emulator runs without the HSM model), so every count
 * is 0; what jobs do to files is armEmulatorHsm.test.ts's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, Result } from "effect"
import { TestClock } from "effect/testing"
import {
  AmlfsApi,
  type ArmError,
  type HsmSettings,
  INITIAL_IMPORT_JOB_NAME,
  type SubnetRefused
} from "../../layers/azure/AmlfsApi.js"
import { type AmlfsOperation, AmlfsApiFake, armErrors } from "../../layers/azure/AmlfsApiFake.js"
import { AmlfsApiLive } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator } from "../../layers/azure/ArmEmulator.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { selfSignedCertificate } from "../../layers/azure/selfSignedCertificate.js"
import { emulatorClusterSpec } from "../support/clusterFixtures.js"

const MINUTE = 60_000
const durations = { creation: 10 * MINUTE, deletion: 2 * MINUTE }
const timings = {
  importMillis: 5 * MINUTE,
  archiveMillis: 4 * MINUTE,
  autoExportIntervalMillis: 10 * MINUTE,
  autoImportIntervalMillis: 10 * MINUTE,
  cancelMillis: MINUTE
}
const rg = "rg1"
const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/data/providers/Microsoft.Storage/storageAccounts"
const containerId = (accountName: string, container: string) => `${account}/${accountName}/blobServices/default/containers/${container}`
const hsm: HsmSettings = {
  container: containerId("account1", "datasets"),
  loggingContainer: containerId("account1", "logs"),
  importPrefixesInitial: ["/data", "/models"]
}
const spec = (overrides: Parameters<typeof emulatorClusterSpec>[0] = {}) => emulatorClusterSpec({ hsm, ...overrides })

interface Counters {
  readonly jobPutsByFilesystem: Readonly<Record<string, number>>
  readonly archivesByFilesystem: Readonly<Record<string, number>>
}

interface World {
  readonly now: Effect.Effect<number>
  readonly advance: (millis: number) => Effect.Effect<void>
  /** A Succeeded filesystem, with blob integration unless `withHsm` is false. */
  readonly seed: (name: string, withHsm?: boolean) => Effect.Effect<void>
  readonly failNextImport: (message: string) => Effect.Effect<void>
  readonly partialNextImport: (errors: number) => Effect.Effect<void>
  readonly failNextArchive: (error: { code: string; message: string }) => Effect.Effect<void>
  /** The next job request (the fake: the next call of `operation`) answers 429 with Retry-After `seconds`. */
  readonly throttleNextJobRequest: (seconds: number, operation: AmlfsOperation) => Effect.Effect<void>
  readonly counters: Effect.Effect<Counters>
}

type Scenario = (world: World) => Effect.Effect<void, ArmError | SubnetRefused, AmlfsApi>

interface Model {
  readonly name: string
  readonly test: (title: string, scenario: Scenario) => void
}

const fakeModel: Model = {
  name: "AmlfsApiFake (virtual time)",
  test: (title, scenario) =>
    it.effect(title, () =>
      Effect.gen(function*() {
        const fake = yield* AmlfsApiFake
        yield* scenario({
          now: Clock.currentTimeMillis,
          advance: (millis) => TestClock.adjust(Duration.millis(millis)),
          seed: (name, withHsm = true) => fake.seed({ resourceGroup: rg, name, spec: withHsm ? { hsm } : {} }),
          failNextImport: (message) => fake.failNextImport(message),
          partialNextImport: (errors) => fake.partialNextImport(errors),
          failNextArchive: (error) => fake.failNextArchive(error),
          throttleNextJobRequest: (seconds, operation) => fake.failNext(armErrors.throttled(seconds * 1000), { operation }),
          counters: Effect.map(fake.counters, ({ archivesByFilesystem, jobPutsByFilesystem }) => ({ archivesByFilesystem, jobPutsByFilesystem }))
        })
      }).pipe(Effect.provide(AmlfsApiFake.layer({
        createDurationMillis: durations.creation,
        deleteDurationMillis: durations.deletion,
        hsmTimings: timings
      }))))
}

let certificate: Promise<{ certificatePem: string; keyPem: string }> | undefined
const sharedCertificate = Effect.promise(() => (certificate ??= Effect.runPromise(selfSignedCertificate())))

const liveModel: Model = {
  name: "AmlfsApiLive over HTTPS to the ARM emulator (its clock moved by the test)",
  test: (title, scenario) =>
    it.live(title, () =>
      Effect.scoped(Effect.gen(function*() {
        let now = Date.UTC(2026, 0, 1)
        const emulator = yield* ArmEmulator.start({
          certificate: yield* sharedCertificate,
          clock: () => now,
          creationDuration: Duration.millis(durations.creation),
          deletionDuration: Duration.millis(durations.deletion),
          importDuration: Duration.millis(timings.importMillis),
          archiveDuration: Duration.millis(timings.archiveMillis),
          autoExportInterval: Duration.millis(timings.autoExportIntervalMillis),
          autoImportInterval: Duration.millis(timings.autoImportIntervalMillis),
          jobCancelDuration: Duration.millis(timings.cancelMillis)
        })
        const { faults } = emulator
        yield* scenario({
          now: Effect.sync(() => now),
          advance: (millis) => Effect.sync(() => void (now += millis)),
          seed: (name, withHsm = true) => emulator.seed({ resourceGroup: rg, name, ...(withHsm ? { hsm } : {}) }),
          failNextImport: (message) => faults.failNextImport(message),
          partialNextImport: (errors) => faults.partialNextImport(errors),
          failNextArchive: (error) => faults.failNextArchive(error),
          throttleNextJobRequest: (seconds) => faults.throttleJobs(1, seconds),
          counters: Effect.map(emulator.counters, ({ archivesByFilesystem, jobPutsByFilesystem }) => ({ archivesByFilesystem, jobPutsByFilesystem }))
        }).pipe(Effect.provide(AmlfsApiLive.layer({
          subscriptionId: emulator.subscriptionId,
          credential: staticCredential("contract"),
          endpoint: emulator.url,
          trustedCertificatePem: emulator.certificatePem
        })))
      })))
}

// ---------------------------------------------------------------------------------------------

const api = Effect.service(AmlfsApi)

const failure = <A, E>(call: Effect.Effect<A, E, AmlfsApi>) =>
  Effect.flatMap(Effect.result(call), (result) =>
    Result.isFailure(result) ? Effect.succeed(result.failure) : Effect.die(new Error("the call succeeded")))

/** [statusCode, code] of an ArmError. */
const codeOf = (error: ArmError | SubnetRefused) => (error._tag === "ArmError" ? [error.statusCode, error.code] : [0, error._tag])

const importJob = (fs: string, job: string) => Effect.flatMap(api, (arm) => Effect.map(arm.getImportJob(rg, fs, job), Option.getOrThrow))
const importState = (fs: string, job: string) => Effect.map(importJob(fs, job), (j) => j.status.state)
const archiveStatus = (fs: string) =>
  Effect.flatMap(api, (arm) => Effect.map(arm.get(rg, fs), (found) => Option.getOrThrow(found).hsm?.archiveStatus ?? []))

const zeroCounts = {
  totalBlobsWalked: 0,
  totalBlobsImported: 0,
  importedFiles: 0,
  importedDirectories: 0,
  preexistingFiles: 0,
  totalConflicts: 0
}

const importRequest = (prefixes: ReadonlyArray<string> = ["/data"]) => ({ location: "eastus", importPrefixes: prefixes })

const scenarios: ReadonlyArray<readonly [string, Scenario]> = [
  [
    "a creation with hsm.settings reads them back; once Succeeded its initial import runs for its duration, then Completed",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* arm.beginCreate(rg, "plain", emulatorClusterSpec())
        yield* arm.beginCreate(rg, "fs1", spec())
        const creating = Option.getOrThrow(yield* arm.get(rg, "fs1"))
        assert.deepStrictEqual(creating.hsm, { ...hsm, archiveStatus: [] })
        assert.deepStrictEqual(yield* arm.listImportJobs(rg, "fs1"), [], "no import before the creation succeeds")
        const createdAt = yield* world.now
        yield* world.advance(durations.creation)
        assert.isUndefined(Option.getOrThrow(yield* arm.get(rg, "plain")).hsm)
        assert.deepStrictEqual(yield* arm.listImportJobs(rg, "plain"), [])
        const running = yield* importJob("fs1", INITIAL_IMPORT_JOB_NAME)
        assert.deepStrictEqual(
          [running.status.state, running.importPrefixes, running.conflictResolutionMode, running.maximumErrors, running.adminStatus],
          ["InProgress", ["/data", "/models"], "Skip", -1, "Active"]
        )
        assert.strictEqual(running.status.lastStartedTime?.getTime(), createdAt + durations.creation)
        assert.isUndefined(running.status.lastCompletionTime)
        yield* world.advance(timings.importMillis)
        const done = yield* importJob("fs1", INITIAL_IMPORT_JOB_NAME)
        assert.deepStrictEqual(done.status, {
          ...zeroCounts,
          state: "Completed",
          statusMessage: "Import job completed successfully",
          totalErrors: 0,
          lastStartedTime: new Date(createdAt + durations.creation),
          lastCompletionTime: new Date(createdAt + durations.creation + timings.importMillis)
        })
        assert.strictEqual(done.provisioningState, "Succeeded")
        // A retried CreateVolume's PUT: the same settings (none given is "/") start nothing.
        yield* arm.beginCreate(rg, "fs1", spec())
        assert.deepStrictEqual((yield* arm.listImportJobs(rg, "fs1")).map((j) => j.name), [INITIAL_IMPORT_JOB_NAME])
      })
  ],
  [
    "hsm.settings are checked (container ids, one account, two containers) and cannot change; no prefixes is ARM's '/'",
    () =>
      Effect.gen(function*() {
        const arm = yield* api
        for (
          const bad of [
            { ...hsm, container: "datasets" },
            { ...hsm, loggingContainer: containerId("account2", "logs") },
            { ...hsm, loggingContainer: hsm.container }
          ]
        ) {
          assert.deepStrictEqual(codeOf(yield* failure(arm.beginCreate(rg, "fs1", spec({ hsm: bad })))), [400, "InvalidParameter"], JSON.stringify(bad))
        }
        yield* arm.beginCreate(rg, "fs2", spec({ hsm: { ...hsm, importPrefixesInitial: [] } }))
        assert.deepStrictEqual(Option.getOrThrow(yield* arm.get(rg, "fs2")).hsm?.importPrefixesInitial, ["/"])
      })
  ],
  [
    "import jobs: started once, the same PUT joins, other properties are 400, a second one while it runs 409; refusals name ARM's codes",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        yield* world.seed("nohsm", false)
        const startedAt = yield* world.now
        yield* arm.beginImportJob(rg, "fs1", "import-1", importRequest())
        yield* arm.beginImportJob(rg, "FS1", "IMPORT-1", { ...importRequest(), location: "East US" })
        const job = yield* importJob("fs1", "import-1")
        assert.deepStrictEqual(
          [job.status.state, job.conflictResolutionMode, job.maximumErrors, job.status.lastStartedTime?.getTime()],
          ["InProgress", "Fail", 0, startedAt],
          "ARM's defaults: conflictResolutionMode Fail, maximumErrors 0"
        )
        const changed = yield* failure(arm.beginImportJob(rg, "fs1", "import-1", importRequest(["/other"])))
        assert.deepStrictEqual(codeOf(changed), [400, "PropertyChangeNotAllowed"])
        const busy = yield* failure(arm.beginImportJob(rg, "fs1", "import-2", importRequest()))
        assert.deepStrictEqual(codeOf(busy), [409, "Conflict"])
        assert.include(busy.message, "import-1")
        assert.deepStrictEqual(codeOf(yield* failure(arm.beginImportJob(rg, "nohsm", "import-1", importRequest()))), [400, "BadRequest"])
        assert.deepStrictEqual(codeOf(yield* failure(arm.beginImportJob(rg, "nothing", "import-1", importRequest()))), [404, "ParentResourceNotFound"])
        assert.deepStrictEqual(codeOf(yield* failure(arm.beginImportJob(rg, "fs1", "-bad", importRequest()))), [400, "InvalidResourceName"])
        assert.deepStrictEqual(
          codeOf(yield* failure(arm.beginImportJob(rg, "fs1", "import-3", { ...importRequest(), conflictResolutionMode: "Merge" }))),
          [400, "InvalidParameter"]
        )
        assert.deepStrictEqual(
          codeOf(yield* failure(arm.beginImportJob(rg, "fs1", "import-3", { ...importRequest(), location: "westus" }))),
          [400, "InvalidParameter"]
        )
        assert.isTrue(Option.isNone(yield* arm.getImportJob(rg, "fs1", "never")))
        assert.isTrue(Option.isNone(yield* arm.getImportJob(rg, "nothing", "import-1")))
        assert.deepStrictEqual(codeOf(yield* failure(arm.listImportJobs(rg, "nothing"))), [404, "ParentResourceNotFound"])
        yield* world.advance(timings.importMillis)
        assert.strictEqual(yield* importState("fs1", "import-1"), "Completed")
        yield* arm.beginImportJob(rg, "fs1", "import-2", { ...importRequest(), conflictResolutionMode: "Skip", maximumErrors: -1 })
        assert.deepStrictEqual((yield* arm.listImportJobs(rg, "fs1")).map((j) => [j.name, j.status.state]), [
          ["import-1", "Completed"],
          ["import-2", "InProgress"]
        ])
        assert.deepStrictEqual((yield* world.counters).jobPutsByFilesystem, { fs1: 7, FS1: 1, nohsm: 1, nothing: 1 })
      })
  ],
  [
    "cancelling an import: adminStatus Cancel, Cancelling for the cancel's time, then Canceled; an ended job is left as it is",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        yield* arm.beginImportJob(rg, "fs1", "import-1", importRequest())
        yield* world.advance(MINUTE)
        const cancelledAt = yield* world.now
        yield* arm.cancelImportJob(rg, "fs1", "import-1")
        const cancelling = yield* importJob("fs1", "import-1")
        assert.deepStrictEqual([cancelling.status.state, cancelling.adminStatus], ["Cancelling", "Cancel"])
        yield* arm.cancelImportJob(rg, "fs1", "import-1")
        yield* world.advance(timings.cancelMillis)
        const canceled = yield* importJob("fs1", "import-1")
        assert.deepStrictEqual(
          [canceled.status.state, canceled.provisioningState, canceled.status.lastCompletionTime?.getTime()],
          ["Canceled", "Canceled", cancelledAt + timings.cancelMillis]
        )
        yield* arm.beginImportJob(rg, "fs1", "import-2", importRequest())
        yield* world.advance(timings.importMillis)
        yield* arm.cancelImportJob(rg, "fs1", "import-2")
        assert.deepStrictEqual([(yield* importJob("fs1", "import-2")).status.state, (yield* importJob("fs1", "import-2")).adminStatus], [
          "Completed",
          "Active"
        ])
        assert.deepStrictEqual(codeOf(yield* failure(arm.cancelImportJob(rg, "fs1", "never"))), [404, "ResourceNotFound"])
      })
  ],
  [
    "faults: an import that fails, one that ends CompletedPartial with errors; the initial import takes a scripted failure too",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        yield* world.failNextImport("Import job failed: the container could not be listed.")
        yield* world.partialNextImport(3)
        yield* arm.beginImportJob(rg, "fs1", "failing", importRequest())
        yield* world.advance(timings.importMillis)
        const failed = yield* importJob("fs1", "failing")
        assert.deepStrictEqual(
          [failed.status.state, failed.status.statusMessage, failed.provisioningState],
          ["Failed", "Import job failed: the container could not be listed.", "Failed"]
        )
        yield* arm.beginImportJob(rg, "fs1", "partial", importRequest())
        yield* world.advance(timings.importMillis)
        const partial = yield* importJob("fs1", "partial")
        assert.deepStrictEqual([partial.status.state, partial.status.totalErrors], ["CompletedPartial", 3])
        assert.include(partial.status.statusMessage ?? "", "3 errors")

        yield* world.failNextImport("Import job failed: no access to the container.")
        yield* arm.beginCreate(rg, "fresh", spec())
        yield* world.advance(durations.creation + timings.importMillis)
        assert.deepStrictEqual([yield* importState("fresh", INITIAL_IMPORT_JOB_NAME), (yield* importJob("fresh", INITIAL_IMPORT_JOB_NAME)).status.statusMessage], [
          "Failed",
          "Import job failed: no access to the container."
        ])
      })
  ],
  [
    "archive: answered at once; archiveStatus InProgress with its percentage, then Completed 100; one at a time; cancelArchive; a failing archive",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        yield* world.seed("nohsm", false)
        const startedAt = yield* world.now
        yield* arm.archive(rg, "fs1", "/")
        yield* world.advance(timings.archiveMillis / 2)
        assert.deepStrictEqual(yield* archiveStatus("fs1"), [{
          filesystemPath: "/",
          state: "InProgress",
          percentComplete: 50,
          lastStartedTime: new Date(startedAt),
          lastCompletionTime: undefined,
          errorCode: undefined,
          errorMessage: undefined
        }])
        assert.deepStrictEqual(codeOf(yield* failure(arm.archive(rg, "fs1", "/results"))), [409, "Conflict"])
        yield* world.advance(timings.archiveMillis / 2)
        assert.deepStrictEqual((yield* archiveStatus("fs1")).map((s) => [s.state, s.percentComplete, s.lastCompletionTime?.getTime()]), [
          ["Completed", 100, startedAt + timings.archiveMillis]
        ])

        yield* arm.archive(rg, "fs1", "/results")
        yield* arm.cancelArchive(rg, "fs1")
        assert.deepStrictEqual((yield* archiveStatus("fs1")).map((s) => [s.filesystemPath, s.state]), [["/", "Completed"], ["/results", "Cancelling"]])
        yield* world.advance(timings.cancelMillis)
        assert.deepStrictEqual((yield* archiveStatus("fs1")).map((s) => [s.filesystemPath, s.state]), [["/", "Completed"], ["/results", "Canceled"]])
        yield* arm.cancelArchive(rg, "fs1")

        yield* world.failNextArchive({ code: "ArchiveFailed", message: "The container refused the writes." })
        yield* arm.archive(rg, "fs1", "/")
        yield* world.advance(timings.archiveMillis)
        const failed = (yield* archiveStatus("fs1")).find((s) => s.filesystemPath === "/")
        assert.deepStrictEqual([failed?.state, failed?.errorCode, failed?.errorMessage, failed?.percentComplete], [
          "Failed",
          "ArchiveFailed",
          "The container refused the writes.",
          undefined
        ])
        assert.deepStrictEqual(codeOf(yield* failure(arm.archive(rg, "nohsm", "/"))), [400, "BadRequest"])
        assert.deepStrictEqual(codeOf(yield* failure(arm.cancelArchive(rg, "nohsm"))), [400, "BadRequest"])
        assert.deepStrictEqual(codeOf(yield* failure(arm.archive(rg, "nothing", "/"))), [404, "ResourceNotFound"])
        assert.deepStrictEqual((yield* world.counters).archivesByFilesystem, { fs1: 4, nohsm: 1, nothing: 1 })
      })
  ],
  [
    "auto-export: InProgress, one iteration per interval from its start; one prefix; one job; disabled: Disabling, then Disabled, iterations stop",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        const startedAt = yield* world.now
        yield* arm.beginAutoExportJob(rg, "fs1", "export", { location: "eastus", autoExportPrefixes: ["/results"] })
        const job = Effect.map(arm.getAutoExportJob(rg, "fs1", "export"), Option.getOrThrow)
        assert.deepStrictEqual([(yield* job).status.state, (yield* job).status.exportIterationCount, (yield* job).adminStatus], ["InProgress", 1, "Enable"])
        yield* world.advance(2 * timings.autoExportIntervalMillis + 1)
        const running = yield* job
        assert.deepStrictEqual(
          [running.status.exportIterationCount, running.status.lastSuccessfulIterationCompletionTime?.getTime(), running.status.totalFilesExported],
          [3, startedAt + 2 * timings.autoExportIntervalMillis, 0]
        )
        const twoPrefixes = yield* failure(arm.beginAutoExportJob(rg, "fs1", "other", { location: "eastus", autoExportPrefixes: ["/a", "/b"] }))
        assert.deepStrictEqual(codeOf(twoPrefixes), [400, "InvalidParameter"])
        assert.deepStrictEqual(codeOf(yield* failure(arm.beginAutoExportJob(rg, "fs1", "other", { location: "eastus", autoExportPrefixes: ["/"] }))), [
          409,
          "Conflict"
        ])
        yield* arm.disableAutoExportJob(rg, "fs1", "export")
        assert.deepStrictEqual([(yield* job).status.state, (yield* job).adminStatus], ["Disabling", "Disable"])
        yield* world.advance(timings.cancelMillis)
        assert.strictEqual((yield* job).status.state, "Disabled")
        yield* world.advance(3 * timings.autoExportIntervalMillis)
        assert.strictEqual((yield* job).status.exportIterationCount, 3)
        yield* arm.beginAutoExportJob(rg, "fs1", "other", { location: "eastus", autoExportPrefixes: ["/"] })
        assert.deepStrictEqual((yield* arm.listAutoExportJobs(rg, "fs1")).map((j) => [j.name, j.status.state]), [
          ["export", "Disabled"],
          ["other", "InProgress"]
        ])
      })
  ],
  [
    "auto-import: InProgress with ARM's defaults (Skip, no deletions); at most 100 prefixes; one job; disabled like auto-export",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        yield* arm.beginAutoImportJob(rg, "fs1", "follow", { location: "eastus", autoImportPrefixes: ["/data"] })
        const job = Effect.map(arm.getAutoImportJob(rg, "fs1", "follow"), Option.getOrThrow)
        const started = yield* job
        assert.deepStrictEqual(
          [started.status.state, started.conflictResolutionMode, started.enableDeletions, started.maximumErrors, started.adminStatus],
          ["InProgress", "Skip", false, 0, "Enable"]
        )
        const many = Array.from({ length: 101 }, (_, i) => `/p${i}`)
        assert.deepStrictEqual(codeOf(yield* failure(arm.beginAutoImportJob(rg, "fs1", "many", { location: "eastus", autoImportPrefixes: many }))), [
          400,
          "InvalidParameter"
        ])
        assert.deepStrictEqual(codeOf(yield* failure(arm.beginAutoImportJob(rg, "fs1", "second", { location: "eastus", autoImportPrefixes: ["/"] }))), [
          409,
          "Conflict"
        ])
        yield* arm.disableAutoImportJob(rg, "fs1", "follow")
        assert.strictEqual((yield* job).status.state, "Disabling")
        yield* world.advance(timings.cancelMillis)
        assert.deepStrictEqual([(yield* job).status.state, (yield* job).adminStatus], ["Disabled", "Disable"])
        assert.deepStrictEqual((yield* arm.listAutoImportJobs(rg, "fs1")).map((j) => j.name), ["follow"])
      })
  ],
  [
    "history: ARM keeps the 10 most recent jobs; ended ones leave 72 hours after they ended",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        for (let i = 1; i <= 12; i++) {
          yield* arm.beginImportJob(rg, "fs1", `import-${i}`, importRequest())
          yield* world.advance(timings.importMillis)
        }
        const names = (yield* arm.listImportJobs(rg, "fs1")).map((j) => j.name)
        assert.deepStrictEqual(names, Array.from({ length: 10 }, (_, i) => `import-${i + 3}`))
        // import-11 ended 72 hours ago to the millisecond: gone; import-12 5 minutes later.
        yield* world.advance(72 * 60 * MINUTE - timings.importMillis)
        assert.deepStrictEqual((yield* arm.listImportJobs(rg, "fs1")).map((j) => j.name), ["import-12"])
      })
  ],
  [
    "throttling on the job endpoints: 429 with Retry-After as an ArmError, one request; nothing starts",
    (world) =>
      Effect.gen(function*() {
        const arm = yield* api
        yield* world.seed("fs1")
        yield* world.throttleNextJobRequest(7, "beginImportJob")
        const throttled = yield* failure(arm.beginImportJob(rg, "fs1", "import-1", importRequest()))
        assert.deepStrictEqual(codeOf(throttled), [429, "TooManyRequests"])
        assert.strictEqual(throttled._tag === "ArmError" && throttled.retryAfterMillis, 7_000)
        assert.isTrue(throttled._tag === "ArmError" && throttled.retryable)
        assert.strictEqual(throttled._tag === "ArmError" && throttled.operation, "createImportJob")
        assert.deepStrictEqual(yield* arm.listImportJobs(rg, "fs1"), [])
        yield* world.throttleNextJobRequest(2, "archive")
        assert.deepStrictEqual(codeOf(yield* failure(arm.archive(rg, "fs1", "/"))), [429, "TooManyRequests"])
        yield* arm.beginImportJob(rg, "fs1", "import-1", importRequest())
        assert.deepStrictEqual((yield* world.counters).jobPutsByFilesystem, { fs1: 1 })
      })
  ]
]

for (const model of [fakeModel, liveModel]) {
  describe(`AmlfsApi blob-integration contract: ${model.name}`, () => {
    for (const [title, scenario] of scenarios) model.test(title, scenario)
  })
}
