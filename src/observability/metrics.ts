import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"

/**
 * Every metric the driver exports, in one place: the README's metrics table is this file.
 * Names follow Prometheus conventions (`_total` counters, `_seconds` histograms, base units)
 * under one prefix, `azurelustre_csi_`.
 */

const seconds = (...boundaries: Array<number>) => boundaries

const GRPC_REQUESTS = "azurelustre_csi_grpc_requests_total"
const grpcRequestsOptions = { description: "CSI calls answered, by method and gRPC code", incremental: true } as const
const GRPC_REQUEST_DURATION = "azurelustre_csi_grpc_request_duration_seconds"
const grpcRequestDurationOptions = {
  description: "Time to answer a CSI call, by method",
  boundaries: seconds(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300)
}

export const grpcRequests = Metric.counter(GRPC_REQUESTS, grpcRequestsOptions)

export const grpcRequestDuration = Metric.histogram(GRPC_REQUEST_DURATION, grpcRequestDurationOptions)

/**
 * Records one CSI call of `method`. Every RPC passes here, so each series is a metric of its own,
 * made once per method (and code), with its labels as its attributes: Effect then computes the
 * series' key once. Through `Metric.withAttributes` it would merge, sort and serialize the labels
 * again whenever the series updated before was another method's: ~10 % of the memory allocated
 * per call (bench/README.md, footprint).
 */
export const grpcCallRecorder = (method: string) => {
  const duration = Metric.histogram(GRPC_REQUEST_DURATION, { ...grpcRequestDurationOptions, attributes: { method } })
  const byCode = new Map<string, Metric.Metric<number, unknown>>()
  return (code: string, millis: number) => {
    let requests = byCode.get(code)
    if (requests === undefined) byCode.set(code, requests = Metric.counter(GRPC_REQUESTS, { ...grpcRequestsOptions, attributes: { method, code } }))
    return Effect.andThen(Metric.update(requests, 1), Metric.update(duration, millis / 1000))
  }
}

export const armRequests = Metric.counter("azurelustre_csi_arm_requests_total", {
  description: "Azure Resource Manager requests, by operation and status (the HTTP status, no_response or cancelled)",
  incremental: true
})

export const armOperationWait = Metric.histogram("azurelustre_csi_arm_operation_wait_seconds", {
  description: "Time waited on a long-running ARM operation (create, delete, expand), by operation and outcome",
  boundaries: seconds(1, 10, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600)
})

export const expansionJobs = Metric.counter("azurelustre_csi_expansion_jobs_total", {
  description: "AMLFS expansion jobs, by outcome: started, completed, failed (Failed or rolled back)",
  incremental: true
})

export const expansionJobDuration = Metric.histogram("azurelustre_csi_expansion_job_duration_seconds", {
  description: "Time from an expansion job's start to its end as the controller saw it, by outcome",
  boundaries: seconds(10, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200)
})

export const lustreMounts = Metric.gauge("azurelustre_csi_lustre_mounts", {
  description: "Lustre client mounts this node plugin holds (one per filesystem, shared by its volumes)"
})

export const lustreMountDuration = Metric.histogram("azurelustre_csi_lustre_mount_duration_seconds", {
  description: "Time to mount or unmount a Lustre filesystem, by operation and outcome",
  boundaries: seconds(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120)
})

export const readinessCheck = Metric.gauge("azurelustre_csi_readiness_check", {
  description: "The last result of each readiness check: 1 passing, 0 failing"
})

export const ready = Metric.gauge("azurelustre_csi_ready", {
  description: "1 when every readiness check passes, else 0"
})

export const startupTaintRemoved = Metric.gauge("azurelustre_csi_startup_taint_removed", {
  description: "1 once the node plugin has removed its start-up taint from the Node (or found none), else 0"
})

export const hsmRestores = Metric.counter("azurelustre_csi_hsm_restores_total", {
  description: "HSM restores of released files asked for by the node plugin's hydrations, by outcome: started, completed, failed",
  incremental: true
})

export const hsmRestoreDuration = Metric.histogram("azurelustre_csi_hsm_restore_duration_seconds", {
  description: "Time from asking for a file's restore to its data being back (or the restore given up), by outcome",
  boundaries: seconds(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600)
})

export const hsmRestoredBytes = Metric.counter("azurelustre_csi_hsm_restored_bytes_total", {
  description: "Bytes of released files the node plugin's hydrations brought back",
  incremental: true
})

export const hsmOperations = Metric.counter("azurelustre_csi_hsm_operations_total", {
  description: "Calls of the node's HSM layer by hydrations, by operation (status, restore, find_released); live, each is one lfs command per 256 files (status: two, hsm_state and hsm_action)",
  incremental: true
})

export const hsmOperationFiles = Metric.counter("azurelustre_csi_hsm_operation_files_total", {
  description: "Files named in the HSM layer's calls by hydrations (released files found, for find_released), by operation",
  incremental: true
})

export const hsmReleasedFiles = Metric.gauge("azurelustre_csi_hsm_released_files", {
  description: "Released files a hydration has found and not yet seen restored, by volume (sampled as hydrations run)"
})

export const hsmJobs = Metric.counter("azurelustre_csi_hsm_jobs_total", {
  description: "AMLFS blob-integration jobs the controller started or saw end, by kind (import, archive, auto_import, auto_export) and outcome (started, completed, partial, failed)",
  incremental: true
})

export const hsmJobDuration = Metric.histogram("azurelustre_csi_hsm_job_duration_seconds", {
  description: "From an import's or archive's start to its end, as ARM reports them, by kind and outcome",
  boundaries: seconds(10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)
})

export const hsmImportedFiles = Metric.counter("azurelustre_csi_hsm_imported_files_total", {
  description: "Files the imports the controller waited for brought into AMLFS (released stubs of blobs)",
  incremental: true
})

export const lustreClientPackageOperations = Metric.counter("azurelustre_csi_lustre_client_package_operations_total", {
  description: "Package-manager commands the node setup ran on the host to install the Lustre client, by operation (update, install, remove, configure) and outcome (ok, error)",
  incremental: true
})

export const lustreClientSetupDuration = Metric.histogram("azurelustre_csi_lustre_client_setup_duration_seconds", {
  description: "Time one round of the node setup took (install when needed, LNet, modules), by outcome",
  boundaries: seconds(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800)
})

// One labelled metric object per label set: Effect caches a metric's registry key on the object,
// so reusing it spares a JSON.stringify of the labels on every update (measurable per RPC).
const labelled = new WeakMap<Metric.Metric<number, unknown>, Map<string, Metric.Metric<number, unknown>>>()

const withLabels = (metric: Metric.Metric<number, unknown>, labels: Readonly<Record<string, string>>) => {
  let byLabels = labelled.get(metric)
  if (byLabels === undefined) labelled.set(metric, byLabels = new Map())
  const key = Object.entries(labels).map(([name, value]) => `${name}=${value}`).join("\u0000")
  let found = byLabels.get(key)
  if (found === undefined) byLabels.set(key, found = Metric.withAttributes(metric, labels))
  return found
}

/** Adds 1 to a counter with these labels. */
export const count = (counter: Metric.Metric<number, unknown>, labels: Readonly<Record<string, string>>) =>
  Metric.update(withLabels(counter, labels), 1)

/** Counts one ended ARM request (AmlfsApiLive's `onRequest`) by operation and status. */
export const countArmRequest = (request: { readonly operation: string; readonly status: string }) =>
  count(armRequests, { operation: request.operation, status: request.status })

/** Records a duration, in seconds, given in milliseconds. */
export const observeMillis = (
  histogram: Metric.Metric<number, unknown>,
  labels: Readonly<Record<string, string>>,
  millis: number
) => Metric.update(withLabels(histogram, labels), millis / 1000)

/** Counts an AMLFS blob-integration job's outcome, and its duration when ARM reported both ends. */
export const countHsmJob = (
  kind: "import" | "archive" | "auto_import" | "auto_export",
  outcome: "started" | "completed" | "partial" | "failed",
  span?: { readonly startedAt: Date | undefined; readonly endedAt: Date | undefined }
) =>
  Effect.andThen(
    count(hsmJobs, { kind, outcome }),
    span?.startedAt !== undefined && span.endedAt !== undefined && outcome !== "started"
      ? observeMillis(hsmJobDuration, { kind, outcome }, span.endedAt.getTime() - span.startedAt.getTime())
      : Effect.void
  )

/** Counts one call of the HSM layer and the files it named. */
export const countHsmOperation = (operation: "status" | "restore" | "find_released", files: number) =>
  Effect.andThen(count(hsmOperations, { operation }), Metric.update(withLabels(hsmOperationFiles, { operation }), files))

/** Sets a gauge with these labels. */
export const setGauge = (gauge: Metric.Metric<number, unknown>, labels: Readonly<Record<string, string>>, value: number) =>
  Metric.update(withLabels(gauge, labels), value)

/** What a driver process serves, which decides the metrics it exports. */
export interface ServedMetrics {
  /** The CSI methods it serves (the Identity methods and its mode's). */
  readonly methods: ReadonlyArray<string>
  readonly controller: boolean
  readonly node: boolean
}

/**
 * Registers every metric of the process's mode at its zero, with the label values known up front,
 * so that each is scraped from the start: a series that first appears at 1 hides that first
 * increase from rate() and increase(), and an alert on absent() cannot tell "none yet" from "not
 * exported". `Metric.value` registers a series without changing it. The readiness gauges are set
 * by the first readiness report; ARM's request statuses and the volumes with released files are
 * open sets, so those start as one unlabelled series at 0.
 */
export const registerAtZero = (served: ServedMetrics): Effect.Effect<void> => {
  const outcomes = ["ok", "error", "interrupted"]
  const series: Array<Metric.Metric<number, unknown>> = [ready]
  for (const method of served.methods) {
    series.push(withLabels(grpcRequests, { method, code: "OK" }), withLabels(grpcRequestDuration, { method }))
  }
  if (served.controller) {
    series.push(armRequests)
    for (const operation of ["create", "delete", "expand"]) {
      for (const outcome of outcomes) series.push(withLabels(armOperationWait, { operation, outcome }))
    }
    for (const outcome of ["started", "completed", "failed"]) series.push(withLabels(expansionJobs, { outcome }))
    for (const outcome of ["completed", "failed"]) series.push(withLabels(expansionJobDuration, { outcome }))
    series.push(hsmImportedFiles)
    for (const kind of ["import", "archive", "auto_import", "auto_export"]) {
      for (const outcome of ["started", "completed", "partial", "failed"]) series.push(withLabels(hsmJobs, { kind, outcome }))
    }
    for (const kind of ["import", "archive"]) {
      for (const outcome of ["completed", "partial", "failed"]) series.push(withLabels(hsmJobDuration, { kind, outcome }))
    }
  }
  if (served.node) {
    series.push(lustreMounts, startupTaintRemoved, hsmRestoredBytes, hsmReleasedFiles)
    for (const outcome of ["started", "completed", "failed"]) series.push(withLabels(hsmRestores, { outcome }))
    for (const outcome of ["completed", "failed"]) series.push(withLabels(hsmRestoreDuration, { outcome }))
    for (const operation of ["status", "restore", "find_released"]) {
      series.push(withLabels(hsmOperations, { operation }), withLabels(hsmOperationFiles, { operation }))
    }
    for (const operation of ["mount", "unmount"]) {
      for (const outcome of outcomes) series.push(withLabels(lustreMountDuration, { operation, outcome }))
    }
    for (const operation of ["update", "install", "remove", "configure"]) {
      for (const outcome of ["ok", "error"]) series.push(withLabels(lustreClientPackageOperations, { operation, outcome }))
    }
    for (const outcome of outcomes) series.push(withLabels(lustreClientSetupDuration, { outcome }))
  }
  return Effect.forEach(series, Metric.value, { discard: true })
}

/**
 * Runs `effect` and records how long it took (by the Clock, so TestClock drives it too) in
 * `histogram`, labelled with `labels` and an `outcome`: `ok`, `error` or `interrupted`.
 */
export const timed = <A, E, R>(
  histogram: Metric.Metric<number, unknown>,
  labels: Readonly<Record<string, string>>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (started) =>
    effect.pipe(
      Effect.onExit((exit) =>
        Effect.flatMap(Clock.currentTimeMillis, (ended) =>
          observeMillis(histogram, {
            ...labels,
            outcome: Exit.isSuccess(exit) ? "ok" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "error"
          }, ended - started))
      )
    ))
