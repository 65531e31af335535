import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
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

/**
 * How often `serve` runs its readiness checks: as often as kubelet's readiness probe asks
 * (periodSeconds 10 in deploy/), so a Probe's answer is at most one probe period old.
 */
export const READINESS_REFRESH = Duration.seconds(10)

/** What a report says when running the checks died: not ready, and where to look. */
const brokenReport: ReadinessReport = {
  ready: false,
  checks: [{ name: "readiness", ready: false, reason: "a readiness check failed unexpectedly; the driver's log has the error" }]
}

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
   * The same readiness, its checks run by their own schedule: at once, then `every` after each
   * run ends, and at each element of `refreshOn` (each step of the node setup). The CSI Probe,
   * /healthz and the start-up taint read the last report and run no check: a Probe then costs
   * what any status read costs, whoever calls it and however often. Until the first report they
   * wait for it. A check that dies makes a report that says so, and the schedule goes on.
   */
  static readonly refreshed = <R = never>(
    readiness: Readiness["Service"],
    every: Duration.Input,
    refreshOn: Stream.Stream<unknown, never, R> = Stream.empty
  ) =>
    Effect.gen(function*() {
      const first = yield* Deferred.make<ReadinessReport>()
      let latest: ReadinessReport | undefined
      const refresh = readiness.report.pipe(
        Effect.catchCause((cause) => Effect.as(Effect.logError("a readiness check failed unexpectedly", cause), brokenReport)),
        Effect.flatMap((report) => {
          latest = report
          return Deferred.succeed(first, report)
        })
      )
      yield* Effect.forkScoped(Effect.repeat(refresh, Schedule.spaced(every)))
      yield* Effect.forkScoped(Stream.runForEach(refreshOn, () => refresh))
      return Readiness.of({ report: Effect.suspend(() => latest === undefined ? Deferred.await(first) : Effect.succeed(latest)) })
    })

  /** Readiness from the checks `checks` makes, refreshed every `every` and on `refreshOn` (`refreshed`): as `serve` runs. */
  static readonly layerRefreshed = <E, R, R2 = never>(
    checks: Effect.Effect<ReadonlyArray<ReadinessEntry>, E, R>,
    options: { readonly every: Duration.Input; readonly refreshOn?: Stream.Stream<unknown, never, R2> }
  ) =>
    Layer.effect(
      Readiness,
      Effect.flatMap(checks, (entries) => Readiness.refreshed(Readiness.fromChecks(entries), options.every, options.refreshOn))
    )

  static readonly layerFromChecks = (checks: ReadonlyArray<ReadinessEntry>) =>
    Layer.succeed(Readiness, Readiness.fromChecks(checks))
}
