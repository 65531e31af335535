import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { Mode } from "../../src/config/DriverConfig.js"
import { servedMetrics } from "../../src/health/HealthServer.js"
import { registerAtZero } from "../../src/observability/metrics.js"
import { type DriverProcess, healthUrlOf, startSimulation } from "../support/driverProcess.js"
import { parsePrometheus } from "../support/prometheus.js"

// Every metric the README's table lists is scraped from the start, at zero: a series that first
// appears at 1 hides that increase from rate(), and absent() cannot tell "none yet" from "missing".

const readme = Fs.readFileSync(Path.resolve(import.meta.dirname, "../../README.md"), "utf8")
/** The README's metrics table: name and type, in its order. */
const documented = [...readme.matchAll(/^\| `(azurelustre_csi_\w+)` \| (counter|gauge|histogram) \|/gm)].map((m) => ({
  name: m[1]!,
  type: m[2]!
}))
/** What a family's samples are called: a histogram's by its _count. */
const sampleName = ({ name, type }: { readonly name: string; readonly type: string }) => type === "histogram" ? `${name}_count` : name

const scrapeAtZero = (mode: Mode) =>
  Effect.runPromise(
    Effect.gen(function*() {
      yield* registerAtZero(servedMetrics(mode))
      return yield* PrometheusMetrics.format()
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

const COUNTED_AT_START = new Set([
  "azurelustre_csi_lustre_client_package_operations_total",
  "azurelustre_csi_lustre_client_setup_duration_seconds"
])

let running: DriverProcess | undefined
afterEach(() => running?.child.kill("SIGKILL"))

describe("metrics at start", () => {
  it("the README lists twenty-two metrics", () => {
    expect(documented.map((m) => m.name)).toHaveLength(22)
  })

  it("the simulation (all modes) exports every metric of the README's table before any call, at zero", async () => {
    running = await startSimulation()
    const samples = parsePrometheus(await (await fetch(`${await healthUrlOf(running)}/metrics`)).text())
    for (const metric of documented) {
      const found = samples.filter((sample) => sample.name === sampleName(metric))
      expect(found.length, metric.name).toBeGreaterThan(0)
      // Gauges say what is (ready 1, a check passing); counters and histograms have counted nothing yet,
      // but the node setup's, which ran at start (the simulated node's first install).
      if (metric.type !== "gauge" && !COUNTED_AT_START.has(metric.name)) {
        expect(found.every((sample) => sample.value === 0), metric.name).toBe(true)
      }
    }
    // Each check's gauge comes from the first readiness report, made at start.
    expect(samples.filter((s) => s.name === "azurelustre_csi_readiness_check").map((s) => s.labels["check"])).toContain("lnet-nid")
    expect(samples.filter((s) => s.name === "azurelustre_csi_grpc_requests_total").map((s) => s.labels["method"])).toContain(
      "NodePublishVolume"
    )
  })

  it("a node plugin exports the node's metrics and methods, a controller the controller's", async () => {
    const names = (text: string) => new Set(parsePrometheus(text).map((s) => s.name))
    const methods = (text: string) =>
      new Set(parsePrometheus(text).filter((s) => s.name === "azurelustre_csi_grpc_requests_total").map((s) => s.labels["method"]))

    const node = await scrapeAtZero("node")
    expect(names(node)).toContain("azurelustre_csi_lustre_mounts")
    expect(names(node)).toContain("azurelustre_csi_startup_taint_removed")
    expect(names(node)).not.toContain("azurelustre_csi_arm_requests_total")
    expect(methods(node)).toEqual(new Set([
      "GetPluginInfo", "GetPluginCapabilities", "Probe",
      "NodeStageVolume", "NodeUnstageVolume", "NodePublishVolume", "NodeUnpublishVolume", "NodeGetVolumeStats",
      "NodeExpandVolume", "NodeGetCapabilities", "NodeGetInfo"
    ]))

    const controller = await scrapeAtZero("controller")
    expect(names(controller)).toContain("azurelustre_csi_arm_requests_total")
    expect(names(controller)).toContain("azurelustre_csi_expansion_jobs_total")
    expect(names(controller)).not.toContain("azurelustre_csi_lustre_mounts")
    expect(methods(controller)).toContain("CreateVolume")
    expect(methods(controller)).not.toContain("NodePublishVolume")
  })
})
