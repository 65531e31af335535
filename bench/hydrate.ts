/**
 * Benchmarks HSM hydration before start: one NodePublishVolume with `hsm-hydrate: before-start`
 * of a volume holding 10,000 released 1 MiB files, on the `sim` driver (real bind mounts, so it
 * needs root), answered only once every file's data is back from the simulated blob container.
 *
 * The blobs are written into the driver's state directory, linked and imported with the shipped
 * `sim-hsm link` and `sim-hsm import`, so the filesystem holds released stubs; the simulated
 * copytool waits `--hsm-restore-delay` (0.05 s) before it copies a blob back.
 *
 * What the node plugin asks of the Hsm layer is counted from outside the driver, with no code in
 * src/ or layers/: the driver runs with Node's inspector, and conditional breakpoints that never
 * pause (logpoints) at the simulation's `status`, `restore` and `findReleased` record each call's
 * number of paths (probeHsmCalls below). `npm run bench -- --only hydrate` runs it (bench/run.ts).
 * On its own:
 *
 *   node dist/bench/hydrate.js [--files N] [--no-hsm-probe] [--update-baseline]
 *
 * `--files` changes the number of files (10,000), for a quick try; `--no-hsm-probe` runs the
 * driver without the inspector (the Hsm call rows then read 0), to see what the probe costs.
 * Whatever is left mounted under the benchmark's folder is unmounted (`umount -l`) before it is
 * removed, also on SIGINT/SIGTERM.
 */
import * as grpc from "@grpc/grpc-js"
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type NodeClient, type NodePublishVolumeRequest, VolumeCapability_AccessMode_Mode } from "../src/gen/csi.js"
import { connectNode, millisToFirstProbe, nodeUnpublishVolume } from "./client.js"
import { cpuMicros, type DriverProcess, killAndWait, killNow, rssMb, sleep, unmountUnder } from "./driverProcess.js"
import { BASELINE_PATH, type Metric, progress, runWhenEntryPoint, table } from "./report.js"

/** The bundle the launcher loads, and `sim-hsm` runs from (this file runs from dist/bench/). */
const BUNDLE = fileURLToPath(new URL("../azurelustre-csi.js", import.meta.url))
const LAUNCHER = fileURLToPath(new URL("../../bin/azurelustre-csi.js", import.meta.url))

export const FILES = 10_000
const FILE_BYTES = 1024 * 1024
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
const PROGRESS_EVERY_MS = 5_000
const PUBLISH_DEADLINE_MS = 60 * 60_000
/** HsmLive's default `maxPathsPerCommand`: what one lfs command takes. */
const LFS_PATHS_PER_COMMAND = 256
const BLOB_WRITERS = 4

export const hydrateMetrics = [
  { key: "publishFailed", label: "publish answered an error", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "publishWallS", label: "before-start publish, call to OK", unit: "s" },
  { key: "filesPerS", label: "files restored per second", unit: "files/s", digits: 0 },
  { key: "mibPerS", label: "data restored per second", unit: "MiB/s", digits: 0 },
  { key: "restoreMeanS", label: "restore time per file, mean (ask to data back)", unit: "s", digits: 2 },
  { key: "restoresPerFile", label: "restores asked per file (restores_total started)", unit: "", target: { op: "=", value: 1 }, digits: 3 },
  { key: "restoresFailed", label: "restores failed (restores_total failed)", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "statusCalls", label: "Hsm.status calls", unit: "", digits: 0 },
  { key: "statusPathsMean", label: "paths per Hsm.status call, mean", unit: "" },
  { key: "statusPathsMax", label: "paths per Hsm.status call, max", unit: "", digits: 0 },
  { key: "restoreCalls", label: "Hsm.restore calls", unit: "", digits: 0 },
  { key: "restorePathsMean", label: "paths per Hsm.restore call, mean", unit: "" },
  { key: "restorePathsMax", label: "paths per Hsm.restore call, max", unit: "", digits: 0 },
  { key: "findReleasedCalls", label: "Hsm.findReleased calls", unit: "", digits: 0 },
  { key: "findReleasedBatches", label: "Hsm.findReleased batches", unit: "", digits: 0 },
  { key: "lfsCommandsPerFile", label: "lfs commands per file HsmLive would run", unit: "", digits: 3 },
  { key: "driverCpuS", label: "driver CPU (user + system) during the publish", unit: "s" },
  { key: "rssMaxMb", label: `node plugin RSS during hydration, max (every ${RSS_EVERY_MS} ms)`, unit: "MB" },
  { key: "rssEndMb", label: "node plugin RSS at the OK", unit: "MB" },
  { key: "filesWithoutData", label: "files without data blocks after the OK", unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "sampleNotResident", label: `of a sample of ${SAMPLE}: not resident by \`sim-hsm state\``, unit: "", target: { op: "=", value: 0 }, digits: 0 },
  { key: "sampleMismatches", label: "of the sample: unequal to their blob", unit: "", target: { op: "=", value: 0 }, digits: 0 }
] as const satisfies ReadonlyArray<Metric<string>>

export type HydrateKey = (typeof hydrateMetrics)[number]["key"]
export type HydrateResults = Record<HydrateKey, number>

/** How long each step around the measured publish took, and what else is worth printing. */
export interface HydrateDetails {
  readonly files: number
  readonly probed: boolean
  readonly stepsS: ReadonlyArray<readonly [string, number]>
  readonly firstError: string | undefined
}

// ---------------------------------------------------------------------------------------------
// The driver, with its inspector when the Hsm calls are counted.

interface HydrateDriver extends DriverProcess {
  readonly healthPort: number
  /** The inspector's WebSocket URL, once the driver has printed it. */
  readonly inspectorUrl: () => string | undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/

/** `sim` on `dir/state` at log level warn, with the restore delay of this benchmark. */
const startHydrateDriver = async (dir: string, probed: boolean): Promise<HydrateDriver> => {
  const socketPath = join(dir, "csi.sock")
  const stateDir = join(dir, "state")
  const healthPort = await freePort()
  const args = [
    "sim", "--endpoint", `unix://${socketPath}`, "--state-dir", stateDir, "--log-level", "warn",
    "--health-port", String(healthPort), "--hsm-restore-delay", RESTORE_DELAY
  ]
  // The launcher execs Node with its own flags; NODE_OPTIONS adds the inspector (loopback, any port).
  const env = probed ? { ...process.env, NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --inspect=127.0.0.1:0`.trim() } : process.env
  const spawnedAt = performance.now()
  const child: ChildProcess = spawn(LAUNCHER, args, { stdio: ["ignore", "pipe", "pipe"], env })
  let first = ""
  let recent = ""
  const keep = (chunk: Buffer) => {
    const text = chunk.toString("utf8")
    if (first.length < 4096) first += text
    recent = (recent + text).slice(-4096)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not spawn ${LAUNCHER} ${args.join(" ")}`)
  return {
    pid,
    socketPath,
    stateDir,
    spawnedAt,
    healthPort,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    recentOutput: () => recent,
    inspectorUrl: () => INSPECTOR_LINE.exec(first)?.[1],
    stop: () => killAndWait(child, "SIGTERM")
  }
}

/** Waits until the driver has used less than 20 ms of CPU in half a second (its read gate has guarded the imported stubs). */
const untilIdle = async (driver: DriverProcess, giveUpAfterMs = 120_000): Promise<void> => {
  const started = performance.now()
  let before = cpuMicros(driver.pid)
  while (performance.now() - started < giveUpAfterMs) {
    await sleep(500)
    const now = cpuMicros(driver.pid)
    if (now - before < 20_000) return
    before = now
  }
  progress(`the driver was still busy after ${giveUpAfterMs / 1000} s; measuring anyway`)
}

// ---------------------------------------------------------------------------------------------
// The Hsm call probe: logpoints through the inspector (Chrome DevTools Protocol over WebSocket).

interface Inspector {
  readonly send: (method: string, params?: Record<string, unknown>) => Promise<unknown>
  readonly close: () => void
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined

const openInspector = async (url: string): Promise<Inspector> => {
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve()
    socket.onerror = () => reject(new Error(`cannot connect to the driver's inspector at ${url}`))
  })
  let nextId = 1
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>()
  socket.onmessage = (event) => {
    const message: unknown = JSON.parse(String(event.data))
    const waiting = pending.get(Number(field(message, "id")))
    if (waiting === undefined) return // an event (scriptParsed, ...): not asked for
    pending.delete(Number(field(message, "id")))
    const error = field(message, "error")
    if (error === undefined) waiting.resolve(field(message, "result"))
    else waiting.reject(new Error(`inspector: ${JSON.stringify(error)}`))
  }
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, { resolve, reject })
        socket.send(JSON.stringify({ id, method, params }))
      }),
    close: () => socket.close()
  }
}

/**
 * Where the logpoints go in the bundle: the body of each function (found by its text: a name
 * rolldown gave an import may change, so those are `[\w$]+`), and what each records per call.
 */
const PROBES = [
  // HsmSimulation.status: one call per batch of the node plugin's per-file status requests.
  { name: "status", at: /const status = \(paths\) => (?=[\w$]+\(paths, \(path\) => model\.stateOf\(path\))/, records: "paths.length" },
  // HsmSimulation.restore.
  { name: "restore", at: /restore: \(paths\) => (?=failuresOf\(paths, model\.startRestore\))/, records: "paths.length" },
  // HsmSimulation.findReleased: one call per hydrated directory.
  { name: "findReleased", at: /const findReleased = \(directory\) => (?=model\.findReleased\(directory\))/, records: "1" },
  // hydrateDirectories: each batch of released files the stream gives.
  { name: "findReleasedBatch", at: /hsm\.findReleased\(directory\.path\)\.pipe\([\w$]+\(\(batch\) => (?=[\w$]+\(batch\))/, records: "batch.length" }
] as const

type ProbeName = (typeof PROBES)[number]["name"]
type HsmCalls = Record<ProbeName, ReadonlyArray<number>>

const RECORD = "__hydrateBenchHsmCalls"

/** The 0-based line and column of the one place `pattern` ends in `text`; throws when it is not there exactly once. */
const locationIn = (text: string, name: string, pattern: RegExp): { lineNumber: number; columnNumber: number } => {
  const matches = [...text.matchAll(new RegExp(pattern.source, "g"))]
  if (matches.length !== 1) {
    throw new Error(`the Hsm call probe "${name}" matches ${matches.length} places in ${BUNDLE}, not 1: update PROBES in bench/hydrate.ts`)
  }
  const at = matches[0]!.index + matches[0]![0].length
  const lineStart = text.lastIndexOf("\n", at - 1) + 1
  return { lineNumber: text.slice(0, lineStart).split("\n").length - 1, columnNumber: at - lineStart }
}

/** Sets the logpoints; `calls` reads what they recorded (each call's size, in call order). */
const probeHsmCalls = async (url: string): Promise<{ calls: () => Promise<HsmCalls>; close: () => void }> => {
  const inspector = await openInspector(url)
  await inspector.send("Debugger.enable")
  const bundle = readFileSync(BUNDLE, "utf8")
  for (const probe of PROBES) {
    const location = locationIn(bundle, probe.name, probe.at)
    // A condition that records and answers false: V8 evaluates it at each call and never pauses.
    const condition = `((globalThis.${RECORD} ??= {})[${JSON.stringify(probe.name)}] ??= []).push(${probe.records}), false`
    const set = await inspector.send("Debugger.setBreakpointByUrl", { urlRegex: "/dist/azurelustre-csi\\.js$", ...location, condition })
    const resolved = field(field(set, "locations"), "0")
    if (field(resolved, "lineNumber") !== location.lineNumber) {
      throw new Error(`the Hsm call probe "${probe.name}" did not resolve at line ${location.lineNumber + 1} of ${BUNDLE}: ${JSON.stringify(set)}`)
    }
  }
  return {
    calls: async () => {
      const answer = await inspector.send("Runtime.evaluate", { expression: `JSON.stringify(globalThis.${RECORD} ?? {})`, returnByValue: true })
      const recorded: unknown = JSON.parse(String(field(field(answer, "result"), "value")))
      const sizes = (name: ProbeName): ReadonlyArray<number> => {
        const value = field(recorded, name)
        return Array.isArray(value) ? value.map(Number) : []
      }
      return { status: sizes("status"), restore: sizes("restore"), findReleased: sizes("findReleased"), findReleasedBatch: sizes("findReleasedBatch") }
    },
    close: () => {
      inspector.send("Debugger.disable").catch(() => undefined).finally(inspector.close)
    }
  }
}

const noHsmCalls: HsmCalls = { status: [], restore: [], findReleased: [], findReleasedBatch: [] }

const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)
const mean = (values: ReadonlyArray<number>) => (values.length === 0 ? 0 : sum(values) / values.length)
const max = (values: ReadonlyArray<number>) => values.reduce((most, value) => Math.max(most, value), 0)
const lfsCommands = (sizes: ReadonlyArray<number>) => sum(sizes.map((size) => Math.ceil(size / LFS_PATHS_PER_COMMAND)))

/**
 * What HsmLive would run for these calls: each status batch of up to 256 paths is an
 * `lfs hsm_state` and an `lfs hsm_action`; each restore batch one `lfs hsm_restore`; each
 * findReleased one `lfs find` plus one `lfs hsm_state` per batch of candidates it confirms (the
 * simulation's batches, at most 256 per directory, standing for HsmLive's groups of at most 256).
 */
const lfsCommandsOf = (calls: HsmCalls) =>
  2 * lfsCommands(calls.status) + lfsCommands(calls.restore) + calls.findReleased.length + lfsCommands(calls.findReleasedBatch)

// ---------------------------------------------------------------------------------------------
// The released files: blobs, link, import; afterwards, their check.

const blobNameOf = (index: number, files: number) => {
  const perDirectory = Math.ceil(files / DIRECTORIES)
  return `shard-${String(Math.floor(index / perDirectory)).padStart(2, "0")}/file-${String(index).padStart(5, "0")}.bin`
}

/** 1 MiB blobs: one random MiB, each 4 KiB block stamped with the file's number, so no two files are alike. */
const writeBlobs = async (container: string, files: number) => {
  const template = randomBytes(FILE_BYTES)
  for (let directory = 0; directory < DIRECTORIES; directory++) {
    mkdirSync(join(container, "data", `shard-${String(directory).padStart(2, "0")}`), { recursive: true })
  }
  let next = 0
  const writer = async () => {
    const data = Buffer.from(template)
    while (next < files) {
      const index = next++
      for (let offset = 0; offset < FILE_BYTES; offset += 4096) data.writeUInt32LE(index, offset)
      await writeFile(join(container, "data", blobNameOf(index, files)), data)
    }
  }
  await Promise.all(Array.from({ length: BLOB_WRITERS }, writer))
}

/** `azurelustre-csi sim-hsm <argv>`, as a user runs it; throws with its output when it fails. */
const simHsm = (argv: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, [BUNDLE, "sim-hsm", ...argv], { maxBuffer: 64 * MIB }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`sim-hsm ${argv[0]} failed: ${error.message}\n${stderr}`))
    )
  )

/** Stubs have no data blocks; a restored file has its size's worth. */
const countWithoutData = (paths: ReadonlyArray<string>) =>
  paths.filter((path) => {
    const stats = lstatSync(path)
    return stats.size !== FILE_BYTES || stats.blocks * 512 < FILE_BYTES
  }).length

/** Files whose `sim-hsm state` line is not `exists archived` without `released` or `dirty`. */
const countNotResident = async (stateDir: string, paths: ReadonlyArray<string>) => {
  const lines = (await simHsm(["state", "--state-dir", stateDir, ...paths.flatMap((path) => ["--path", path])])).split("\n")
  const stateOf = new Map(lines.map((line) => [line.slice(0, line.lastIndexOf(": (")), line] as const))
  return paths.filter((path) => {
    const line = stateOf.get(path) ?? ""
    return !/ exists archived,/.test(line) || / released| dirty/.test(line)
  }).length
}

/** SAMPLE file numbers spread evenly over all of them. */
const sampleOf = (files: number): ReadonlyArray<number> => {
  const size = Math.min(SAMPLE, files)
  return Array.from({ length: size }, (_, n) => Math.floor((n * files) / size))
}

// ---------------------------------------------------------------------------------------------
// The measured publish.

const publishRequest = (targetPath: string): NodePublishVolumeRequest => ({
  volumeId: VOLUME_ID,
  publishContext: {},
  stagingTargetPath: "",
  targetPath,
  volumeCapability: {
    accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
    accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
  },
  readonly: false,
  secrets: {},
  volumeContext: { "hsm-hydrate": "before-start" }
})

/** NodePublishVolume with the long deadline of a before-start hydration: resolves to the error's message, if any. */
const publishWithLongDeadline = (client: NodeClient, request: NodePublishVolumeRequest): Promise<string | undefined> =>
  new Promise((resolve) =>
    client.nodePublishVolume(request, new grpc.Metadata(), { deadline: Date.now() + PUBLISH_DEADLINE_MS }, (error) =>
      resolve(error === null ? undefined : error.message)
    )
  )

/** The sum of the samples of `name` whose labels include `labels`, in a Prometheus text exposition. */
const metricSum = (text: string, name: string, labels: string = ""): number =>
  text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => labels === "" || line.includes(labels))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)

const scrape = async (port: number) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return {
    started: metricSum(text, "azurelustre_csi_hsm_restores_total", 'outcome="started"'),
    completed: metricSum(text, "azurelustre_csi_hsm_restores_total", 'outcome="completed"'),
    failed: metricSum(text, "azurelustre_csi_hsm_restores_total", 'outcome="failed"'),
    bytes: metricSum(text, "azurelustre_csi_hsm_restored_bytes_total"),
    durationSum: metricSum(text, "azurelustre_csi_hsm_restore_duration_seconds_sum", 'outcome="completed"'),
    durationCount: metricSum(text, "azurelustre_csi_hsm_restore_duration_seconds_count", 'outcome="completed"')
  }
}

/** Samples `pid`'s RSS every RSS_EVERY_MS until stopped; answers the largest. */
const sampleRss = (pid: number) => {
  let largest = rssMb(pid)
  const timer = setInterval(() => {
    try {
      largest = Math.max(largest, rssMb(pid))
    } catch {
      // the process is gone: the benchmark reports it
    }
  }, RSS_EVERY_MS)
  return {
    stop: () => {
      clearInterval(timer)
      return largest
    }
  }
}

const seconds = (since: number) => (performance.now() - since) / 1000

/**
 * The whole benchmark: driver, blobs, link and import, the measured publish, the checks,
 * unpublish, driver stopped, everything unmounted and removed.
 */
export const measureHydrate = async (
  options: { readonly files?: number; readonly probed?: boolean } = {}
): Promise<{ results: HydrateResults; details: HydrateDetails }> => {
  const files = options.files ?? FILES
  const probed = options.probed ?? true
  const steps: Array<readonly [string, number]> = []
  const dir = mkdtempSync(join(tmpdir(), "csi-bench-hydrate-"))
  const driver = await startHydrateDriver(dir, probed)
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the driver, unmounting, removing ${dir}`)
    killNow(driver.pid)
    unmountUnder(dir)
    rmSync(dir, { recursive: true, force: true })
    process.exit(signal === "SIGINT" ? 130 : 143)
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const client = connectNode(driver.socketPath)
  let probe: Awaited<ReturnType<typeof probeHsmCalls>> | undefined
  try {
    await millisToFirstProbe(driver)
    const container = join(driver.stateDir, "blob", ...CONTAINER.split("/"))
    const blobOf = (index: number) => join(container, "data", blobNameOf(index, files))

    let since = performance.now()
    await writeBlobs(container, files)
    execFileSync("sync")
    steps.push(["write the blobs and sync", seconds(since)])
    progress(`${files} blobs of 1 MiB written in ${steps.at(-1)![1].toFixed(1)} s; link and import`)

    since = performance.now()
    await simHsm(["link", "--state-dir", driver.stateDir, "--filesystem", FILESYSTEM, "--container", CONTAINER])
    progress((await simHsm(["import", "--state-dir", driver.stateDir, "--filesystem", FILESYSTEM])).trim())
    steps.push(["sim-hsm link and import", seconds(since)])

    since = performance.now()
    await untilIdle(driver)
    steps.push(["driver idle again (its read gate guards the stubs)", seconds(since)])

    if (probed) {
      const url = driver.inspectorUrl()
      if (url === undefined) throw new Error(`the driver printed no inspector URL; it wrote:\n${driver.recentOutput()}`)
      probe = await probeHsmCalls(url)
    }

    const target = join(driver.stateDir, "kubelet", "pods", "bench-hydrate-pod", "volumes", "kubernetes.io~csi", "bench-hydrate", "mount")
    const before = await scrape(driver.healthPort)
    const cpuBefore = cpuMicros(driver.pid)
    const rss = sampleRss(driver.pid)
    const ticker = setInterval(() => {
      scrape(driver.healthPort).then(
        (now) => progress(`hydrating: ${now.completed - before.completed} of ${files} restored, ${(now.bytes / MIB).toFixed(0)} MiB`),
        () => undefined
      )
    }, PROGRESS_EVERY_MS)
    progress(`NodePublishVolume with hsm-hydrate: before-start (${files} released files)`)
    since = performance.now()
    const error = await publishWithLongDeadline(client, publishRequest(target))
    const publishWallS = seconds(since)
    const rssEndMb = rssMb(driver.pid)
    const rssMaxMb = Math.max(rss.stop(), rssEndMb)
    clearInterval(ticker)
    const driverCpuS = (cpuMicros(driver.pid) - cpuBefore) / 1e6
    const after = await scrape(driver.healthPort)
    const calls = probe === undefined ? noHsmCalls : await probe.calls()
    probe?.close()
    probe = undefined
    if (error !== undefined) progress(`the publish failed: ${error}`)
    progress(`publish answered after ${publishWallS.toFixed(1)} s; checking the files`)

    since = performance.now()
    const fileOf = (index: number) => join(target, blobNameOf(index, files))
    const paths = Array.from({ length: files }, (_, index) => fileOf(index))
    const sample = sampleOf(files)
    const filesWithoutData = countWithoutData(paths)
    const sampleNotResident = await countNotResident(driver.stateDir, sample.map(fileOf))
    const sampleMismatches = sample.filter((index) => !readFileSync(fileOf(index)).equals(readFileSync(blobOf(index)))).length
    steps.push(["check every file's blocks, then the sample's sim-hsm state and bytes", seconds(since)])

    since = performance.now()
    await nodeUnpublishVolume(client, { volumeId: VOLUME_ID, targetPath: target })
    steps.push(["NodeUnpublishVolume", seconds(since)])

    const restored = after.completed - before.completed
    const restoredMib = (after.bytes - before.bytes) / MIB
    const results: HydrateResults = {
      publishFailed: error === undefined ? 0 : 1,
      publishWallS,
      filesPerS: restored / publishWallS,
      mibPerS: restoredMib / publishWallS,
      restoreMeanS: (after.durationSum - before.durationSum) / Math.max(1, after.durationCount - before.durationCount),
      restoresPerFile: (after.started - before.started) / files,
      restoresFailed: after.failed - before.failed,
      statusCalls: calls.status.length,
      statusPathsMean: mean(calls.status),
      statusPathsMax: max(calls.status),
      restoreCalls: calls.restore.length,
      restorePathsMean: mean(calls.restore),
      restorePathsMax: max(calls.restore),
      findReleasedCalls: calls.findReleased.length,
      findReleasedBatches: calls.findReleasedBatch.length,
      lfsCommandsPerFile: lfsCommandsOf(calls) / files,
      driverCpuS,
      rssMaxMb,
      rssEndMb,
      filesWithoutData,
      sampleNotResident,
      sampleMismatches
    }
    return { results, details: { files, probed, stepsS: steps, firstError: error } }
  } finally {
    probe?.close()
    client.close()
    const since = performance.now()
    await driver.stop()
    unmountUnder(dir)
    rmSync(dir, { recursive: true, force: true })
    steps.push(["stop the driver, unmount, remove the state", seconds(since)])
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
}

// ---------------------------------------------------------------------------------------------
// Baseline and report. The hydrate section of bench/baseline.json has the shape of the others
// (report.ts's writeBaseline); it is read and written here, since report.ts names its sections.

const readBaselineFile = (): Record<string, unknown> => {
  if (!existsSync(BASELINE_PATH)) return {}
  const json: unknown = JSON.parse(readFileSync(BASELINE_PATH, "utf8"))
  return typeof json === "object" && json !== null ? { ...json } : {}
}

export const readHydrateBaseline = (): Partial<HydrateResults> => {
  const recorded = field(readBaselineFile()["hydrate"], "results")
  const baseline: Partial<HydrateResults> = {}
  for (const { key } of hydrateMetrics) {
    const value = field(recorded, key)
    if (typeof value === "number") baseline[key] = value
  }
  return baseline
}

/** Records these numbers as the hydrate section's baseline; every other section stays as it is. */
export const writeHydrateBaseline = (results: HydrateResults) => {
  const file = readBaselineFile()
  file["hydrate"] = {
    recordedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    results: Object.fromEntries(
      (hydrateMetrics as ReadonlyArray<Metric<HydrateKey>>).map(({ key, digits }) => [key, Number(results[key].toFixed(digits ?? 1))])
    )
  }
  writeFileSync(BASELINE_PATH, JSON.stringify(file, null, 2) + "\n")
}

export const hydrateReport = (results: HydrateResults, details: HydrateDetails): string =>
  [
    `Hydrate before start: one NodePublishVolume, ${details.files} released files of 1 MiB, restore delay ${RESTORE_DELAY} s`,
    "",
    table(hydrateMetrics, results, readHydrateBaseline()),
    "",
    ...details.stepsS.map(([step, s]) => `${step}: ${s.toFixed(1)} s`),
    details.probed
      ? "Hsm calls counted by logpoints through the driver's inspector (it runs with --inspect)"
      : "Hsm calls not counted (--no-hsm-probe): the driver ran without its inspector",
    ...(details.firstError === undefined ? [] : [`publish error: ${details.firstError}`])
  ].join("\n")

/** Whether the benchmark can run here: bind mounts and the blobs' owners need root. */
export const canHydrate = (): boolean => process.getuid?.() === 0

const numberAfter = (flag: string): number | undefined => {
  const at = process.argv.indexOf(flag)
  if (at === -1) return undefined
  const value = Number(process.argv[at + 1])
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} takes a positive whole number; got ${process.argv[at + 1] ?? "nothing"}`)
  return value
}

// Run as `node dist/bench/hydrate.js` (not imported by run.js).
runWhenEntryPoint(import.meta.url, async () => {
  if (!canHydrate()) throw new Error("the hydrate benchmark makes real bind mounts: run it as root")
  progress(`node ${process.version}, ${cpus().length} CPUs; hydrate benchmark`)
  const files = numberAfter("--files") ?? FILES
  const updateBaseline = process.argv.includes("--update-baseline")
  if (updateBaseline && files !== FILES) throw new Error(`the baseline is of ${FILES} files: --update-baseline takes no --files`)
  const { results, details } = await measureHydrate({ files, probed: !process.argv.includes("--no-hsm-probe") })
  process.stdout.write(`\n${hydrateReport(results, details)}\n`)
  if (updateBaseline) {
    writeHydrateBaseline(results)
    process.stdout.write(`baseline updated (hydrate section): ${BASELINE_PATH}\n`)
  }
})
