/**
 * Benchmarks HSM hydration before start (bench/README.md): one NodePublishVolume with
 * `hsm-hydrate: before-start` of a volume of 10,000 released 1 MiB files (blobs linked and imported
 * with the shipped `sim-hsm`), on the `sim` driver, as root; what the hydration asked of the Hsm
 * layer is read from the driver's /metrics. Run by `npm run bench -- --only hydrate`, or alone:
 *
 *   node dist/bench/hydrate.js [--files N]    N files instead of 10,000, for a quick try
 */
import * as grpc from "@grpc/grpc-js"
import { execFile, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { cpus, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type NodeClient, type NodePublishVolumeRequest, VolumeCapability_AccessMode_Mode } from "../src/gen/csi.js"
import { connectNode, millisToFirstProbe, nodeUnpublishVolume } from "./client.js"
import { cpuMicros, type DriverProcess, killAndWait, killNow, rssMb, sleep, unmountUnder } from "./driverProcess.js"
import { type Metric, progress, readBaseline, runWhenEntryPoint, table } from "./report.js"

/** The bundle `sim-hsm` runs from, and the launcher (this file runs from dist/bench/). */
const BUNDLE = fileURLToPath(new URL("../azurelustre-csi.js", import.meta.url))
const LAUNCHER = fileURLToPath(new URL("../../bin/azurelustre-csi.js", import.meta.url))

export const FILES = 10_000
const MIB = 1024 * 1024
/** The files are spread over this many directories (1,000 each), as dataset shards often are. */
const DIRECTORIES = 10
/** Seconds the simulated copytool waits before it copies a blob back. */
const RESTORE_DELAY = "0.05"
const FILESYSTEM = "10.0.0.4/lustrefs"
const CONTAINER = "benchhydrate/data"
const VOLUME_ID = "bench-hydrate#lustrefs#10.0.0.4#data#f#"
const SAMPLE = 100
const RSS_EVERY_MS = 100
/** HsmLive's default `maxPathsPerCommand`: the most paths one lfs command takes. */
const LFS_PATHS_PER_COMMAND = 256
/** Directories the hydration walks with `lfs find`: the volume's root (walks are not in /metrics). */
const WALKS = 1

export const hydrateMetrics = [
  { key: "publishFailed", label: "publish answered an error", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "publishWallS", label: "before-start publish, call to OK", unit: "s" },
  { key: "filesPerS", label: "files restored per second", unit: "files/s", digits: 0 },
  { key: "mibPerS", label: "data restored per second", unit: "MiB/s", digits: 0 },
  { key: "restoreMeanS", label: "restore time per file, mean (ask to data back)", unit: "s", digits: 2 },
  { key: "restoresPerFile", label: "restores asked per file (restores_total started)", unit: "", target: { op: "=", value: 1 }, digits: 3 },
  { key: "restoresFailed", label: "restores failed (restores_total failed)", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "statusCalls", label: "Hsm status calls", unit: "", digits: 0 },
  { key: "statusFiles", label: "files named in status calls", unit: "", digits: 0 },
  { key: "statusFilesPerCall", label: "files per status call, mean", unit: "" },
  { key: "restoreCalls", label: "Hsm restore calls", unit: "", digits: 0 },
  { key: "restoreFiles", label: "files named in restore calls", unit: "", digits: 0 },
  { key: "restoreFilesPerCall", label: "files per restore call, mean", unit: "" },
  { key: "findReleasedBatches", label: "Hsm find_released batches", unit: "", digits: 0 },
  { key: "findReleasedFiles", label: "released files found", unit: "", digits: 0 },
  { key: "findReleasedFilesPerBatch", label: "files per find_released batch, mean", unit: "" },
  { key: "lfsCommandsPerFileMin", label: "lfs commands per file HsmLive would run, at least", unit: "", digits: 3 },
  { key: "lfsCommandsPerFileMax", label: "lfs commands per file HsmLive would run, at most", unit: "", digits: 3 },
  { key: "driverCpuS", label: "driver CPU (user + system) during the publish", unit: "s" },
  { key: "rssMaxMb", label: `node plugin RSS during hydration, max (every ${RSS_EVERY_MS} ms)`, unit: "MB" },
  { key: "rssEndMb", label: "node plugin RSS at the OK", unit: "MB" },
  { key: "filesWithoutData", label: "files without data blocks after the OK", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "sampleNotResident", label: `of a sample of ${SAMPLE}: not resident by \`sim-hsm state\``, unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "sampleMismatches", label: "of the sample: unequal to their blob", unit: "", target: { op: "=", value: 0 }, digits: 0 }
] as const satisfies ReadonlyArray<Metric<string>>

export type HydrateResults = Record<(typeof hydrateMetrics)[number]["key"], number>

/** How long each step around the measured publish took, and the publish's error, if any. */
export type HydrateDetails = Awaited<ReturnType<typeof measureHydrate>>["details"]

const METRICS_URL_IN_BANNER = /curl (http:\/\/127\.0\.0\.1:\d+\/metrics)/

/** `sim` on `dir/state` at log level warn with this benchmark's restore delay (bench/driverProcess.ts's startDriver has the default's). */
const startHydrateDriver = (dir: string): DriverProcess & { readonly metricsUrl: () => string | undefined } => {
  const socketPath = join(dir, "csi.sock")
  const stateDir = join(dir, "state")
  const args = ["sim", "--endpoint", `unix://${socketPath}`, "--state-dir", stateDir, "--log-level", "warn", "--health-port", "0", "--hsm-restore-delay", RESTORE_DELAY]
  const spawnedAt = performance.now()
  const child = spawn(LAUNCHER, args, { stdio: ["ignore", "pipe", "pipe"] })
  let metricsUrl: string | undefined
  let recent = ""
  const keep = (chunk: Buffer) => {
    recent = (recent + chunk.toString("utf8")).slice(-4096)
    metricsUrl ??= METRICS_URL_IN_BANNER.exec(recent)?.[1]
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  if (child.pid === undefined) throw new Error(`could not spawn ${LAUNCHER} ${args.join(" ")}`)
  return {
    pid: child.pid, socketPath, stateDir, spawnedAt,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    recentOutput: () => recent,
    metricsUrl: () => metricsUrl,
    stop: () => killAndWait(child, "SIGTERM")
  }
}

/** Waits until the driver has used less than 20 ms of CPU in half a second (its read gate has guarded the imported stubs). */
const untilIdle = async (driver: DriverProcess): Promise<void> => {
  for (let tries = 0, before = cpuMicros(driver.pid); tries < 240; tries++) {
    await sleep(500)
    if (cpuMicros(driver.pid) - before < 20_000) return
    before = cpuMicros(driver.pid)
  }
  progress("the driver was still busy after 120 s; measuring anyway")
}

const blobNameOf = (index: number, files: number) =>
  `shard-${String(Math.floor(index / Math.ceil(files / DIRECTORIES))).padStart(2, "0")}/file-${String(index).padStart(5, "0")}.bin`

/** 1 MiB blobs, 4 writers: one random MiB, each 4 KiB block stamped with the file's number, so no two files are alike. */
const writeBlobs = async (container: string, files: number) => {
  const template = randomBytes(MIB)
  let next = 0
  const writer = async () => {
    const data = Buffer.from(template)
    while (next < files) {
      const index = next++
      const path = join(container, "data", blobNameOf(index, files))
      mkdirSync(dirname(path), { recursive: true })
      for (let offset = 0; offset < MIB; offset += 4096) data.writeUInt32LE(index, offset)
      await writeFile(path, data)
    }
  }
  await Promise.all(Array.from({ length: 4 }, writer))
}

/** `azurelustre-csi sim-hsm <argv>`, as a user runs it; throws with its output when it fails. */
const simHsm = (argv: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, [BUNDLE, "sim-hsm", ...argv], { maxBuffer: 64 * MIB }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`sim-hsm ${argv[0]} failed: ${error.message}\n${stderr}`))
    )
  )

/** Files whose `sim-hsm state` line is not `exists archived` without `released` or `dirty`. */
const countNotResident = async (stateDir: string, paths: ReadonlyArray<string>) => {
  const lines = (await simHsm(["state", "--state-dir", stateDir, ...paths.flatMap((path) => ["--path", path])])).split("\n")
  const stateOf = new Map(lines.map((line) => [line.slice(0, line.lastIndexOf(": (")), line] as const))
  return paths.filter((path) => !/ exists archived,/.test(stateOf.get(path) ?? "") || / released| dirty/.test(stateOf.get(path) ?? "")).length
}

/** NodePublishVolume hydrating before start, with a 1-hour deadline (client.ts's calls have 10 s): the error's message, if any. */
const publishBeforeStart = (client: NodeClient, targetPath: string): Promise<string | undefined> => {
  const request: NodePublishVolumeRequest = {
    volumeId: VOLUME_ID, publishContext: {}, stagingTargetPath: "", targetPath, readonly: false, secrets: {},
    volumeCapability: {
      accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
      accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
    },
    volumeContext: { "hsm-hydrate": "before-start" }
  }
  return new Promise((resolve) =>
    client.nodePublishVolume(request, new grpc.Metadata(), { deadline: Date.now() + 60 * 60_000 }, (error) => resolve(error?.message))
  )
}

/** The driver's /metrics, as a function summing the samples of `name` whose labels include `labels`. */
const scrape = async (url: string) => {
  const lines = (await (await fetch(url)).text()).split("\n")
  return (name: string, labels = ""): number =>
    lines
      .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)
}

const HSM_SERIES = "azurelustre_csi_hsm_"

/** What the hydration asked of the Hsm layer, and how its restores went, from the increase of the HSM_SERIES. */
const hsmNumbersOf = (increase: (name: string, labels?: string) => number, files: number, publishWallS: number) => {
  const operation = (name: string) => {
    const calls = increase("operations_total", `operation="${name}"`)
    const named = increase("operation_files_total", `operation="${name}"`)
    // One lfs command per 256 files of a call: only the totals are exported, so the sum of ceil(n/256) is bounded, not known.
    const lfs = calls === 0 ? [0, 0] as const : [
      Math.max(calls, Math.ceil(named / LFS_PATHS_PER_COMMAND)),
      calls + Math.floor((named - calls) / LFS_PATHS_PER_COMMAND)
    ] as const
    return { calls, files: named, perCall: named / Math.max(1, calls), lfs }
  }
  const [status, restore, found] = [operation("status"), operation("restore"), operation("find_released")]
  // Each status batch is an `lfs hsm_state` and an `lfs hsm_action`; each restore batch an `lfs hsm_restore`;
  // each batch found one `lfs hsm_state` confirming it; each walk one `lfs find`.
  const lfsCommands = (bound: 0 | 1) => 2 * status.lfs[bound] + restore.lfs[bound] + found.calls + WALKS
  const completed = 'outcome="completed"'
  return {
    filesPerS: increase("restores_total", completed) / publishWallS,
    mibPerS: increase("restored_bytes_total") / MIB / publishWallS,
    restoreMeanS: increase("restore_duration_seconds_sum", completed) / Math.max(1, increase("restore_duration_seconds_count", completed)),
    restoresPerFile: increase("restores_total", 'outcome="started"') / files,
    restoresFailed: increase("restores_total", 'outcome="failed"'),
    statusCalls: status.calls, statusFiles: status.files, statusFilesPerCall: status.perCall,
    restoreCalls: restore.calls, restoreFiles: restore.files, restoreFilesPerCall: restore.perCall,
    findReleasedBatches: found.calls, findReleasedFiles: found.files, findReleasedFilesPerBatch: found.perCall,
    lfsCommandsPerFileMin: lfsCommands(0) / files,
    lfsCommandsPerFileMax: lfsCommands(1) / files
  }
}

const seconds = (since: number) => (performance.now() - since) / 1000

/** Driver, blobs, link and import, the measured publish, the checks, unpublish, driver stopped, all unmounted and removed. */
export const measureHydrate = async (files = FILES) => {
  const steps: Array<readonly [string, number]> = []
  const step = async <A>(name: string, run: () => Promise<A>): Promise<A> => {
    const since = performance.now()
    const result = await run()
    steps.push([name, seconds(since)])
    return result
  }
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-hydrate-"))
  const driver = startHydrateDriver(dir)
  const removeAll = () => {
    unmountUnder(dir)
    rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the driver, unmounting, removing ${dir}`)
    killNow(driver.pid)
    removeAll()
    process.exit(signal === "SIGINT" ? 130 : 143)
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const client = connectNode(driver.socketPath)
  try {
    await millisToFirstProbe(driver)
    const blobOf = (index: number) => join(driver.stateDir, "blob", CONTAINER, "data", blobNameOf(index, files))
    await step("write the blobs and sync", async () => {
      await writeBlobs(join(driver.stateDir, "blob", CONTAINER), files)
      execFileSync("sync")
    })
    progress(`${files} blobs of 1 MiB written in ${steps.at(-1)![1].toFixed(1)} s; link and import`)
    await step("sim-hsm link and import", async () => {
      await simHsm(["link", "--state-dir", driver.stateDir, "--filesystem", FILESYSTEM, "--container", CONTAINER])
      progress((await simHsm(["import", "--state-dir", driver.stateDir, "--filesystem", FILESYSTEM])).trim())
    })
    await step("driver idle again (its read gate guards the stubs)", () => untilIdle(driver))
    const metricsUrl = driver.metricsUrl()
    if (metricsUrl === undefined) throw new Error(`the driver's banner names no /metrics URL; it wrote:\n${driver.recentOutput()}`)

    const target = join(driver.stateDir, "kubelet", "pods", "bench-hydrate-pod", "volumes", "kubernetes.io~csi", "bench-hydrate", "mount")
    const before = await scrape(metricsUrl)
    const cpuBefore = cpuMicros(driver.pid)
    let rssMaxMb = rssMb(driver.pid)
    const sampler = setInterval(() => {
      if (!driver.hasExited()) rssMaxMb = Math.max(rssMaxMb, rssMb(driver.pid)) // else the publish fails and says so
    }, RSS_EVERY_MS)
    progress(`NodePublishVolume with hsm-hydrate: before-start (${files} released files)`)
    const since = performance.now()
    const error = await publishBeforeStart(client, target)
    const publishWallS = seconds(since)
    clearInterval(sampler)
    const rssEndMb = rssMb(driver.pid)
    const driverCpuS = (cpuMicros(driver.pid) - cpuBefore) / 1e6
    const after = await scrape(metricsUrl)
    progress(error === undefined ? `publish answered OK after ${publishWallS.toFixed(1)} s; checking the files` : `the publish failed: ${error}`)

    const fileOf = (index: number) => join(target, blobNameOf(index, files))
    const sample = Array.from({ length: Math.min(SAMPLE, files) }, (_, n) => Math.floor((n * files) / Math.min(SAMPLE, files)))
    const checks = await step("check every file's blocks, then the sample's sim-hsm state and bytes", async () => ({
      // A stub has no data blocks; a restored file has its size's worth.
      filesWithoutData: Array.from({ length: files }, (_, index) => lstatSync(fileOf(index)))
        .filter((stats) => stats.size !== MIB || stats.blocks * 512 < MIB).length,
      sampleNotResident: await countNotResident(driver.stateDir, sample.map(fileOf)),
      sampleMismatches: sample.filter((index) => !readFileSync(fileOf(index)).equals(readFileSync(blobOf(index)))).length
    }))
    await step("NodeUnpublishVolume", () => nodeUnpublishVolume(client, { volumeId: VOLUME_ID, targetPath: target }))
    const results: HydrateResults = {
      publishFailed: error === undefined ? 0 : 1,
      publishWallS,
      ...hsmNumbersOf((name, labels) => after(HSM_SERIES + name, labels) - before(HSM_SERIES + name, labels), files, publishWallS),
      driverCpuS,
      rssMaxMb: Math.max(rssMaxMb, rssEndMb),
      rssEndMb,
      ...checks
    }
    return { results, details: { files, stepsS: steps, firstError: error } }
  } finally {
    client.close()
    await step("stop the driver, unmount, remove the state", async () => {
      await driver.stop()
      removeAll()
    })
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
}

export const hydrateReport = (results: HydrateResults, details: HydrateDetails): string =>
  [
    `Hydrate before start: one NodePublishVolume, ${details.files} released files of 1 MiB, restore delay ${RESTORE_DELAY} s`,
    "",
    table(hydrateMetrics, results, readBaseline("hydrate", hydrateMetrics)),
    "",
    ...details.stepsS.map(([name, s]) => `${name}: ${s.toFixed(1)} s`),
    ...(details.firstError === undefined ? [] : [`publish error: ${details.firstError}`])
  ].join("\n")

/** Whether the benchmark can run here: bind mounts and the blobs' owners need root. */
export const canHydrate = (): boolean => process.getuid?.() === 0

// `node dist/bench/hydrate.js [--files N]`, for a quick try; the baseline is recorded by run.ts (`--only hydrate --update-baseline`).
runWhenEntryPoint(import.meta.url, async () => {
  if (!canHydrate()) throw new Error("the hydrate benchmark makes real bind mounts: run it as root")
  const at = process.argv.indexOf("--files")
  const files = at === -1 ? FILES : Number(process.argv[at + 1])
  if (!Number.isInteger(files) || files < 1) throw new Error(`--files takes a positive whole number; got ${process.argv[at + 1] ?? "nothing"}`)
  progress(`node ${process.version}, ${cpus().length} CPUs; hydrate benchmark`)
  const { results, details } = await measureHydrate(files)
  process.stdout.write(`\n${hydrateReport(results, details)}\n`)
})
