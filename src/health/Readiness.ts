import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { readinessCheck, ready, setGauge } from "../observability/metrics.js"

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

/**
 * Checks that run as one and report one result each: they share a probe (which may be cached)
 * or depend on each other, so that a check that cannot run can say why instead of failing too.
 */
export interface ReadinessCheckGroup {
  readonly results: Effect.Effect<ReadonlyArray<CheckResult>>
}

export type ReadinessEntry = ReadinessCheck | ReadinessCheckGroup

export interface ReadinessReport {
  readonly ready: boolean
  readonly checks: ReadonlyArray<CheckResult>
}

const runCheck = (check: ReadinessCheck): Effect.Effect<CheckResult> =>
  check.run.pipe(
    Effect.as<CheckResult>({ name: check.name, ready: true }),
    Effect.catch((notReady) => Effect.succeed<CheckResult>({ name: check.name, ready: false, reason: notReady.reason }))
  )

const runEntry = (entry: ReadinessEntry): Effect.Effect<ReadonlyArray<CheckResult>> =>
  "results" in entry ? entry.results : Effect.map(runCheck(entry), (result) => [result])

/**
 * Sets the readiness gauges, each only when its value changed, and logs each change of verdict
 * (which checks fail, and why): probes are frequent, changes rare, and a log line per Probe of a
 * node that is not ready would say the same thing every few seconds.
 */
const makeReportRecorder = () => {
  const last = new Map<string, number>()
  let lastVerdict = ""
  const set = (gauge: typeof readinessCheck, key: string, labels: Readonly<Record<string, string>>, value: number) =>
    last.get(key) === value ? Effect.void : Effect.andThen(Effect.sync(() => last.set(key, value)), setGauge(gauge, labels, value))
  const logChange = (report: ReadinessReport) => {
    const failing = report.checks.filter((check) => !check.ready)
    const verdict = JSON.stringify(failing)
    if (verdict === lastVerdict) return Effect.void
    const first = lastVerdict === ""
    lastVerdict = verdict
    return report.ready
      ? (first ? Effect.void : Effect.logInfo("ready"))
      : Effect.logWarning("not ready").pipe(Effect.annotateLogs({ failing }))
  }
  return (report: ReadinessReport) =>
    Effect.andThen(
      Effect.forEach(report.checks, (check) => set(readinessCheck, check.name, { check: check.name }, check.ready ? 1 : 0), {
        discard: true
      }),
      Effect.andThen(set(ready, "", {}, report.ready ? 1 : 0), logChange(report))
    )
}

/**
 * Whether this driver can do its job now. The CSI Probe and /healthz answer from it, and each
 * report sets the readiness gauges.
 * What it checks depends on the mode and the environment: the layers below assemble the checks.
 */
export class Readiness extends Context.Service<Readiness, {
  readonly report: Effect.Effect<ReadinessReport>
}>()("azurelustre/Readiness") {
  static readonly fromChecks = (checks: ReadonlyArray<ReadinessEntry>) => {
    const recordReport = makeReportRecorder()
    return Readiness.of({
      report: Effect.forEach(checks, runEntry, { concurrency: "unbounded" }).pipe(
        Effect.map((groups) => groups.flat()),
        Effect.map((results) => ({ ready: results.every((r) => r.ready), checks: results })),
        Effect.tap(recordReport)
      )
    })
  }

  /**
   * The same readiness, each report reused for `reuseFor`: kubelet's probes, /healthz and the
   * Probes of the livenessprobe sidecar then cost one run of the checks per period, and a Probe in
   * between only reads the last report. Concurrent callers of a stale report share one run.
   */
  static readonly reusingReports = (readiness: Readiness["Service"], reuseFor: Duration.Input) =>
    Effect.map(Effect.cachedWithTTL(readiness.report, reuseFor), (report) => Readiness.of({ report }))

  /** Readiness from the checks `checks` makes, each report reused for a second (`reusingReports`): as `serve` runs. */
  static readonly layerReusingReports = <E, R>(checks: Effect.Effect<ReadonlyArray<ReadinessEntry>, E, R>) =>
    Layer.effect(
      Readiness,
      Effect.flatMap(checks, (entries) => Readiness.reusingReports(Readiness.fromChecks(entries), "1 second"))
    )

  static readonly layerFromChecks = (checks: ReadonlyArray<ReadinessEntry>) =>
    Layer.succeed(Readiness, Readiness.fromChecks(checks))
}
