import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { LustreClient } from "../../../layers/lustreClient/LustreClient.js"
import { lustreClientSetupDuration, timed } from "../../observability/metrics.js"
import { describeClientVersions } from "./clientVersions.js"
import { NodeSetupEvents } from "./NodeSetupEvents.js"
import type { NodeSetupFailed } from "./NodeSetupFailed.js"
import type { NodeSetupSettings } from "./NodeSetupSettings.js"
import { nodeSetupRoundRetry } from "./setupSchedules.js"
import { setUpLustreClient } from "./setUpLustreClient.js"

/** Where the node setup is: the readiness reason comes from it. */
export type NodeSetupStatus =
  /** AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no: a client is assumed to be there. */
  | { readonly _tag: "Skipped" }
  | { readonly _tag: "InProgress"; readonly step: string }
  | { readonly _tag: "Ready"; readonly summary: string }
  | { readonly _tag: "Failed"; readonly reason: string; readonly retrying: boolean }

/** Whether the node's Lustre client is there: Ready, or not the driver's to install. */
export const isSetUp = (status: NodeSetupStatus): boolean => status._tag === "Ready" || status._tag === "Skipped"

/** What the readiness check says while the node is not set up. */
export const notSetUpReason = (status: NodeSetupStatus): string => {
  switch (status._tag) {
    case "InProgress":
      return status.step
    case "Failed":
      return status.retrying ? `${status.reason} (the node setup tries again on its own)` : status.reason
    default:
      return ""
  }
}

/**
 * The node setup, running in the background from the node plugin's start: installs and loads
 * the AMLFS Lustre client (setUpLustreClient), round after round (nodeSetupRoundRetry) until one
 * succeeds or a failure is permanent. Each step is the status the readiness check reports and a
 * log line; a failed round is a Warning Event on the Node (once per distinct reason).
 */
export class NodeSetup extends Context.Service<NodeSetup, {
  readonly status: Effect.Effect<NodeSetupStatus>
  /** Each later status, as the setup moves (a step, a failure, ready): readiness refreshes on each. */
  readonly changes: Stream.Stream<NodeSetupStatus>
  /** Resolves once the node is set up (or setup is skipped); never when it fails for good. */
  readonly done: Effect.Effect<void>
}>()("azurelustre/node/NodeSetup") {
  static readonly layer = (settings: NodeSetupSettings): Layer.Layer<NodeSetup, never, LustreClient | NodeSetupEvents> =>
    Layer.effect(
      NodeSetup,
      Effect.gen(function*() {
        const done = yield* Deferred.make<void>()
        if (!settings.install) {
          yield* Effect.logInfo("node setup skipped: AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no, the node's Lustre client is assumed installed")
          yield* Deferred.succeed(done, undefined)
          return NodeSetup.of({ status: Effect.succeed({ _tag: "Skipped" }), changes: Stream.empty, done: Deferred.await(done) })
        }
        const client = yield* LustreClient
        const events = yield* NodeSetupEvents
        const status = yield* SubscriptionRef.make<NodeSetupStatus>({ _tag: "InProgress", step: "starting" })
        const progress = (step: string) =>
          Effect.andThen(SubscriptionRef.set(status, { _tag: "InProgress", step }), Effect.logDebug(`node setup: ${step}`))
        let lastEventReason = ""

        const round = timed(lustreClientSetupDuration, {}, setUpLustreClient({ client, settings, progress })).pipe(
          Effect.tapError((failed: NodeSetupFailed) =>
            Effect.gen(function*() {
              yield* SubscriptionRef.set(status, { _tag: "Failed", reason: failed.reason, retrying: !failed.permanent })
              yield* Effect.logWarning("the node setup failed: the node is not ready").pipe(
                Effect.annotateLogs({ reason: failed.reason, retrying: !failed.permanent })
              )
              if (failed.reason !== lastEventReason) {
                lastEventReason = failed.reason
                yield* events.record({ type: "Warning", reason: "LustreClientSetupFailed", note: failed.reason })
              }
            })
          )
        )
        const run = Effect.gen(function*() {
          const started = yield* Clock.currentTimeMillis
          yield* Effect.logInfo("node setup: installing and loading the AMLFS Lustre client").pipe(
            Effect.annotateLogs({ versions: describeClientVersions(settings.versions) })
          )
          const outcome = yield* round.pipe(Effect.retry(nodeSetupRoundRetry(settings.roundRetryFirst, settings.roundRetryCap)))
          const summary = `${outcome.plan.describe}${outcome.installed ? " installed" : ""}, LNet tcp on ${outcome.interfaces.join(", ")}`
          yield* SubscriptionRef.set(status, { _tag: "Ready", summary })
          yield* Effect.logInfo(`the Lustre client is ready: ${summary}`).pipe(
            Effect.annotateLogs({ durationMs: (yield* Clock.currentTimeMillis) - started })
          )
          if (outcome.installed) {
            yield* events.record({ type: "Normal", reason: "LustreClientInstalled", note: `installed ${outcome.plan.describe}; LNet tcp on ${outcome.interfaces.join(", ")}` })
          }
          yield* Deferred.succeed(done, undefined)
        }).pipe(Effect.catch((failed) => Effect.logError(`the node setup gave up: ${failed.reason}`)))
        yield* Effect.forkScoped(run)
        return NodeSetup.of({
          status: SubscriptionRef.get(status),
          changes: Stream.drop(SubscriptionRef.changes(status), 1),
          done: Deferred.await(done)
        })
      })
    )

  /**
   * Waits for the setup, `headStart` at most, before what comes after it is built (the CSI
   * socket): a node set up already is ready at its first Probe.
   */
  static readonly headStart = (settings: Pick<NodeSetupSettings, "headStart">) =>
    Layer.effectDiscard(Effect.gen(function*() {
      const setup = yield* NodeSetup
      yield* setup.done.pipe(Effect.timeoutOption(settings.headStart))
    }))
}
