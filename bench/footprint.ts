/**
 * The node plugin's footprint, side by side with a bare grpc-js server on the same run: start to
 * socket, memory idle and under load, CPU per call. Each server is pinned to CPU 0 and this load
 * generator to CPU 1, as the Go driver was measured (bench/README.md keeps its numbers).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import { IdentityClient, NodeClient } from "../src/gen/csi.js"
import { cpuMicros, killAndWait, rssMb, sleep } from "./driverProcess.js"
import { launcherNodeFlags } from "./launcherFlags.js"
import {
  type Metric,
  median,
  progress,
  readBaseline,
  runWhenEntryPoint,
  type SectionResults,
  table,
  writeBaseline
} from "./report.js"

const LAUNCHER = fileURLToPath(new URL("../../bin/azurelustre-csi.js", import.meta.url))
const BARE_SERVER = fileURLToPath(new URL("./bareGrpcServer.js", import.meta.url))
const SERVER_CPU = "0"
const LOAD_CPU = "1"
const START_RUNS = 5
const IN_FLIGHT = 32
const WARMUP_CALLS = 2_000
const CPU_CALLS = 20_000
const CPU_ROUNDS = 3
const MIXED_CALLS = 200_000
const RSS_SAMPLE_EVERY = 10_000
const SLOPE_WINDOW = 50_000

type Subject = "driver" | "bare"

const flagValue = (flag: string) => {
  const at = process.argv.indexOf(flag)
  return at < 0 ? undefined : process.argv[at + 1]
}

interface Server {
  readonly pid: number
  readonly socketPath: string
  readonly spawnedAt: number
  readonly output: () => string
  readonly stop: () => Promise<void>
}

const startServer = (subject: Subject, dir: string): Server => {
  const socketPath = join(dir, "csi.sock")
  const kubeletDir = join(dir, "kubelet")
  mkdirSync(kubeletDir, { recursive: true })
  const command = subject === "driver"
    ? [LAUNCHER, "serve", "--mode", "node", "--node-id", "bench-node", "--endpoint", `unix://${socketPath}`,
      "--kubelet-dir", kubeletDir, "--health-port", "0", "--remove-node-taint", "false", "--log-level", "info",
      // As on a node whose client is installed (bench/nodeSetup.ts measures that check), and as the Go driver was measured.
      "--install-lustre-client", "no"]
    // With the driver's V8 flags: they trade CPU for memory in the whole process, so the ratios
    // show what the driver adds to the transport, not what the flags cost (bench/README.md has that).
    : [process.execPath, ...launcherNodeFlags(LAUNCHER), BARE_SERVER, socketPath]
  const { KUBERNETES_SERVICE_HOST: _host, KUBERNETES_SERVICE_PORT: _port, NODE_OPTIONS: _options, ...inherited } = process.env
  // --node-options "<V8 flags>" tries flags on the node plugin (on top of its launcher's), to choose them by measurement.
  const nodeOptions = flagValue("--node-options")
  const env = subject === "driver" && nodeOptions !== undefined ? { ...inherited, NODE_OPTIONS: nodeOptions } : inherited
  const spawnedAt = performance.now()
  const child: ChildProcess = spawn("taskset", ["-c", SERVER_CPU, ...command], { stdio: ["ignore", "pipe", "pipe"], env })
  let recent = ""
  const keep = (chunk: Buffer) => {
    recent = (recent + chunk.toString("utf8")).slice(-4096)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  if (child.pid === undefined) throw new Error(`could not spawn ${command.join(" ")}`)
  return { pid: child.pid, socketPath, spawnedAt, output: () => recent, stop: () => killAndWait(child, "SIGTERM") }
}

const connects = (socketPath: string) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection(socketPath)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** Milliseconds from spawn until the socket accepts a connection (tried every 2 ms). */
const millisToSocket = async (server: Server) => {
  while (!(await connects(server.socketPath))) {
    if (performance.now() - server.spawnedAt > 15_000) throw new Error(`no socket after 15 s:\n${server.output()}`)
    await sleep(2)
  }
  return performance.now() - server.spawnedAt
}

type Call = () => Promise<unknown>

const promised = <Res>(invoke: (callback: (error: grpc.ServiceError | null, response: Res) => void) => void) =>
  new Promise<Res>((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))))

const callsOf = (socketPath: string) => {
  const options = { "grpc.use_local_subchannel_pool": 1 }
  const identity = new IdentityClient(`unix://${socketPath}`, grpc.credentials.createInsecure(), options)
  const node = new NodeClient(`unix://${socketPath}`, grpc.credentials.createInsecure(), options)
  return {
    probe: () => promised((cb) => identity.probe({}, cb)),
    getPluginInfo: () => promised((cb) => identity.getPluginInfo({}, cb)),
    nodeGetCapabilities: () => promised((cb) => node.nodeGetCapabilities({}, cb)),
    nodeGetInfo: () => promised((cb) => node.nodeGetInfo({}, cb)),
    close: () => {
      identity.close()
      node.close()
    }
  }
}

/** `total` calls, `IN_FLIGHT` at a time, taking the calls in turn; `every(n)` after each n-th done. */
const drive = async (calls: ReadonlyArray<Call>, total: number, every?: { readonly n: number; readonly run: (done: number) => void }) => {
  let started = 0
  let done = 0
  const lane = async () => {
    while (started < total) {
      const call = calls[started++ % calls.length]!
      await call()
      done++
      if (every !== undefined && done % every.n === 0) every.run(done)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
}

const cpuPerCall = async (pid: number, call: Call) => {
  await drive([call], WARMUP_CALLS)
  const before = cpuMicros(pid)
  await drive([call], CPU_CALLS)
  return (cpuMicros(pid) - before) / CPU_CALLS
}

/** Least-squares slope of RSS over calls, in MB per 10,000 calls. */
const slopePer10k = (samples: ReadonlyArray<readonly [calls: number, mb: number]>) => {
  const n = samples.length
  const meanX = samples.reduce((sum, [x]) => sum + x, 0) / n
  const meanY = samples.reduce((sum, [, y]) => sum + y, 0) / n
  const covariance = samples.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0)
  const variance = samples.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0)
  return (covariance / variance) * 10_000
}

interface Footprint {
  readonly startMs: number
  readonly idleRssMb: number
  readonly cpuProbeUs: number
  readonly cpuNodeGetCapabilitiesUs: number
  readonly cpuGetPluginInfoUs: number
  readonly rssAfter100kMb: number
  readonly rssAfter200kMb: number
  readonly rssSlopeMbPer10k: number
}

const withServer = async <A>(subject: Subject, use: (server: Server) => Promise<A>): Promise<A> => {
  const dir = mkdtempSync(join(tmpdir(), `csi-footprint-${subject}-`))
  const server = startServer(subject, dir)
  try {
    return await use(server)
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const startMs = async (subject: Subject) => {
  const starts: Array<number> = []
  for (let run = 0; run < START_RUNS; run++) {
    starts.push(await withServer(subject, millisToSocket))
  }
  return median(starts)
}

type CpuPerCall = Pick<Footprint, "cpuProbeUs" | "cpuNodeGetCapabilitiesUs" | "cpuGetPluginInfoUs">

/**
 * CPU per call of each subject, both servers up at once and measured in turn, round after round
 * (the first also warms up), each number the lowest of its rounds: a slow spell of the machine
 * then touches both subjects alike instead of one subject's whole measurement.
 */
const cpuPerCallOf = async (subjects: ReadonlyArray<Subject>): Promise<Map<Subject, CpuPerCall>> => {
  const rounds = new Map<Subject, Array<readonly [number, number, number]>>(subjects.map((subject) => [subject, []]))
  const measureRounds = async (servers: ReadonlyArray<readonly [Subject, Server]>) => {
    const clients = servers.map(([subject, server]) => [subject, server, callsOf(server.socketPath)] as const)
    try {
      for (let round = 0; round < CPU_ROUNDS; round++) {
        for (const [subject, server, calls] of clients) {
          progress(`${subject}: CPU per call, round ${round + 1} of ${CPU_ROUNDS}`)
          rounds.get(subject)?.push([
            await cpuPerCall(server.pid, calls.nodeGetCapabilities),
            await cpuPerCall(server.pid, calls.probe),
            await cpuPerCall(server.pid, calls.getPluginInfo)
          ])
        }
      }
    } finally {
      for (const [, , calls] of clients) calls.close()
    }
  }
  const withAll = async (rest: ReadonlyArray<Subject>, up: ReadonlyArray<readonly [Subject, Server]>): Promise<void> => {
    const [subject, ...others] = rest
    if (subject === undefined) return measureRounds(up)
    return withServer(subject, async (server) => {
      await millisToSocket(server)
      return withAll(others, [...up, [subject, server]])
    })
  }
  await withAll(subjects, [])
  const lowest = (subject: Subject, column: 0 | 1 | 2) => Math.min(...(rounds.get(subject) ?? []).map((round) => round[column]))
  return new Map(subjects.map((subject) => [subject, {
    cpuNodeGetCapabilitiesUs: lowest(subject, 0),
    cpuProbeUs: lowest(subject, 1),
    cpuGetPluginInfoUs: lowest(subject, 2)
  }]))
}

type Memory = Pick<Footprint, "idleRssMb" | "rssAfter100kMb" | "rssAfter200kMb" | "rssSlopeMbPer10k">

/** RSS of a fresh server: idle, then along MIXED_CALLS mixed calls. */
const memoryOf = (subject: Subject): Promise<Memory> =>
  withServer(subject, async (server) => {
    await millisToSocket(server)
    await sleep(1000)
    const idleRssMb = rssMb(server.pid)
    const calls = callsOf(server.socketPath)
    try {
      progress(`${subject}: ${MIXED_CALLS} mixed calls`)
      const samples: Array<readonly [number, number]> = []
      await drive([calls.probe, calls.nodeGetCapabilities, calls.getPluginInfo, calls.nodeGetInfo], MIXED_CALLS, {
        n: RSS_SAMPLE_EVERY,
        run: (done) => samples.push([done, rssMb(server.pid)])
      })
      const at = (calls: number) => samples.find(([done]) => done === calls)?.[1] ?? Number.NaN
      return {
        idleRssMb,
        rssAfter100kMb: at(100_000),
        rssAfter200kMb: at(MIXED_CALLS),
        rssSlopeMbPer10k: slopePer10k(samples.filter(([done]) => done >= MIXED_CALLS - SLOPE_WINDOW))
      }
    } finally {
      calls.close()
    }
  })

const measure = async (subjects: ReadonlyArray<Subject>): Promise<Map<Subject, Footprint>> => {
  const cpu = await cpuPerCallOf(subjects)
  const measured = new Map<Subject, Footprint>()
  for (const subject of subjects) {
    progress(`${subject}: start to socket, memory`)
    const cpuOfSubject = cpu.get(subject)
    if (cpuOfSubject === undefined) throw new Error(`no CPU measurement for ${subject}`)
    measured.set(subject, { startMs: await startMs(subject), ...(await memoryOf(subject)), ...cpuOfSubject })
  }
  return measured
}

type Key =
  | "startMs"
  | "idleRssMb"
  | "rssAfter100kMb"
  | "rssAfter200kMb"
  | "rssSlopeMbPer10k"
  | "cpuProbeUs"
  | "cpuNodeGetCapabilitiesUs"
  | "cpuGetPluginInfoUs"
  | "probeOverCapabilities"
  | "capabilitiesOverBare"
  | "pluginInfoOverBare"

const metrics: ReadonlyArray<Metric<Key>> = [
  { key: "startMs", label: "start to socket accepting (median of 5)", unit: "ms", target: { op: "<=", value: 150 } },
  { key: "idleRssMb", label: "RSS idle", unit: "MB", target: { op: "<=", value: 55 } },
  { key: "rssAfter100kMb", label: "RSS after 100k mixed calls", unit: "MB", target: { op: "<=", value: 80 } },
  { key: "rssAfter200kMb", label: "RSS after 200k mixed calls", unit: "MB" },
  { key: "rssSlopeMbPer10k", label: "RSS slope, last 50k of 200k", unit: "MB/10k calls", digits: 2 },
  { key: "cpuProbeUs", label: "CPU per Probe", unit: "us" },
  { key: "cpuNodeGetCapabilitiesUs", label: "CPU per NodeGetCapabilities", unit: "us" },
  { key: "cpuGetPluginInfoUs", label: "CPU per GetPluginInfo", unit: "us" },
  { key: "probeOverCapabilities", label: "Probe / NodeGetCapabilities", unit: "x", target: { op: "<=", value: 1.1 }, digits: 2 },
  { key: "capabilitiesOverBare", label: "NodeGetCapabilities / bare grpc-js", unit: "x", target: { op: "<=", value: 1.2 }, digits: 2 },
  { key: "pluginInfoOverBare", label: "GetPluginInfo / bare grpc-js", unit: "x", target: { op: "<=", value: 1.2 }, digits: 2 }
]

/** driver / bare, or "-" where that says nothing (a slope of ~0, say). */
const ratio = (driver: number, bare: number) => (Math.abs(bare) < 0.05 ? "-" : `${(driver / bare).toFixed(2)}x`)

const sideBySide = (driver: Footprint, bare: Footprint) => {
  const rows: ReadonlyArray<readonly [string, keyof Footprint, number]> = [
    ["start to socket accepting, ms", "startMs", 0],
    ["RSS idle, MB", "idleRssMb", 1],
    ["RSS after 100k mixed calls, MB", "rssAfter100kMb", 1],
    ["RSS after 200k mixed calls, MB", "rssAfter200kMb", 1],
    ["RSS slope over the last 50k, MB/10k calls", "rssSlopeMbPer10k", 2],
    ["CPU per Probe, us", "cpuProbeUs", 0],
    ["CPU per NodeGetCapabilities, us", "cpuNodeGetCapabilitiesUs", 0],
    ["CPU per GetPluginInfo, us", "cpuGetPluginInfoUs", 0]
  ]
  const lines = rows.map(([label, key, digits]) =>
    `| ${label} | ${driver[key].toFixed(digits)} | ${bare[key].toFixed(digits)} | ${ratio(driver[key], bare[key])} |`
  )
  return ["| measure | this driver (serve --mode node) | bare grpc-js | ratio |", "|---|---|---|---|", ...lines].join("\n")
}

export const measureFootprint = async (): Promise<SectionResults<Key>> => {
  execFileSync("taskset", ["-pc", LOAD_CPU, String(process.pid)], { stdio: "ignore" })
  progress("footprint: the node plugin and a bare grpc-js server, pinned to CPU 0")
  // --driver-only: for trying flags; the ratios then compare the driver with itself.
  const measured = await measure(process.argv.includes("--driver-only") ? ["driver"] : ["driver", "bare"])
  const driver = measured.get("driver")
  if (driver === undefined) throw new Error("the driver was not measured")
  const bare = measured.get("bare") ?? driver
  process.stdout.write(
    `\nNode plugin footprint (server on CPU ${SERVER_CPU}, ${IN_FLIGHT} calls in flight from CPU ${LOAD_CPU}; ` +
      `both servers with the shipped V8 flags ${launcherNodeFlags(LAUNCHER).join(" ")})\n\n`
  )
  process.stdout.write(`${sideBySide(driver, bare)}\n\n`)
  const results: Record<Key, number> = {
    startMs: driver.startMs,
    idleRssMb: driver.idleRssMb,
    rssAfter100kMb: driver.rssAfter100kMb,
    rssAfter200kMb: driver.rssAfter200kMb,
    rssSlopeMbPer10k: driver.rssSlopeMbPer10k,
    cpuProbeUs: driver.cpuProbeUs,
    cpuNodeGetCapabilitiesUs: driver.cpuNodeGetCapabilitiesUs,
    cpuGetPluginInfoUs: driver.cpuGetPluginInfoUs,
    probeOverCapabilities: driver.cpuProbeUs / driver.cpuNodeGetCapabilitiesUs,
    capabilitiesOverBare: driver.cpuNodeGetCapabilitiesUs / bare.cpuNodeGetCapabilitiesUs,
    pluginInfoOverBare: driver.cpuGetPluginInfoUs / bare.cpuGetPluginInfoUs
  }
  process.stdout.write(`${table(metrics, results, readBaseline("footprint", metrics))}\n`)
  return { section: "footprint", metrics, results }
}

runWhenEntryPoint(import.meta.url, async () => {
  const measured = await measureFootprint()
  if (process.argv.includes("--update-baseline")) writeBaseline([measured])
})
