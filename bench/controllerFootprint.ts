/**
 * The controller's memory is bounded by the volumes it tracks, not by the calls it answers:
 * `serve --mode controller` on the ARM emulator (in its own process), 5 clusters created, then
 * 200,000 calls that touch them and the static path (CreateVolume of an existing cluster reads it
 * from ARM each time), RSS sampled every 10,000 calls and its slope over the last 50,000 reported.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as grpc from "@grpc/grpc-js"
import {
  ControllerClient,
  type CreateVolumeRequest,
  IdentityClient,
  VolumeCapability_AccessMode_Mode
} from "../src/gen/csi.js"
import { controllerEnvironment, startController, startEmulator } from "./controllerProcess.js"
import { cpuMicros, killAndWait, rssMb } from "./driverProcess.js"
import { type Metric, progress, readBaseline, runWhenEntryPoint, type SectionResults, table, writeBaseline } from "./report.js"

const IN_FLIGHT = 32
const CALLS = 200_000
const SAMPLE_EVERY = 10_000
const SLOPE_WINDOW = 50_000
const CLUSTERS = 5

const capability = {
  accessType: { $case: "mount" as const, value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
  accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
}

const dynamicVolume = (index: number): CreateVolumeRequest => ({
  name: `pvc-footprint-${index}`,
  volumeCapabilities: [capability],
  parameters: {
    "sku-name": "AMLFS-Durable-Premium-125",
    zone: "1",
    "maintenance-day-of-week": "Sunday",
    "maintenance-time-of-day-utc": "02:00"
  },
  secrets: {},
  mutableParameters: {}
})

const staticVolume = (index: number): CreateVolumeRequest => ({
  ...dynamicVolume(index),
  name: `pvc-static-${index}`,
  parameters: { "mgs-ip-address": "10.0.0.4", "fs-name": "lustrefs" }
})

const promised = <Res>(invoke: (callback: (error: grpc.ServiceError | null, response: Res) => void) => void) =>
  new Promise<Res>((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))

/** Least-squares slope in MB per 10,000 calls. */
const slopePer10k = (samples: ReadonlyArray<readonly [number, number]>) => {
  const meanX = samples.reduce((sum, [x]) => sum + x, 0) / samples.length
  const meanY = samples.reduce((sum, [, y]) => sum + y, 0) / samples.length
  const covariance = samples.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0)
  const variance = samples.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0)
  return (covariance / variance) * 10_000
}

type Key = "idleRssMb" | "rssAfter100kMb" | "rssAfter200kMb" | "rssSlopeMbPer10k" | "cpuPerCallUs"

const metrics: ReadonlyArray<Metric<Key>> = [
  { key: "idleRssMb", label: "controller RSS with 5 clusters, idle", unit: "MB" },
  { key: "rssAfter100kMb", label: "controller RSS after 100k mixed calls", unit: "MB" },
  { key: "rssAfter200kMb", label: "controller RSS after 200k mixed calls", unit: "MB" },
  { key: "rssSlopeMbPer10k", label: "RSS slope, last 50k of 200k", unit: "MB/10k calls", target: { op: "<=", value: 0.1 }, digits: 2 },
  { key: "cpuPerCallUs", label: "controller CPU per mixed call", unit: "us" }
]

export const measureControllerFootprint = async (): Promise<SectionResults<Key>> => {
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-controller-footprint-"))
  const { child: emulator, info } = await startEmulator(dir, 1)
  const controller = startController(dir, controllerEnvironment(dir, info), 1)
  const options = { "grpc.use_local_subchannel_pool": 1 }
  const identity = new IdentityClient(`unix://${controller.socketPath}`, grpc.credentials.createInsecure(), options)
  const client = new ControllerClient(`unix://${controller.socketPath}`, grpc.credentials.createInsecure(), options)
  try {
    progress(`controller footprint: creating ${CLUSTERS} clusters on the emulator`)
    const create = (request: CreateVolumeRequest) => promised((cb) => client.createVolume(request, cb))
    for (;;) {
      const created = await Promise.allSettled(Array.from({ length: CLUSTERS }, (_, i) => create(dynamicVolume(i))))
      if (created.every((outcome) => outcome.status === "fulfilled")) break
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const idleRssMb = rssMb(controller.pid)

    const calls: ReadonlyArray<() => Promise<unknown>> = [
      () => promised((cb) => identity.probe({}, cb)),
      () => promised((cb) => identity.getPluginInfo({}, cb)),
      () => promised((cb) => client.controllerGetCapabilities({}, cb)),
      () => create(staticVolume(0)),
      () => create(dynamicVolume(Math.floor(Math.random() * CLUSTERS)))
    ]
    progress(`controller footprint: ${CALLS} mixed calls`)
    const samples: Array<readonly [number, number]> = []
    const controllerCpuBefore = cpuMicros(controller.pid)
    let started = 0
    let done = 0
    const lane = async () => {
      while (started < CALLS) {
        await calls[started++ % calls.length]!()
        if (++done % SAMPLE_EVERY === 0) samples.push([done, rssMb(controller.pid)])
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
    const at = (count: number) => samples.find(([calls]) => calls === count)?.[1] ?? Number.NaN
    const results: Record<Key, number> = {
      idleRssMb,
      rssAfter100kMb: at(100_000),
      rssAfter200kMb: at(CALLS),
      rssSlopeMbPer10k: slopePer10k(samples.filter(([calls]) => calls >= CALLS - SLOPE_WINDOW)),
      cpuPerCallUs: (cpuMicros(controller.pid) - controllerCpuBefore) / CALLS
    }
    process.stdout.write(`\nController footprint (serve --mode controller on the ARM emulator, ${IN_FLIGHT} in flight)\n\n`)
    process.stdout.write(`${table(metrics, results, readBaseline("controllerFootprint", metrics))}\n`)
    process.stdout.write(`RSS every 10k calls (MB): ${samples.map(([, mb]) => mb.toFixed(0)).join(" ")}\n`)
    return { section: "controllerFootprint", metrics, results }
  } finally {
    identity.close()
    client.close()
    await controller.stop()
    await killAndWait(emulator, "SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
}

runWhenEntryPoint(import.meta.url, async () => {
  const measured = await measureControllerFootprint()
  if (process.argv.includes("--update-baseline")) writeBaseline([measured])
})
