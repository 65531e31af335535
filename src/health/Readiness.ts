import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** Why one readiness check failed, in words an operator can act on. */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", { reason: Schema.String }) {}

export interface ReadinessCheck {
  readonly name: string
  readonly run: Effect.Effect<void, NotReady>
}

export interface CheckResult {
  readonly name: string
  readonly ready: boolean
  readonly reason?: string
}

export interface ReadinessReport {
  readonly ready: boolean
  readonly checks: ReadonlyArray<CheckResult>
}

const runCheck = (check: ReadinessCheck): Effect.Effect<CheckResult> =>
  check.run.pipe(
    Effect.as<CheckResult>({ name: check.name, ready: true }),
    Effect.catch((notReady) => Effect.succeed<CheckResult>({ name: check.name, ready: false, reason: notReady.reason }))
  )

/**
 * Whether this driver can do its job now. The CSI Probe (and, later, /healthz) answer from it.
 * What it checks depends on the mode and the environment: the layers below assemble the checks.
 */
export class Readiness extends Context.Service<Readiness, {
  readonly report: Effect.Effect<ReadinessReport>
}>()("azurelustre/Readiness") {
  static readonly fromChecks = (checks: ReadonlyArray<ReadinessCheck>) =>
    Readiness.of({
      report: Effect.forEach(checks, runCheck, { concurrency: "unbounded" }).pipe(
        Effect.map((results) => ({ ready: results.every((r) => r.ready), checks: results }))
      )
    })

  static readonly layerFromChecks = (checks: ReadonlyArray<ReadinessCheck>) =>
    Layer.succeed(Readiness, Readiness.fromChecks(checks))
}
