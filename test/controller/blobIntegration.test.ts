import { status } from "@grpc/grpc-js"
import { Effect, Option } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { AmlfsApi } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, type AmlfsApiFakeOptions } from "../../layers/azure/AmlfsApiFake.js"
import { ARCHIVE_ON_DELETE_TAG } from "../../src/domain/ClusterTags.js"
import type { CreateVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters as required } from "../support/csiRequests.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"

const TIB = 1n << 40n
const account = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datasets"
const container = `${account}/blobServices/default/containers/imagenet`
const logging = `${account}/blobServices/default/containers/amlfs-logs`
const parameters = {
  ...required,
  "csi.storage.k8s.io/pvc/name": "training-data",
  "csi.storage.k8s.io/pvc/namespace": "ml",
  "blob-container": container,
  "blob-logging-container": logging,
  "import-prefixes": "/train,/val"
}
const request = (extra: Record<string, string> = {}): CreateVolumeRequest =>
  createVolumeRequest("pvc-blob", { ...parameters, ...extra }, { capacityRange: { requiredBytes: 16n * TIB, limitBytes: 0n } })

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})

const start = async (arm: AmlfsApiFakeOptions = {}) => {
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    arm: { createDurationMillis: 200, deleteDurationMillis: 100, hsmTimings: { importMillis: 300, archiveMillis: 300 }, ...arm }
  })
  stops.push(driver.stop)
  const controller = driver.client.controller
  const inspect = <A>(f: (fake: AmlfsApiFake["Service"], api: AmlfsApi["Service"]) => Effect.Effect<A, unknown>) =>
    driver.inspect(Effect.gen(function*() {
      return yield* f(yield* AmlfsApiFake, yield* AmlfsApi)
    }).pipe(Effect.orDie))
  return {
    ...driver,
    create: (extra: Record<string, string> = {}, deadlineMs?: number) =>
      ask(controller, controller.createVolume, request(extra), deadlineMs === undefined ? {} : { deadlineMs }),
    remove: (volumeId: string) => ask(controller, controller.deleteVolume, { volumeId, secrets: {} }),
    cluster: () => inspect((_, api) => api.get("rg-test", "pvc-blob").pipe(Effect.map(Option.getOrUndefined))),
    inspect,
    reasons: () => driver.events().map((event) => `${event.type} ${event.reason}`)
  }
}

describe("CreateVolume with blob-container: the cluster is ready only once its namespace is imported", () => {
  it("creates it with hsm.settings and answers only after the initial import completed", async () => {
    const driver = await start()
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: true })
    const cluster = await driver.cluster()
    expect(cluster?.hsm).toMatchObject({ container, loggingContainer: logging, importPrefixesInitial: ["/train", "/val"] })
    expect(cluster?.tags[ARCHIVE_ON_DELETE_TAG]).toBe("true")
    const jobs = await driver.inspect((_, api) => api.listImportJobs("rg-test", "pvc-blob"))
    expect(jobs.map((job) => job.status.state)).toEqual(["Completed"])
    expect(driver.reasons()).toEqual(expect.arrayContaining(["Normal Provisioned", "Normal Imported"]))
    expect(driver.reasons().indexOf("Normal Imported")).toBeGreaterThan(driver.reasons().indexOf("Normal Provisioned"))
  })

  it("an import already ended when the cluster is ready is read once; one still running is read again until it ends", async () => {
    const quick = await start({ hsmTimings: { importMillis: 1 } })
    expect(await quick.create()).toMatchObject({ ok: true })
    expect(await quick.inspect((fake) => fake.count("listImportJobs"))).toBe(1)
    const slow = await start({ hsmTimings: { importMillis: 300 } })
    expect(await slow.create()).toMatchObject({ ok: true })
    expect(await slow.inspect((fake) => fake.count("listImportJobs"))).toBeGreaterThan(1)
  })

  it("a deadline during the import leaves it running; the retry joins it: one PUT, one import", async () => {
    const driver = await start({ hsmTimings: { importMillis: 800 } })
    expect(await driver.create({}, 400)).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
    expect(await driver.create()).toMatchObject({ ok: true })
    expect(await driver.inspect((fake) => fake.count("beginCreate"))).toBe(1)
    expect((await driver.inspect((_, api) => api.listImportJobs("rg-test", "pvc-blob"))).length).toBe(1)
  })

  it("an import that completes partially is ready, with a Warning Event carrying the counts", async () => {
    const driver = await start()
    await driver.inspect((fake) => fake.partialNextImport(3, "3 blobs could not be read"))
    expect(await driver.create()).toMatchObject({ ok: true })
    const partial = driver.events().find((event) => event.reason === "ImportedPartially")
    expect(partial).toMatchObject({ type: "Warning", pvc: { namespace: "ml", name: "training-data" } })
    expect(partial?.note).toContain("3 error(s)")
  })

  it("an import that fails answers UNAVAILABLE with ARM's words, and a Warning Event", async () => {
    const driver = await start()
    await driver.inspect((fake) => fake.failNextImport("the container could not be listed"))
    const answer = await driver.create()
    expect(answer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(answer.ok ? "" : answer.details).toContain("ended Failed: the container could not be listed")
    expect(driver.reasons()).toContain("Warning ImportFailed")
  })

  it("starts the auto-import and auto-export jobs it is asked for, once each", async () => {
    const driver = await start()
    const extra = { "auto-import": "/incoming", "auto-import-conflict-resolution": "OverwriteIfDirty", "auto-export": "/results" }
    expect(await driver.create(extra)).toMatchObject({ ok: true })
    expect(await driver.create(extra)).toMatchObject({ ok: true })
    const autoImports = await driver.inspect((_, api) => api.listAutoImportJobs("rg-test", "pvc-blob"))
    const autoExports = await driver.inspect((_, api) => api.listAutoExportJobs("rg-test", "pvc-blob"))
    expect(autoImports.map((job) => [job.name, job.autoImportPrefixes, job.conflictResolutionMode])).toEqual([
      ["auto-import", ["/incoming"], "OverwriteIfDirty"]
    ])
    expect(autoExports.map((job) => [job.name, job.autoExportPrefixes])).toEqual([["auto-export", ["/results"]]])
  })
})

describe("DeleteVolume of a cluster with blob integration archives it first", () => {
  it("disables auto-export, archives / and deletes only once the archive completed", async () => {
    const driver = await start()
    const created = await driver.create({ "auto-export": "/results" })
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
    expect(await driver.cluster()).toBeUndefined()
    expect(await driver.inspect((fake) => fake.count("archive", "pvc-blob"))).toBe(1)
  })

  it("a failed archive answers FAILED_PRECONDITION with ARM's reason and deletes nothing", async () => {
    const driver = await start()
    const created = await driver.create()
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    await driver.inspect((fake) => fake.failNextArchive({ code: "ArchiveFailed", message: "the container is full" }))
    const answer = await driver.remove(volumeId)
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(answer.ok ? "" : answer.details).toContain("the container is full")
    expect((await driver.cluster())?.provisioningState).toBe("Succeeded")
    expect(await driver.inspect((fake) => fake.count("beginDelete"))).toBe(0)
    // Once the cause is fixed, deleting again archives and deletes.
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
    expect(await driver.cluster()).toBeUndefined()
  })

  it("archive-on-delete=false deletes without archiving", async () => {
    const driver = await start()
    const created = await driver.create({ "archive-on-delete": "false" })
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    expect(await driver.remove(volumeId)).toEqual({ ok: true, value: {} })
    expect(await driver.inspect((fake) => fake.count("archive"))).toBe(0)
  })
})
