import { assert, describe, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import type { ArchiveStatus, ImportJob } from "../../../layers/azure/AmlfsHsm.js"
import {
  hsmAnnotations,
  importJobName,
  parseArchiveRequest,
  parseImportRequest,
  readWorkState,
  shortHash
} from "../../../src/controller/hsm/HsmAnnotations.js"
import { decideArchive, decideImport } from "../../../src/controller/hsm/decideHsmWork.js"

const now = new Date("2026-01-01T00:00:00Z")

const importJob = (name: string, state: string, adminStatus = "Active"): ImportJob => ({
  name,
  importPrefixes: ["/"],
  conflictResolutionMode: "Fail",
  maximumErrors: 0,
  adminStatus,
  provisioningState: "Succeeded",
  status: {
    state,
    statusMessage: state === "Failed" ? "the container is gone" : undefined,
    totalBlobsWalked: 3,
    totalBlobsImported: 2,
    importedFiles: 2,
    importedDirectories: 1,
    preexistingFiles: 0,
    totalErrors: 0,
    totalConflicts: 0,
    lastStartedTime: undefined,
    lastCompletionTime: undefined
  }
})

const archiveStatus = (state: string, started: Date | undefined, path = "/"): ArchiveStatus => ({
  filesystemPath: path,
  state,
  percentComplete: state === "Completed" ? 100 : 40,
  lastStartedTime: started,
  lastCompletionTime: undefined,
  errorCode: state === "Failed" ? "ArchiveFailed" : undefined,
  errorMessage: state === "Failed" ? "the container refused a write" : undefined
})

const stateOf = (annotations: Readonly<Record<string, string>>, key: string) =>
  Option.getOrUndefined(readWorkState(annotations[key]))

describe("HSM request annotations", () => {
  it("a request id before a colon names the request and the job; without one the value's hash does", () => {
    const named = parseImportRequest("r1:/data, models")
    assert.isTrue(named._tag === "Success" && named.success.id === "r1" && named.success.jobName === "import-r1")
    assert.deepStrictEqual(named._tag === "Success" ? named.success.prefixes : [], ["/data", "/models"])
    const hashed = parseImportRequest("/data")
    assert.isTrue(hashed._tag === "Success" && hashed.success.id === shortHash("/data"))
    assert.match(importJobName("a".repeat(64)), /^[0-9a-zA-Z][-0-9a-zA-Z_]{0,78}[0-9a-zA-Z]$/)
  })

  it("a bad prefix or a relative archive path is refused, naming the annotation", () => {
    const badImport = parseImportRequest("r1:/a//b")
    assert.isTrue(badImport._tag === "Failure" && badImport.failure.problem.includes(hsmAnnotations.import))
    const badArchive = parseArchiveRequest("x:data")
    assert.isTrue(badArchive._tag === "Failure" && badArchive.failure.problem.includes("begin it with"))
    const all = parseArchiveRequest("/")
    assert.isTrue(all._tag === "Success" && all.success.path === "/")
  })
})

describe("decideImport", () => {
  it("starts the request's job once, then follows ARM's state to the end with one Event", () => {
    const first = decideImport({ annotations: { [hsmAnnotations.import]: "r1:/data" }, jobs: [], clusterBusy: false, now })
    assert.deepStrictEqual(Option.map(first.action, (action) => action._tag), Option.some("StartImport"))
    assert.strictEqual(stateOf(first.annotations, hsmAnnotations.importState)?.state, "Started")
    const annotations = { [hsmAnnotations.import]: "r1:/data", ...first.annotations }
    const running = decideImport({ annotations, jobs: [importJob("import-r1", "InProgress")], clusterBusy: false, now })
    assert.isTrue(Option.isNone(running.action))
    const done = decideImport({
      annotations: { ...annotations, ...running.annotations },
      jobs: [importJob("import-r1", "Completed")],
      clusterBusy: false,
      now
    })
    assert.strictEqual(stateOf(done.annotations, hsmAnnotations.importState)?.state, "Completed")
    assert.deepStrictEqual(done.events.map((event) => event.reason), ["ImportCompleted"])
    const again = decideImport({
      annotations: { ...annotations, ...running.annotations, ...done.annotations },
      jobs: [importJob("import-r1", "Completed")],
      clusterBusy: false,
      now
    })
    assert.deepStrictEqual(again, { before: {}, action: Option.none(), annotations: {}, events: [], occupies: false })
  })

  it("queues behind another running import, and cancels only a job that runs", () => {
    const queued = decideImport({
      annotations: { [hsmAnnotations.import]: "r2:/x" },
      jobs: [importJob("initial-import", "InProgress")],
      clusterBusy: false,
      now
    })
    assert.isTrue(Option.isNone(queued.action))
    assert.strictEqual(stateOf(queued.annotations, hsmAnnotations.importState)?.state, "Queued")
    const canceledEarly = decideImport({
      annotations: { [hsmAnnotations.import]: "r2:/x", [hsmAnnotations.importCancel]: "r2" },
      jobs: [],
      clusterBusy: false,
      now
    })
    assert.isTrue(Option.isNone(canceledEarly.action))
    assert.strictEqual(stateOf(canceledEarly.annotations, hsmAnnotations.importState)?.state, "Canceled")
    const cancel = decideImport({
      annotations: { [hsmAnnotations.import]: "r2:/x", [hsmAnnotations.importCancel]: "true" },
      jobs: [importJob("import-r2", "InProgress")],
      clusterBusy: false,
      now
    })
    assert.deepStrictEqual(cancel.action, Option.some({ _tag: "CancelImport", jobName: "import-r2" } as const))
    const notTwice = decideImport({
      annotations: { [hsmAnnotations.import]: "r2:/x", [hsmAnnotations.importCancel]: "true" },
      jobs: [importJob("import-r2", "InProgress", "Cancel")],
      clusterBusy: false,
      now
    })
    assert.isTrue(Option.isNone(notTwice.action))
  })

  it("a refused request is written once, with a Warning", () => {
    const refused = decideImport({ annotations: { [hsmAnnotations.import]: "r3:a//b" }, jobs: [], clusterBusy: false, now })
    assert.strictEqual(stateOf(refused.annotations, hsmAnnotations.importState)?.state, "Invalid")
    assert.deepStrictEqual(refused.events.map((event) => event.type), ["Warning"])
    const again = decideImport({
      annotations: { [hsmAnnotations.import]: "r3:a//b", ...refused.annotations },
      jobs: [],
      clusterBusy: false,
      now
    })
    assert.deepStrictEqual(again.events, [])
  })
})

describe("decideArchive", () => {
  it("starts, ignores an older archive's status, and records the last archive when it ends", () => {
    const started = decideArchive({
      annotations: { [hsmAnnotations.archive]: "a1:/" },
      archiveStatus: [archiveStatus("Completed", new Date(now.getTime() - 3_600_000))],
      clusterBusy: false,
      now
    })
    assert.deepStrictEqual(Option.map(started.action, (action) => action._tag), Option.some("StartArchive"))
    const annotations = { [hsmAnnotations.archive]: "a1:/", ...started.annotations }
    const stale = decideArchive({
      annotations,
      archiveStatus: [archiveStatus("Completed", new Date(now.getTime() - 3_600_000))],
      clusterBusy: false,
      now
    })
    assert.deepStrictEqual(stale.annotations, {})
    const done = decideArchive({ annotations, archiveStatus: [archiveStatus("Failed", now)], clusterBusy: false, now })
    assert.strictEqual(stateOf(done.annotations, hsmAnnotations.archiveState)?.state, "Failed")
    assert.strictEqual(stateOf(done.annotations, hsmAnnotations.lastArchive)?.error, "the container refused a write")
    assert.deepStrictEqual(done.events.map((event) => event.reason), ["ArchiveFailed"])
  })

  it("queues while an archive runs and cancels its own running archive", () => {
    const queued = decideArchive({
      annotations: { [hsmAnnotations.archive]: "/data" },
      archiveStatus: [archiveStatus("InProgress", now)],
      clusterBusy: false,
      now
    })
    assert.strictEqual(stateOf(queued.annotations, hsmAnnotations.archiveState)?.state, "Queued")
    const annotations = {
      [hsmAnnotations.archive]: "a2:/",
      [hsmAnnotations.archiveCancel]: "a2",
      [hsmAnnotations.archiveState]: JSON.stringify({ request: "a2", state: "InProgress", time: now.toISOString(), startedAt: now.toISOString() })
    }
    const cancel = decideArchive({ annotations, archiveStatus: [archiveStatus("InProgress", now)], clusterBusy: false, now })
    assert.deepStrictEqual(cancel.action, Option.some({ _tag: "CancelArchive" } as const))
  })
})

/** One step of a model of three PVCs on one cluster and ARM's import jobs. */
const Pvc = Schema.Literals([0, 1, 2])
const RequestKey = Schema.Literals(["a", "b", "c"])
const Step = Schema.Union([
  Schema.TaggedStruct("Request", { pvc: Pvc, key: RequestKey }),
  Schema.TaggedStruct("Cancel", { pvc: Pvc, key: Schema.Literals(["a", "b", "c", "true"]) }),
  Schema.TaggedStruct("Progress", {}),
  Schema.TaggedStruct("Reconcile", { losePatch: Schema.Boolean })
])

const isActive = (job: ImportJob) => job.status.state === "InProgress" || job.status.state === "Cancelling"

describe("decideImport as a model", () => {
  it.prop(
    "a request never runs twice, one import at a time, cancels only what runs, and states converge to ARM's",
    [Schema.Array(Step)],
    ([steps]) => {
      const pvcs: Array<Record<string, string>> = [{}, {}, {}]
      let jobs: Array<ImportJob> = []
      const started = new Set<string>()
      const reconcile = (losePatch: boolean) => {
        let busy = false
        // As the loop: ARM's jobs are listed once per cluster per round.
        const seen = jobs
        pvcs.forEach((annotations, at) => {
          const decision = decideImport({ annotations, jobs: seen, clusterBusy: busy, now })
          busy = busy || decision.occupies
          if (Option.isSome(decision.action)) {
            const action = decision.action.value
            if (action._tag === "StartImport") {
              assert.isFalse(started.has(action.request.jobName), `${action.request.jobName} started twice`)
              assert.isFalse(jobs.some(isActive), "a second import while one runs")
              started.add(action.request.jobName)
              jobs = [...jobs, importJob(action.request.jobName, "InProgress")]
            } else if (action._tag === "CancelImport") {
              const job = jobs.find((candidate) => candidate.name === action.jobName)
              assert.isTrue(job !== undefined && job.status.state === "InProgress" && job.adminStatus === "Active")
              jobs = jobs.map((candidate) => candidate.name === action.jobName ? importJob(candidate.name, "InProgress", "Cancel") : candidate)
            }
          }
          if (!losePatch) pvcs[at] = { ...annotations, ...decision.annotations }
        })
      }
      const progress = () => {
        jobs = jobs.map((job) => isActive(job) ? importJob(job.name, job.adminStatus === "Cancel" ? "Canceled" : "Completed", job.adminStatus) : job)
      }
      for (const step of steps) {
        switch (step._tag) {
          case "Request":
            pvcs[step.pvc] = { ...pvcs[step.pvc], [hsmAnnotations.import]: `p${step.pvc}${step.key}:/data` }
            break
          case "Cancel":
            pvcs[step.pvc] = {
              ...pvcs[step.pvc],
              [hsmAnnotations.importCancel]: step.key === "true" ? "true" : `p${step.pvc}${step.key}`
            }
            break
          case "Progress":
            progress()
            break
          case "Reconcile":
            reconcile(step.losePatch)
        }
      }
      // Settle: every queued request gets its turn, and every job ends.
      for (let round = 0; round < 8; round++) {
        reconcile(false)
        progress()
      }
      reconcile(false)
      for (const annotations of pvcs) {
        const value = annotations[hsmAnnotations.import]
        if (value === undefined) continue
        const id = value.split(":")[0] ?? ""
        const recorded = stateOf(annotations, hsmAnnotations.importState)
        const job = jobs.find((candidate) => candidate.name === importJobName(id))
        assert.strictEqual(recorded?.request, id)
        if (job !== undefined) assert.strictEqual(recorded?.state, job.status.state)
        else assert.strictEqual(recorded?.state, "Canceled")
      }
    },
    { arbitrary: { runs: 400 } }
  )
})

/** A request is new (a new id) or the current one written again; the key picks its path. */
const ArchiveStep = Schema.Union([
  Schema.TaggedStruct("Request", { pvc: Pvc, key: RequestKey, fresh: Schema.Boolean }),
  Schema.TaggedStruct("Cancel", { pvc: Pvc, key: Schema.Literals(["a", "b", "c", "true"]) }),
  Schema.TaggedStruct("Progress", {}),
  Schema.TaggedStruct("Reconcile", { lose: Schema.Literals(["nothing", "before", "after"]) })
])

describe("decideArchive as a model", () => {
  it.prop(
    "an archive request (a new id each) runs once, across lost writes, one archive at a time, cancels only what runs, and ends as ARM ended it",
    [Schema.Array(ArchiveStep)],
    ([steps]) => {
      const pvcs: Array<Record<string, string>> = [{}, {}, {}]
      let statuses: Array<ArchiveStatus> = []
      let clock = now.getTime()
      const started = new Set<string>()
      /** How ARM ended each request's archive, by request id. */
      const outcomes = new Map<string, string>()
      /** The request each running archive is for. */
      let running: string | undefined
      let requests = 0
      /** Which writes a round loses: none, the one before the action (so no action), or those after it (a crash). */
      const reconcile = (lose: "nothing" | "before" | "after") => {
        let busy = false
        // As the loop: ARM's status is read once per cluster per round.
        const seen = statuses
        pvcs.forEach((annotations, at) => {
          const decision = decideArchive({ annotations, archiveStatus: seen, clusterBusy: busy, now: new Date(clock) })
          busy = busy || decision.occupies
          const wroteBefore = Object.keys(decision.before).length > 0
          if (wroteBefore && lose === "before") return
          if (wroteBefore) pvcs[at] = annotations = { ...annotations, ...decision.before }
          if (Option.isSome(decision.action)) {
            const action = decision.action.value
            if (action._tag === "StartArchive") {
              assert.isFalse(started.has(action.request.id), `${action.request.id} archived twice`)
              assert.isFalse(statuses.some((status) => status.state === "InProgress" || status.state === "Cancelling"))
              started.add(action.request.id)
              running = action.request.id
              statuses = [
                ...statuses.filter((status) => status.filesystemPath !== action.request.path),
                archiveStatus("InProgress", new Date(clock), action.request.path)
              ]
            } else if (action._tag === "CancelArchive") {
              assert.isTrue(statuses.some((status) => status.state === "InProgress"), "a cancel with nothing running")
              const asking = (annotations[hsmAnnotations.archive] ?? "").split(":")[0]
              assert.strictEqual(running, asking, "a cancel of another request's archive")
              statuses = statuses.map((status) => status.state === "InProgress" ? { ...status, state: "Cancelling" } : status)
            }
          }
          if (lose !== "after") pvcs[at] = { ...annotations, ...decision.annotations }
        })
      }
      const progress = () => {
        clock += 10 * 60_000
        statuses = statuses.map((status) => {
          if (status.state !== "InProgress" && status.state !== "Cancelling") return status
          const state = status.state === "Cancelling" ? "Canceled" : "Completed"
          if (running !== undefined) outcomes.set(running, state)
          running = undefined
          return { ...status, state }
        })
      }
      for (const step of steps) {
        switch (step._tag) {
          case "Request": {
            const current = pvcs[step.pvc]?.[hsmAnnotations.archive]
            const value = step.fresh || current === undefined ? `p${step.pvc}n${requests++}:/${step.key}` : current
            pvcs[step.pvc] = { ...pvcs[step.pvc], [hsmAnnotations.archive]: value }
            break
          }
          case "Cancel": {
            const current = (pvcs[step.pvc]?.[hsmAnnotations.archive] ?? "").split(":")[0] ?? ""
            pvcs[step.pvc] = {
              ...pvcs[step.pvc],
              [hsmAnnotations.archiveCancel]: step.key === "true" ? "true" : step.key === "a" ? current : "other"
            }
            break
          }
          case "Progress":
            progress()
            break
          case "Reconcile":
            reconcile(step.lose)
        }
      }
      for (let round = 0; round < 8; round++) {
        reconcile("nothing")
        progress()
      }
      reconcile("nothing")
      for (const annotations of pvcs) {
        const value = annotations[hsmAnnotations.archive]
        if (value === undefined) continue
        const id = value.split(":")[0] ?? ""
        const recorded = stateOf(annotations, hsmAnnotations.archiveState)
        assert.strictEqual(recorded?.request, id)
        // Lost: writes were lost and a later archive of the path hides how this one ended; never a wrong outcome.
        if (recorded?.state !== "Lost") assert.strictEqual(recorded?.state, outcomes.get(id) ?? "Canceled")
      }
    },
    { arbitrary: { runs: 400 } }
  )
})
