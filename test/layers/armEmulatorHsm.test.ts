/**
 * The ARM emulator's blob-integration jobs on real files: the emulator is given the HSM
 * simulation's model on a fresh state directory, and the live AmlfsApi drives it over HTTPS.
 * Imports make released stubs with the model's counts, archives and auto-export copy files to the
 * container directory, and each fault ends the job as ARM would.
 */
import { assert, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { AmlfsApi, type AmlFilesystemSpec, type HsmSettings, INITIAL_IMPORT_JOB_NAME, type ImportJob } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiLive } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator } from "../../layers/azure/ArmEmulator.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { selfSignedCertificate } from "../../layers/azure/selfSignedCertificate.js"
import { HsmModel } from "../../layers/hsm/simulation/HsmModel.js"
import { hsmPaths } from "../../layers/hsm/simulation/HsmPaths.js"
import { SimulationFaults } from "../../layers/simulation/SimulationFaults.js"
import { emulatorClusterSpec } from "../support/clusterFixtures.js"
import { scratchFolder } from "../support/mounts.js"
import { rootOnly } from "../support/rootOnly.js"

// Stubs and blobs keep their owners: the model chowns, which needs root.
const { describe } = rootOnly("the HSM model chowns stubs and blobs to their owners")

const rg = "rg1"
const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/account1"
const hsm: HsmSettings = {
  container: `${account}/blobServices/default/containers/datasets`,
  loggingContainer: `${account}/blobServices/default/containers/logs`,
  importPrefixesInitial: ["/data", "/models"]
}
const spec: AmlFilesystemSpec = emulatorClusterSpec({ hsm })
/** The first cluster's filesystem in the simulation: its MGS address, fsname lustrefs. */
const filesystem = { mgsAddress: "10.0.0.4", fsName: "lustrefs" }

const folders: Array<string> = []
afterAll(() => folders.forEach((folder) => Fs.rmSync(folder, { recursive: true, force: true })))

let certificate: Promise<{ certificatePem: string; keyPem: string }> | undefined
const sharedCertificate = Effect.promise(() => (certificate ??= Effect.runPromise(selfSignedCertificate())))

/** A state directory, its model, an emulator acting through it, and the live client on the emulator. */
const world = Effect.gen(function*() {
  const stateDir = scratchFolder("arm-emulator-hsm-")
  folders.push(stateDir)
  const paths = hsmPaths(stateDir)
  Fs.mkdirSync(paths.faults, { recursive: true })
  const modelContext = yield* Layer.build(
    HsmModel.layer(stateDir, { restoreDelay: "10 millis" }).pipe(Layer.provide(SimulationFaults.layer(paths.faults)))
  )
  const model = Context.get(modelContext, HsmModel)
  const emulator = yield* ArmEmulator.start({
    certificate: yield* sharedCertificate,
    hsm: model,
    creationDuration: "150 millis",
    importDuration: "100 millis",
    archiveDuration: "100 millis",
    autoExportInterval: "300 millis",
    autoImportInterval: "300 millis",
    jobCancelDuration: "50 millis"
  })
  const client = yield* Layer.build(AmlfsApiLive.layer({
    subscriptionId: emulator.subscriptionId,
    credential: staticCredential("hsm"),
    endpoint: emulator.url,
    trustedCertificatePem: emulator.certificatePem
  }))
  const blobDir = paths.container({ storageAccount: "account1", container: "datasets" })
  const fsDir = paths.filesystem(filesystem)
  const put = (dir: string) => (name: string, content: string) => {
    const path = Path.join(dir, name)
    Fs.mkdirSync(Path.dirname(path), { recursive: true })
    Fs.writeFileSync(path, content)
  }
  return {
    model,
    emulator,
    api: Context.get(client, AmlfsApi),
    putBlob: put(blobDir),
    putFile: put(fsDir),
    inBlob: (name: string) => Path.join(blobDir, name),
    inFs: (name: string) => Path.join(fsDir, name)
  }
})

const polling = Schedule.spaced("40 millis").pipe(Schedule.upTo({ times: 150 }))

const ended = (job: ImportJob) => !["InProgress", "Cancelling", "Unknown"].includes(job.status.state)

/** The import job once it ended. */
const importEnded = (api: AmlfsApi["Service"], fs: string, job: string) =>
  api.getImportJob(rg, fs, job).pipe(
    Effect.repeat({ schedule: polling, until: (found) => Option.isSome(found) && ended(found.value) }),
    Effect.map(Option.getOrThrow)
  )

/** The archive of `path` once it ended. */
const archiveEnded = (api: AmlfsApi["Service"], fs: string, path: string) =>
  api.get(rg, fs).pipe(
    Effect.map((found) => Option.getOrThrow(found).hsm?.archiveStatus.find((s) => s.filesystemPath === path)),
    Effect.repeat({ schedule: polling, until: (status) => status !== undefined && !["InProgress", "Cancelling"].includes(status.state) }),
    Effect.map((status) => {
      assert.isDefined(status)
      return status
    })
  )

const counts = (job: ImportJob) => {
  const { state, totalBlobsWalked, importedFiles, importedDirectories, preexistingFiles, totalErrors, totalConflicts } = job.status
  return { state, totalBlobsWalked, importedFiles, importedDirectories, preexistingFiles, totalErrors, totalConflicts }
}

describe("ArmEmulator blob integration on the HSM model's files", () => {
  it.live("a creation with hsm.settings links its filesystem to the container; its initial import makes released stubs, with the model's counts", () =>
    Effect.scoped(Effect.gen(function*() {
      const w = yield* world
      w.putBlob("data/a.txt", "alpha")
      w.putBlob("data/sub/b.bin", "bravo!")
      w.putBlob("models/m.pt", "model")
      w.putBlob("other/x.txt", "not imported")
      yield* w.api.beginCreate(rg, "fs1", spec)
      const job = yield* importEnded(w.api, "fs1", INITIAL_IMPORT_JOB_NAME)
      assert.deepStrictEqual(counts(job), {
        state: "Completed",
        // data/, data/a.txt, data/sub/, data/sub/b.bin, models/, models/m.pt
        totalBlobsWalked: 6,
        importedFiles: 3,
        importedDirectories: 3,
        preexistingFiles: 0,
        totalErrors: 0,
        totalConflicts: 0
      })
      assert.deepStrictEqual(yield* w.model.linkOf(filesystem), { storageAccount: "account1", container: "datasets", archiveId: 1 })
      assert.strictEqual(Fs.statSync(w.inFs("data/sub/b.bin")).size, 6)
      const { state } = yield* w.model.stateOf(w.inFs("data/a.txt"))
      assert.deepStrictEqual([state.released, state.archived, state.exists], [true, true, true])
      assert.isFalse(Fs.existsSync(w.inFs("other/x.txt")))
    })))

  it.live("an archive copies new and changed files back to the container, with archiveStatus filled", () =>
    Effect.scoped(Effect.gen(function*() {
      const w = yield* world
      yield* w.emulator.seed({ resourceGroup: rg, name: "fs1", hsm })
      w.putFile("results/out.txt", "v1")
      w.putFile("results/keep.txt", "same")
      yield* w.api.archive(rg, "fs1", "/")
      const first = yield* archiveEnded(w.api, "fs1", "/")
      assert.deepStrictEqual([first.state, first.percentComplete, first.errorCode], ["Completed", 100, undefined])
      assert.instanceOf(first.lastCompletionTime, Date)
      assert.strictEqual(Fs.readFileSync(w.inBlob("results/out.txt"), "utf8"), "v1")
      assert.strictEqual(Fs.readFileSync(w.inBlob("results/keep.txt"), "utf8"), "same")

      w.putFile("results/out.txt", "v2, longer")
      const keptAt = Fs.statSync(w.inBlob("results/keep.txt")).mtimeMs
      yield* w.api.archive(rg, "fs1", "/results")
      const second = yield* archiveEnded(w.api, "fs1", "/results")
      assert.strictEqual(second.state, "Completed")
      assert.strictEqual(Fs.readFileSync(w.inBlob("results/out.txt"), "utf8"), "v2, longer")
      assert.strictEqual(Fs.statSync(w.inBlob("results/keep.txt")).mtimeMs, keptAt, "an unchanged file is not copied again")

      // A path that is not in the filesystem fails the archive with the model's reason.
      yield* w.api.archive(rg, "fs1", "/nowhere")
      const missing = yield* archiveEnded(w.api, "fs1", "/nowhere")
      assert.deepStrictEqual([missing.state, missing.errorCode], ["Failed", "ArchiveFailed"])
      assert.include(missing.errorMessage ?? "", "/nowhere")
    })))

  it.live("conflictResolutionMode: Fail stops at a conflict, Skip passes it (CompletedPartial); an unchanged import is preexisting", () =>
    Effect.scoped(Effect.gen(function*() {
      const w = yield* world
      yield* w.emulator.seed({ resourceGroup: rg, name: "fs1", hsm })
      w.putBlob("data/a.txt", "from blob")
      w.putBlob("data/b.txt", "from blob too")
      w.putFile("data/a.txt", "written in the filesystem")
      const request = (mode: string) => ({ location: "eastus", importPrefixes: ["/data"], conflictResolutionMode: mode, maximumErrors: 0 })

      yield* w.api.beginImportJob(rg, "fs1", "strict", request("Fail"))
      const strict = yield* importEnded(w.api, "fs1", "strict")
      assert.deepStrictEqual([strict.status.state, strict.status.totalConflicts, strict.status.importedFiles], ["Failed", 1, 0])
      assert.include(strict.status.statusMessage ?? "", "data/a.txt")
      assert.isFalse(Fs.existsSync(w.inFs("data/b.txt")), "Fail stops before importing anything")

      yield* w.api.beginImportJob(rg, "fs1", "lenient", request("Skip"))
      const lenient = yield* importEnded(w.api, "fs1", "lenient")
      assert.deepStrictEqual(counts(lenient), {
        state: "CompletedPartial",
        totalBlobsWalked: 3,
        importedFiles: 1,
        importedDirectories: 0,
        preexistingFiles: 0,
        totalErrors: 0,
        totalConflicts: 1
      })
      assert.strictEqual(Fs.readFileSync(w.inFs("data/a.txt"), "utf8"), "written in the filesystem")

      Fs.rmSync(w.inFs("data/a.txt"))
      yield* w.api.beginImportJob(rg, "fs1", "again", request("Fail"))
      const again = yield* importEnded(w.api, "fs1", "again")
      assert.deepStrictEqual(
        [again.status.state, again.status.importedFiles, again.status.preexistingFiles, again.status.totalConflicts],
        ["Completed", 1, 1, 0]
      )
    })))

  it.live("faults: a failing import touches no file, a partial one imports and counts the errors, a failing archive copies nothing, job endpoints throttle", () =>
    Effect.scoped(Effect.gen(function*() {
      const w = yield* world
      yield* w.emulator.seed({ resourceGroup: rg, name: "fs1", hsm })
      w.putBlob("data/a.txt", "alpha")
      const request = { location: "eastus", importPrefixes: ["/data"] }

      yield* w.emulator.faults.failNextImport("Import job failed: the container could not be listed.")
      yield* w.api.beginImportJob(rg, "fs1", "failing", request)
      const failing = yield* importEnded(w.api, "fs1", "failing")
      assert.deepStrictEqual([failing.status.state, failing.status.statusMessage], ["Failed", "Import job failed: the container could not be listed."])
      assert.isFalse(Fs.existsSync(w.inFs("data/a.txt")))

      yield* w.emulator.faults.partialNextImport(2)
      yield* w.api.beginImportJob(rg, "fs1", "partial", request)
      const partial = yield* importEnded(w.api, "fs1", "partial")
      assert.deepStrictEqual([partial.status.state, partial.status.totalErrors, partial.status.importedFiles], ["CompletedPartial", 2, 1])
      assert.isTrue(Fs.existsSync(w.inFs("data/a.txt")))

      w.putFile("results/new.txt", "never exported")
      yield* w.emulator.faults.failNextArchive({ code: "ArchiveFailed", message: "The storage account refused the writes." })
      yield* w.api.archive(rg, "fs1", "/results")
      const archive = yield* archiveEnded(w.api, "fs1", "/results")
      assert.deepStrictEqual([archive.state, archive.errorCode, archive.errorMessage], ["Failed", "ArchiveFailed", "The storage account refused the writes."])
      assert.isFalse(Fs.existsSync(w.inBlob("results/new.txt")))

      yield* w.emulator.faults.throttleJobs(2, 4)
      const throttled = yield* Effect.flip(w.api.listImportJobs(rg, "fs1"))
      assert.deepStrictEqual([throttled.statusCode, throttled.code, throttled.retryAfterMillis], [429, "TooManyRequests", 4_000])
      assert.strictEqual((yield* Effect.flip(w.api.cancelArchive(rg, "fs1"))).statusCode, 429)
      // Other endpoints are not throttled by it, and it is over after two requests.
      assert.isTrue(Option.isSome(yield* w.api.get(rg, "fs1")))
      assert.strictEqual((yield* w.api.listImportJobs(rg, "fs1")).length, 2)
    })))

  it.live("auto-export archives new files on its interval while enabled; auto-import brings in blobs that appear later", () =>
    Effect.scoped(Effect.gen(function*() {
      const w = yield* world
      yield* w.emulator.seed({ resourceGroup: rg, name: "fs1", hsm })
      w.putFile("results/one.txt", "1")
      yield* w.api.beginAutoExportJob(rg, "fs1", "export", { location: "eastus", autoExportPrefixes: ["/results"] })
      yield* w.api.beginAutoImportJob(rg, "fs1", "follow", { location: "eastus", autoImportPrefixes: ["/incoming"] })
      const exportJob = Effect.map(w.api.getAutoExportJob(rg, "fs1", "export"), Option.getOrThrow)
      const importJob = Effect.map(w.api.getAutoImportJob(rg, "fs1", "follow"), Option.getOrThrow)
      const first = yield* exportJob.pipe(Effect.repeat({ schedule: polling, until: (job) => job.status.totalFilesExported >= 1 }))
      assert.deepStrictEqual([first.status.state, first.status.totalFilesFailed], ["InProgress", 0])
      assert.strictEqual(Fs.readFileSync(w.inBlob("results/one.txt"), "utf8"), "1")

      w.putFile("results/two.txt", "2")
      w.putBlob("incoming/late.csv", "a,b")
      const second = yield* exportJob.pipe(Effect.repeat({ schedule: polling, until: (job) => job.status.totalFilesExported >= 2 }))
      assert.isAtLeast(second.status.exportIterationCount, 2)
      assert.strictEqual(Fs.readFileSync(w.inBlob("results/two.txt"), "utf8"), "2")
      const imported = yield* importJob.pipe(Effect.repeat({ schedule: polling, until: (job) => job.status.importedFiles >= 1 }))
      assert.strictEqual(imported.status.state, "InProgress")
      assert.isTrue((yield* w.model.stateOf(w.inFs("incoming/late.csv"))).state.released)

      yield* w.api.disableAutoExportJob(rg, "fs1", "export")
      const disabled = yield* exportJob.pipe(Effect.repeat({ schedule: polling, until: (job) => job.status.state === "Disabled" }))
      w.putFile("results/three.txt", "3")
      yield* Effect.sleep("700 millis")
      assert.strictEqual((yield* exportJob).status.exportIterationCount, disabled.status.exportIterationCount)
      assert.isFalse(Fs.existsSync(w.inBlob("results/three.txt")), "a disabled job exports nothing more")
    })))
})
