import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Semaphore from "effect/Semaphore"
import type { Hsm } from "../../../layers/hsm/Hsm.js"
import type { KubeEventSubject } from "../../../layers/kube/Kube.js"
import { LustreShell, type LustreFilesystem, type MountEntry } from "../../../layers/lustre/LustreShell.js"
import { bounded } from "../../domain/BoundedText.js"
import type { HydrationPlan } from "../../domain/HsmHydration.js"
import { hsmReleasedFiles, setGauge } from "../../observability/metrics.js"
import { publishesShowing, sharedMountPoint } from "../mountTable.js"
import { NodeConfig } from "../NodeConfig.js"
import { readMountTable } from "../sharedMount.js"
import { HydrationEvents } from "./HydrationEvents.js"
import { HydrationRecords } from "./HydrationRecords.js"
import {
  type HydrationDirectory,
  HydrationFailed,
  type HydrationProgress,
  hydrateDirectories,
  noProgress
} from "./hydrate.js"

/** What a publish asks to hydrate, kept on disk while it runs so a restarted node plugin resumes it. */
export interface HydrationRequest {
  /** The published directory (see `hydrationKeyOf`): one hydration per volume directory, whichever pods publish it. */
  readonly key: string
  readonly volumeId: string
  readonly filesystem: LustreFilesystem
  readonly subDirComponents: ReadonlyArray<string>
  readonly plan: HydrationPlan
  readonly subject: KubeEventSubject | undefined
}

/** What NodeGetVolumeStats tells of a volume's hydration. */
export interface HydrationView {
  readonly mode: HydrationPlan["mode"]
  readonly state: "running" | "completed" | "failed"
  readonly progress: HydrationProgress
  readonly failure: string | undefined
}

/** Why a hydration ended without success: its failure, or that it was stopped. */
const failureOf = (cause: Cause.Cause<HydrationFailed>): string =>
  Option.match(Cause.findErrorOption(cause), {
    onNone: () => "it was stopped: the volume is no longer published here",
    onSome: (failed) => failed.message
  })

/** A published directory's identity in the mount table: its filesystem's device and its root in it. */
export const hydrationKeyOf = (published: Pick<MountEntry, "device" | "root">): string => `${published.device} ${published.root}`

interface Entry {
  readonly request: HydrationRequest
  readonly progress: Ref.Ref<HydrationProgress>
  readonly fiber: Fiber.Fiber<HydrationProgress, HydrationFailed>
}

const formatBytes = (bytes: bigint): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
  let value = Number(bytes)
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

const progressText = (progress: HydrationProgress): string =>
  `${progress.restored} of ${progress.found} released file(s) restored (${formatBytes(progress.restoredBytes)}), ` +
  `${progress.restoring} restoring, ${progress.failed} failed${progress.scanned ? "" : ", still looking for more"}`

/**
 * The node plugin's hydrations: one per published volume directory, each in a fiber the node
 * plugin owns, not the call that started it. A publish the kubelet cuts stops waiting, not
 * restoring; its retry joins the same hydration, so nothing is asked for twice. A hydration
 * holds no lock: other volumes' publishes and unpublishes never wait for it. It stops when the
 * volume's last publish on the node goes, and a restarted node plugin resumes the ones still
 * published (walking again finds only what is still released).
 */
export class Hydrations extends Context.Service<Hydrations, {
  /** Starts the hydration of `request.key`, or leaves the running one be. */
  readonly start: (request: HydrationRequest) => Effect.Effect<void>
  /** Waits for it to end; interrupting the wait leaves it running. */
  readonly awaitDone: (key: string) => Effect.Effect<HydrationProgress, HydrationFailed>
  /** Stops it (its volume is no longer published here) and forgets it. */
  readonly stop: (key: string) => Effect.Effect<void>
  readonly viewOf: (key: string) => Effect.Effect<HydrationView | undefined>
}>()("azurelustre/node/Hydrations") {
  static readonly layer: Layer.Layer<
    Hydrations,
    never,
    NodeConfig | LustreShell | Hsm | HydrationEvents | HydrationRecords
  > = Layer.effect(Hydrations, Effect.gen(function*() {
    const scope = yield* Effect.scope
    const context = yield* Effect.context<NodeConfig | LustreShell | Hsm | HydrationEvents>()
    const records = yield* HydrationRecords
    const config = yield* NodeConfig
    const entries = new Map<string, Entry>()
    // Concurrent publishes of one volume start one hydration.
    const starting = yield* Semaphore.make(1)

    const start = (request: HydrationRequest) =>
      Effect.gen(function*() {
        const running = entries.get(request.key)
        if (running !== undefined && running.fiber.pollUnsafe() === undefined) return
        const progress = yield* Ref.make(noProgress)
        yield* records.save(request)
        const fiber = yield* hydrateVolume(request, progress).pipe(
          Effect.ensuring(records.remove(request.key)),
          Effect.provideContext(context),
          Effect.forkIn(scope)
        )
        entries.set(request.key, { request, progress, fiber })
      }).pipe(starting.withPermits(1))

    const awaitDone = (key: string) =>
      Effect.suspend(() => {
        const entry = entries.get(key)
        if (entry === undefined) return Effect.fail(new HydrationFailed({ message: failureOf(Cause.interrupt()) }))
        return Fiber.await(entry.fiber).pipe(
          Effect.flatMap((exit) =>
            Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.fail(new HydrationFailed({ message: failureOf(exit.cause) }))
          )
        )
      })

    const stop = (key: string) =>
      Effect.suspend(() => {
        const entry = entries.get(key)
        entries.delete(key)
        return entry === undefined ? records.remove(key) : Fiber.interrupt(entry.fiber)
      })

    const viewOf = (key: string) =>
      Effect.gen(function*() {
        const entry = entries.get(key)
        if (entry === undefined) return undefined
        const exit = entry.fiber.pollUnsafe()
        const progress = yield* Ref.get(entry.progress)
        const failure = exit === undefined || Exit.isSuccess(exit) ? undefined : failureOf(exit.cause)
        return {
          mode: entry.request.plan.mode,
          state: exit === undefined ? "running" : Exit.isSuccess(exit) ? "completed" : "failed",
          progress,
          failure
        } satisfies HydrationView
      })

    // A restarted node plugin picks up the hydrations of volumes still published here.
    yield* Effect.forkIn(
      Effect.gen(function*() {
        const table = yield* readMountTable
        for (const request of yield* records.all) {
          const [device, ...root] = request.key.split(" ")
          const stillPublished = publishesShowing(table, config.mountRoot, { device: device ?? "", root: root.join(" ") }).length > 0
          if (stillPublished) {
            yield* Effect.logInfo("resuming the hydration of a volume still published here").pipe(
              Effect.annotateLogs({ volumeId: bounded(request.volumeId), paths: request.plan.shown, mode: request.plan.mode })
            )
            yield* start(request)
          } else {
            yield* records.remove(request.key)
          }
        }
      }).pipe(Effect.catch((failed) => Effect.logWarning(`cannot resume hydrations: ${failed.message}`))),
      scope
    )

    return Hydrations.of({ start, awaitDone, stop, viewOf })
  }))
}

/** Opens each prefix beneath the volume's directory (no symlink out of it); a missing one has nothing to hydrate. */
const openPrefixes = (request: HydrationRequest) =>
  Effect.gen(function*() {
    const shell = yield* LustreShell
    const config = yield* NodeConfig
    const root = sharedMountPoint(config.mountRoot, request.filesystem)
    const opened: Array<HydrationDirectory> = []
    for (const prefix of request.plan.paths) {
      const shown = prefix.join("/")
      const directory = yield* shell.openDirectoryBeneath(root, [...request.subDirComponents, ...prefix], { symlinks: "within" }).pipe(
        Effect.map((open) => ({ path: open.procPath, shown })),
        Effect.catchTag("PathFailed", (failed) =>
          failed.code === "ENOENT"
            ? Effect.as(Effect.logInfo(`nothing to hydrate under ${bounded(shown || "/")}: it does not exist`), undefined)
            : Effect.fail(new HydrationFailed({ message: `cannot open ${bounded(shown || "/")}: ${failed.message}` }))
        ),
        Effect.catchTag("PathEscapes", (escapes) =>
          Effect.fail(new HydrationFailed({ message: `${bounded(shown || "/")}: ${escapes.message}` }))
        )
      )
      if (directory !== undefined) opened.push(directory)
    }
    return opened
  })

const hydrateVolume = (request: HydrationRequest, progress: Ref.Ref<HydrationProgress>) =>
  Effect.gen(function*() {
    const config = yield* NodeConfig
    const events = yield* HydrationEvents
    const volume = bounded(request.volumeId)
    const tell = (type: "Normal" | "Warning", reason: Parameters<typeof events.record>[0]["reason"], note: string) =>
      request.subject === undefined ? Effect.void : events.record({ regarding: request.subject, type, reason, note })
    const beforeStart = request.plan.mode === "before-start"
    const sampleReleased = Ref.get(progress).pipe(
      Effect.flatMap((now) => setGauge(hsmReleasedFiles, { volume }, now.found - now.restored))
    )
    const started = yield* Clock.currentTimeMillis
    if (beforeStart) {
      yield* tell("Normal", "HydrationStarted", `restoring the released files under ${request.plan.shown} before the pod starts`)
    }
    yield* sampleReleased.pipe(
      Effect.andThen(beforeStart ? Ref.get(progress).pipe(Effect.flatMap((now) => tell("Normal", "HydrationProgress", progressText(now)))) : Effect.void),
      Effect.repeat(Schedule.spaced(config.hydrationEventEvery)),
      Effect.delay(config.hydrationEventEvery),
      Effect.forkScoped
    )
    const directories = yield* openPrefixes(request)
    const outcome = yield* hydrateDirectories(directories, config.hydration, progress).pipe(Effect.exit)
    const now = yield* Ref.get(progress)
    yield* sampleReleased
    const took = Duration.format(Duration.millis((yield* Clock.currentTimeMillis) - started))
    const fields = {
      volumeId: volume,
      mode: request.plan.mode,
      paths: request.plan.shown,
      found: now.found,
      restored: now.restored,
      restoredBytes: now.restoredBytes.toString(),
      failed: now.failed,
      took
    }
    if (Exit.isSuccess(outcome)) {
      yield* Effect.logInfo("hydration ended: every released file found is back").pipe(Effect.annotateLogs(fields))
      if (beforeStart) yield* tell("Normal", "HydrationCompleted", `${progressText(now)} in ${took}; the pod starts`)
    } else {
      const message = failureOf(outcome.cause)
      yield* Effect.logWarning(`hydration failed: ${message}`).pipe(Effect.annotateLogs(fields))
      yield* tell("Warning", "HydrationFailed", `${message}; ${beforeStart ? "kubelet retries the mount" : "files are restored when read"}`)
    }
    return yield* outcome
  }).pipe(Effect.scoped)
