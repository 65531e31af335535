/**
 * The last check of the HSM job model test (test/controller/hsmJobs.model.test.ts): once faults
 * stopped and the HSM loop ran on, each bound PVC's state annotations say what ARM says of its
 * requests.
 */
import { Effect, Option, Ref, Result } from "effect"
import type { FakeFilesystem } from "../../layers/azure/AmlfsApiFake.js"
import type { HsmTimings } from "../../layers/azure/hsmJobTimeline.js"
import { hsmAnnotations, parseArchiveRequest, parseImportRequest, readWorkState } from "../../src/controller/hsm/HsmAnnotations.js"
import { archiveStateAt, armState, importStateAt, startedImports, type World } from "./hsmJobsWorld.js"

/** A PVC of the model, as far as the check needs it. */
export interface ModelVolume {
  readonly pvc: string
  readonly cluster: string
  readonly bound: boolean
  readonly deletedAt: number | undefined
}

const idOf = (parsed: Result.Result<{ readonly id: string }, { readonly id: string }>) =>
  Result.isSuccess(parsed) ? parsed.success.id : parsed.failure.id
export const importIdOf = (value: string) => idOf(parseImportRequest(value))
export const archiveIdOf = (value: string) => idOf(parseArchiveRequest(value))

/** After the settle: each bound PVC's state annotations say what ARM says of its requests. */
export const checkConvergence = (
  world: World,
  generations: ReadonlyArray<ModelVolume>,
  canceledRequests: ReadonlySet<string>,
  violation: (text: string) => Effect.Effect<unknown>) =>
  Effect.gen(function*() {
    const { fake, kubeFake, seen } = world
    const arm = yield* armState(fake)
    const claims = yield* Ref.get(kubeFake.claims)
    for (const generation of generations) {
      if (!generation.bound || generation.deletedAt !== undefined) continue
      const annotations = claims.find((claim) => claim.name === generation.pvc)?.annotations ?? {}
      const fs = arm.filesystem(generation.cluster)
      const where = `(convergence) PVC ${generation.pvc}`
      const importValue = annotations[hsmAnnotations.import]
      if (importValue !== undefined) {
        const id = importIdOf(importValue)
        const recorded = Option.getOrUndefined(readWorkState(annotations[hsmAnnotations.importState]))
        const job = startedImports(fs, arm.now).find((one) => one.name === `import-${id}`)
        if (recorded?.request !== id) {
          yield* violation(`${where}: hsm-import-state is of request ${recorded?.request}, not ${id}`)
        } else if (job !== undefined) {
          const state = importStateAt(job, arm.now, arm.timings)
          if (recorded.state !== state) yield* violation(`${where}: hsm-import-state says ${recorded.state}, ARM's job import-${id} ${state}`)
        } else {
          const startedOnce = seen.jobPuts.some((put) =>
            put.cluster === generation.cluster && put.job === `import-${id}` && put.outcome.startsWith("ok")
          )
          const refused = seen.jobPuts.some((put) =>
            put.cluster === generation.cluster && put.job === `import-${id}` && /^4\d\d/.test(put.outcome) && !/^(409|429)/.test(put.outcome)
          )
          const canceled = canceledRequests.has(`${generation.pvc}|import|${id}`)
          const fits = (recorded.state === "Canceled" && canceled) || (recorded.state === "Lost" && startedOnce) ||
            (recorded.state === "Failed" && refused)
          if (!fits) yield* violation(`${where}: hsm-import-state says ${recorded.state} of ${id}, and ARM lists no job import-${id}`)
        }
      }
      const archiveValue = annotations[hsmAnnotations.archive]
      if (archiveValue !== undefined) {
        const id = archiveIdOf(archiveValue)
        const recorded = Option.getOrUndefined(readWorkState(annotations[hsmAnnotations.archiveState]))
        const last = Option.getOrUndefined(readWorkState(annotations[hsmAnnotations.lastArchive]))
        const post = seen.archives.find((one) =>
          one.caller === "loop" && one.outcome.startsWith("ok") && one.request?.pvc === generation.pvc && one.request.id === id
        )
        if (recorded?.request !== id) {
          yield* violation(`${where}: hsm-archive-state is of request ${recorded?.request}, not ${id}`)
        } else if (post !== undefined) {
          const outcome = archiveOutcome(world, generation.cluster, post.path, post.atMillis, arm.now, arm.timings, fs)
          const later = (fs?.hsm?.archives ?? []).some((one) => one.filesystemPath === post.path && one.startedAt > post.atMillis)
          // Lost: a later archive of the path hides how it ended, or the id was asked for again after another request.
          const lost = recorded.state === "Lost" && (later || /started before/.test(recorded.error ?? ""))
          if (recorded.state !== outcome && !lost) {
            yield* violation(`${where}: hsm-archive-state says ${recorded.state} of ${id}, ARM ended its archive ${outcome}`)
          }
          if (recorded.state === outcome && (last?.request !== id || last.state !== outcome)) {
            yield* violation(`${where}: hsm-last-archive says ${last?.state} of ${last?.request}, not ${outcome} of ${id}`)
          }
        } else {
          const refused = seen.archives.some((one) =>
            one.caller === "loop" && one.request?.pvc === generation.pvc && one.request.id === id && /^4\d\d/.test(one.outcome) &&
            !/^(409|429)/.test(one.outcome)
          )
          const canceled = canceledRequests.has(`${generation.pvc}|archive|${id}`)
          const fits = (recorded.state === "Canceled" && canceled) || (recorded.state === "Failed" && refused)
          if (!fits) yield* violation(`${where}: hsm-archive-state says ${recorded.state} of ${id}, which never started`)
        }
      }
    }
  })

/** How ARM ended (or is running) the archive of `path` started at `startedAt`. */
const archiveOutcome = (
  world: World,
  cluster: string,
  path: string,
  startedAt: number,
  at: number,
  timings: HsmTimings,
  fs: FakeFilesystem | undefined
): string => {
  const record = (fs?.hsm?.archives ?? []).find((one) => one.filesystemPath === path && one.startedAt === startedAt)
  if (record !== undefined) return archiveStateAt(record, at, timings)
  return world.endedArchives.get(`${cluster}|${path}|${startedAt}`) ?? "replaced before it was seen to end"
}

