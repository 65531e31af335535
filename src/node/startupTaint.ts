import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { KubeError } from "../../layers/kube/Kube.js"
import { KubeNode } from "../../layers/kube/KubeNode.js"
import { STARTUP_TAINT_KEY } from "../domain/KubernetesKeys.js"
import { Readiness } from "../health/Readiness.js"
import { setGauge, startupTaintRemoved } from "../observability/metrics.js"

/** The node cannot take Lustre pods yet: `reason` says what is missing. */
export class NotYet extends Schema.TaggedError<NotYet>()("NotYet", { reason: Schema.String }) {}

export interface StartupTaintOptions {
  readonly nodeName: string
  readonly driverName: string
  /** How often readiness and kubelet's registration are looked at while they are missing. */
  readonly pollInterval: Duration.Input
}

/**
 * While the node is not ready, or kubelet has not registered the driver yet, look again every
 * `pollInterval`; after a Kubernetes API error back off exponentially from 1 s to at most 30 s.
 * It never gives up: a missing RBAC rule fixed later still lets the taint go.
 */
export const startupTaintRetry = (pollInterval: Duration.Input) =>
  Schedule.exponential("1 second").pipe(
    Schedule.setInputType<NotYet | KubeError>(),
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(input._tag === "NotYet" ? pollInterval : Duration.min(duration, Duration.seconds(30)))
    )
  )

/**
 * Removes the start-up taint (`azurelustre.csi.azure.com/agent-not-ready`, any effect) from
 * this node once, and only once, both hold: readiness passes (LNet works), and kubelet has
 * registered the driver (this node's CSINode lists it). Removing it on readiness alone lets the
 * scheduler send pods that kubelet then cannot mount for, the race other drivers have.
 * Each new reason to wait is logged once.
 */
export const removeStartupTaint = (options: StartupTaintOptions) =>
  Effect.gen(function*() {
    const readiness = yield* Readiness
    const kube = yield* KubeNode
    let lastReason = ""
    yield* setGauge(startupTaintRemoved, {}, 0)

    const attempt = Effect.gen(function*() {
      const report = yield* readiness.report
      if (!report.ready) {
        const failing = report.checks.filter((check) => !check.ready).map((check) => `${check.name}: ${check.reason ?? "failed"}`)
        return yield* new NotYet({ reason: `the node is not ready (${failing.join("; ")})` })
      }
      const drivers = yield* kube.readCsiNodeDrivers(options.nodeName)
      if (!drivers.includes(options.driverName)) {
        return yield* new NotYet({
          reason: `kubelet has not registered ${options.driverName} on this node yet (CSINode ${options.nodeName})`
        })
      }
      return yield* kube.removeNodeTaint(options.nodeName, STARTUP_TAINT_KEY)
    })

    const removed = yield* attempt.pipe(
      Effect.tapError((blocked) => {
        const reason = blocked._tag === "NotYet" ? blocked.reason : blocked.message
        if (reason === lastReason) return Effect.void
        lastReason = reason
        return Effect.logInfo("the start-up taint stays").pipe(Effect.annotateLogs({ taint: STARTUP_TAINT_KEY, reason }))
      }),
      Effect.retry(startupTaintRetry(options.pollInterval))
    )
    yield* setGauge(startupTaintRemoved, {}, 1)
    yield* Effect.logInfo(removed.length > 0 ? "removed the start-up taint: the node takes Lustre pods" : "the node has no start-up taint")
      .pipe(Effect.annotateLogs({ taint: STARTUP_TAINT_KEY, effects: removed.map((taint) => taint.effect).join(",") }))
  })
