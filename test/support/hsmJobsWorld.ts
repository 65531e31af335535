/**
 * The world of the HSM job model test (test/controller/hsmJobs.model.test.ts): one fake ARM and
 * one fake Kubernetes API that outlive controller processes, and controller processes over them
 * (a ClusterProvisioner and the HSM loop, each built fresh, as after a restart). Every ARM call of
 * the controller goes through a spy that writes down what ARM's state was when the call arrived,
 * so the invariants can be checked against what the controller could have known.
 */
import { Clock, Context, Effect, Exit, Fiber, Layer, Ref, Scope } from "effect"
import { AmlfsApi, ArmError } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake, type FakeFilesystem } from "../../layers/azure/AmlfsApiFake.js"
import {
  archiveEndsAt,
  archiveStatusAt,
  type ArchiveRecord,
  type HsmTimings,
  importJobAt,
  importJobEndsAt,
  type ImportJobRecord
} from "../../layers/azure/hsmJobTimeline.js"
import { Kube } from "../../layers/kube/Kube.js"
import { KubeFake } from "../../layers/kube/KubeFake.js"
import { ClusterProvisioner } from "../../src/controller/dynamic/ClusterProvisioner.js"
import { ControllerConfig } from "../../src/controller/dynamic/ControllerConfig.js"
import { VolumeEvents } from "../../src/controller/dynamic/VolumeEvents.js"
import { hsmAnnotations, readWorkState } from "../../src/controller/hsm/HsmAnnotations.js"
import { HsmLoopLayer } from "../../src/controller/hsm/HsmLoopLayer.js"

export const RG = "rg-test"
export const DRIVER = "azurelustre.csi.azure.com"
export const CONTROLLER_NAMESPACE = "kube-system"

const keyOf = (name: string) => `${RG}/${name}`.toLowerCase()

/** The ARM calls whose answer a test may lose (after ARM acted on them). */
export const losableCalls = [
  "beginImportJob",
  "beginAutoExportJob",
  "beginAutoImportJob",
  "disableAutoExportJob",
  "archive",
  "cancelArchive",
  "cancelImportJob",
  "beginDelete"
] as const
export type LosableCall = typeof losableCalls[number]

/** Where a test may crash the controller: right after ARM acted on one of these, or after the HSM loop wrote a PVC's annotations. */
export const crashPoints = [...losableCalls, "patchPersistentVolumeClaimAnnotations"] as const
export type CrashPoint = typeof crashPoints[number]

/** Who sent an ARM call: CreateVolume / DeleteVolume, or the HSM loop. */
export type Caller = "provisioner" | "loop"

export interface JobPut {
  readonly caller: Caller
  readonly cluster: string
  readonly job: string
  readonly atMillis: number
  /** ARM already listed a job of that name when the PUT arrived. */
  readonly existed: boolean
  /** "ok", or ARM's status and code. */
  readonly outcome: string
}

export interface ArchivePost {
  readonly caller: Caller
  readonly cluster: string
  readonly path: string
  readonly atMillis: number
  /** For the loop's: the PVC and request whose start it wrote just before. */
  readonly request: { readonly pvc: string; readonly id: string } | undefined
  readonly outcome: string
}

export interface DeleteSent {
  readonly cluster: string
  readonly atMillis: number
  /** The archive of "/" ARM reported then, and whether each auto-export job was disabled, and when its disable was asked. */
  readonly rootArchive: ArchiveRecord | undefined
  readonly rootArchiveState: string | undefined
  readonly autoExportsDisabledAt: ReadonlyArray<number | undefined>
}

/** What the spies saw, in order. */
export interface Observations {
  readonly jobPuts: Array<JobPut>
  readonly archives: Array<ArchivePost>
  readonly deletes: Array<DeleteSent>
  readonly cancels: Array<{ readonly caller: Caller; readonly cluster: string; readonly kind: "import" | "archive"; readonly runningThen: boolean }>
}

const outcomeOf = <A, E extends { readonly statusCode?: number; readonly code?: string }>(exit: Exit.Exit<A, E>): string =>
  Exit.isSuccess(exit)
    ? "ok"
    : Exit.hasInterrupts(exit)
    ? "interrupted"
    : (() => {
      const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      return error === undefined ? "defect" : `${error.error.statusCode} ${error.error.code}`
    })()

/** Reads the fake's records directly: no call is logged, no scripted fault is taken. */
export const armState = (fake: AmlfsApiFake["Service"]) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const timings = yield* Ref.get(fake.hsmTimings)
    const filesystems = yield* Ref.get(fake.filesystems)
    return {
      now,
      timings,
      filesystem: (name: string): FakeFilesystem | undefined => filesystems.get(keyOf(name)),
      all: [...filesystems.values()]
    }
  })

/** The import jobs ARM has started by `now`. */
export const startedImports = (fs: FakeFilesystem | undefined, now: number): ReadonlyArray<ImportJobRecord> =>
  (fs?.hsm?.importJobs ?? []).filter((job) => job.startedAt <= now)

export const importStateAt = (job: ImportJobRecord, now: number, timings: HsmTimings) => importJobAt(job, now, timings).status.state

export const archiveStateAt = (archive: ArchiveRecord, now: number, timings: HsmTimings) => archiveStatusAt(archive, now, timings).state

export const activeImports = (fs: FakeFilesystem, now: number, timings: HsmTimings) =>
  startedImports(fs, now).filter((job) => now < importJobEndsAt(job, timings))

export const activeArchives = (fs: FakeFilesystem, now: number, timings: HsmTimings) =>
  (fs.hsm?.archives ?? []).filter((archive) => now < archiveEndsAt(archive, timings))

/** The fake ARM and the fake Kubernetes API, with spying views for the controller's processes. */
export const makeWorld = (options: {
  readonly createMillis: number
  readonly deleteMillis: number
  readonly timings: Partial<HsmTimings>
  readonly controller: ControllerConfig["Service"]
}) =>
  Effect.gen(function*() {
    const armContext = yield* Layer.build(AmlfsApiFake.layer({
      createDurationMillis: options.createMillis,
      deleteDurationMillis: options.deleteMillis,
      hsmTimings: options.timings
    }))
    const fake = Context.get(armContext, AmlfsApiFake)
    const api = Context.get(armContext, AmlfsApi)
    const kubeContext = yield* Layer.build(KubeFake.layer())
    const kubeFake = Context.get(kubeContext, KubeFake)
    const kube = Context.get(kubeContext, Kube)
    const seen: Observations = { jobPuts: [], archives: [], deletes: [], cancels: [] }
    /** How each archive ARM replaced (by a later one of its path) ended: `<cluster>|<path>|<startedAt>`. */
    const endedArchives = new Map<string, string>()
    /** The archive request the loop wrote as Starting last: its POST follows. */
    let startingArchive: { readonly pvc: string; readonly id: string } | undefined

    /** Calls whose next answer is lost: ARM acts, the controller hears nothing (a timeout, a reset connection). */
    const answersToLose = new Map<LosableCall, number>()
    const loseNextAnswer = (call: LosableCall) => Effect.sync(() => answersToLose.set(call, (answersToLose.get(call) ?? 0) + 1))
    const takeLostAnswer = (call: LosableCall) =>
      Effect.sync(() => {
        const left = answersToLose.get(call) ?? 0
        if (left > 0) answersToLose.set(call, left - 1)
        return left > 0
      })
    /** Calls after which the controller process dies: ARM (or the API server) acted, nothing after it runs. */
    const crashesAfter = new Map<CrashPoint, number>()
    let crashed = false
    const crashAfterNext = (call: CrashPoint) => Effect.sync(() => crashesAfter.set(call, (crashesAfter.get(call) ?? 0) + 1))
    const crashHere = (call: CrashPoint) =>
      Effect.suspend(() => {
        const left = crashesAfter.get(call) ?? 0
        if (left === 0) return Effect.void
        crashesAfter.set(call, left - 1)
        crashed = true
        return Effect.never
      })
    /** No more lost answers or crashes from now on. */
    const stopFaults = Effect.sync(() => {
      answersToLose.clear()
      crashesAfter.clear()
    })
    /** Whether a process died since the last look (the test then starts another). */
    const takeCrash = Effect.sync(() => {
      const was = crashed
      crashed = false
      return was
    })

    /** `call` as ARM runs it, with its answer lost when one is to be: "ok, answer lost" then a failure with no status. */
    const losable = <A>(call: LosableCall, run: Effect.Effect<A, ArmError>, heard: (outcome: string) => void) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(run)
        const lost = Exit.isSuccess(exit) && (yield* takeLostAnswer(call))
        heard(lost ? "ok, answer lost" : outcomeOf(exit))
        if (Exit.isSuccess(exit)) yield* crashHere(call)
        if (lost) {
          return yield* new ArmError({ operation: call, statusCode: 0, code: "ETIMEDOUT", message: "no answer from ARM", retryAfterMillis: undefined })
        }
        return yield* exit
      })

    const jobExists = (cluster: string, job: string) =>
      Effect.map(armState(fake), (arm) =>
        (arm.filesystem(cluster)?.hsm === undefined
          ? []
          : [...startedImports(arm.filesystem(cluster), arm.now), ...(arm.filesystem(cluster)?.hsm?.autoExportJobs ?? []), ...(arm.filesystem(cluster)?.hsm?.autoImportJobs ?? [])])
          .some((existing) => existing.name.toLowerCase() === job.toLowerCase()))

    const spyPut = <A>(caller: Caller, call: LosableCall, cluster: string, job: string, put: Effect.Effect<A, ArmError>) =>
      Effect.gen(function*() {
        const existed = yield* jobExists(cluster, job)
        const atMillis = yield* Clock.currentTimeMillis
        return yield* losable(call, put, (outcome) => seen.jobPuts.push({ caller, cluster, job, atMillis, existed, outcome }))
      })

    const runningArchive = (cluster: string) =>
      Effect.map(armState(fake), (arm) => {
        const fs = arm.filesystem(cluster)
        return fs === undefined ? false : activeArchives(fs, arm.now, arm.timings).length > 0
      })

    const spying = (caller: Caller): AmlfsApi["Service"] =>
      AmlfsApi.of({
        ...api,
        beginImportJob: (rg, cluster, job, spec) => spyPut(caller, "beginImportJob", cluster, job, api.beginImportJob(rg, cluster, job, spec)),
        beginAutoExportJob: (rg, cluster, job, spec) =>
          spyPut(caller, "beginAutoExportJob", cluster, job, api.beginAutoExportJob(rg, cluster, job, spec)),
        beginAutoImportJob: (rg, cluster, job, spec) =>
          spyPut(caller, "beginAutoImportJob", cluster, job, api.beginAutoImportJob(rg, cluster, job, spec)),
        disableAutoExportJob: (rg, cluster, job) => losable("disableAutoExportJob", api.disableAutoExportJob(rg, cluster, job), () => {}),
        archive: (rg, cluster, path) =>
          Effect.gen(function*() {
            const atMillis = yield* Clock.currentTimeMillis
            const request = caller === "loop" ? startingArchive : undefined
            const arm = yield* armState(fake)
            const previous = arm.filesystem(cluster)?.hsm?.archives.find((archive) => archive.filesystemPath === (path === "" ? "/" : path))
            if (previous !== undefined) {
              endedArchives.set(`${cluster}|${previous.filesystemPath}|${previous.startedAt}`, archiveStateAt(previous, arm.now, arm.timings))
            }
            return yield* losable("archive", api.archive(rg, cluster, path), (outcome) => {
              seen.archives.push({ caller, cluster, path, atMillis, request, outcome })
            })
          }),
        cancelArchive: (rg, cluster) =>
          Effect.gen(function*() {
            const runningThen = yield* runningArchive(cluster)
            seen.cancels.push({ caller, cluster, kind: "archive", runningThen })
            return yield* losable("cancelArchive", api.cancelArchive(rg, cluster), () => {})
          }),
        cancelImportJob: (rg, cluster, job) =>
          Effect.gen(function*() {
            const arm = yield* armState(fake)
            const found = startedImports(arm.filesystem(cluster), arm.now).find((one) => one.name === job)
            seen.cancels.push({
              caller,
              cluster,
              kind: "import",
              runningThen: found !== undefined && arm.now < importJobEndsAt(found, arm.timings)
            })
            return yield* losable("cancelImportJob", api.cancelImportJob(rg, cluster, job), () => {})
          }),
        beginDelete: (rg, cluster) =>
          Effect.gen(function*() {
            const arm = yield* armState(fake)
            const fs = arm.filesystem(cluster)
            const rootArchive = fs?.hsm?.archives.find((archive) => archive.filesystemPath === "/")
            seen.deletes.push({
              cluster,
              atMillis: arm.now,
              rootArchive,
              rootArchiveState: rootArchive === undefined ? undefined : archiveStateAt(rootArchive, arm.now, arm.timings),
              autoExportsDisabledAt: (fs?.hsm?.autoExportJobs ?? []).map((job) => job.disableRequestedAt)
            })
            return yield* losable("beginDelete", api.beginDelete(rg, cluster), () => {})
          })
      })

    /** The loop's Kubernetes API: its archive starts (written before the POST) are noted. */
    const kubeSpy = Kube.of({
      ...kube,
      patchPersistentVolumeClaimAnnotations: (namespace, name, annotations) =>
        kube.patchPersistentVolumeClaimAnnotations(namespace, name, annotations).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              const value = annotations[hsmAnnotations.archiveState]
              const state = value === null || value === undefined ? undefined : readWorkState(value)
              if (state !== undefined && state._tag === "Some" && state.value.state === "Starting") {
                startingArchive = { pvc: name, id: state.value.request }
              }
            })
          ),
          Effect.tap(() => crashHere("patchPersistentVolumeClaimAnnotations"))
        )
    })

    const provisionerDependencies = Layer.mergeAll(
      Layer.succeed(AmlfsApi, spying("provisioner")),
      Layer.succeed(ControllerConfig, options.controller),
      VolumeEvents.layerKube.pipe(Layer.provide(Layer.succeed(Kube, kube)))
    )
    const loopDependencies = Layer.mergeAll(Layer.succeed(AmlfsApi, spying("loop")), Layer.succeed(Kube, kubeSpy))

    /** A controller process: a fresh ClusterProvisioner and HSM loop; `stop` is a crash (everything interrupted). */
    const startProcess = (replica: number) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          Layer.fresh(Layer.mergeAll(
            ClusterProvisioner.layer.pipe(Layer.provide(provisionerDependencies)),
            HsmLoopLayer({ driverName: DRIVER, namespace: CONTROLLER_NAMESPACE, identity: `controller-${replica}` }).pipe(
              Layer.provide(loopDependencies)
            )
          )),
          scope
        )
        const callers: Array<Fiber.Fiber<void>> = []
        return {
          provisioner: Context.get(context, ClusterProvisioner),
          callers,
          stop: Effect.gen(function*() {
            yield* Fiber.interruptAll(callers)
            yield* Scope.close(scope, Exit.void)
          })
        }
      })

    return { fake, kubeFake, seen, endedArchives, loseNextAnswer, crashAfterNext, takeCrash, stopFaults, startProcess }
  })

export type World = Effect.Success<ReturnType<typeof makeWorld>>
export type Process = Effect.Success<ReturnType<World["startProcess"]>>
