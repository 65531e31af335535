import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, expect, it } from "vitest"
import { ControllerService, IdentityService, NodeService } from "../../src/gen/csi.js"
import { mountCapability, publishRequest } from "../support/csiRequests.js"
import { type DriverProcess, startSimulation } from "../support/driverProcess.js"
import { scratchFolder, unmountAllUnder } from "../support/mounts.js"
import { rootOnly } from "../support/rootOnly.js"
import { shippedNodeFlags } from "../support/shippedNodeFlags.js"
import { CodeTally, codeName, forEachConcurrently, rawClient, sendBytes } from "./fuzzCalls.js"
import { describeCase, type FuzzCase, fuzzRpcs } from "./fuzzCases.js"
import { fuzzSettings } from "./fuzzSettings.js"
import { type FuzzWorld, prepareWorld } from "./fuzzWorld.js"
import { describeMount, readMountTable, watchMounts } from "./kernelMounts.js"
import { processesStarted, residentMiB } from "./processStats.js"

// A fuzz of the whole CSI server: the built driver (`azurelustre-csi sim`) on a real unix socket,
// its mounts real bind mounts (root), fed seeded requests from Effect's Arbitrary. Whatever the
// input: no INTERNAL or UNKNOWN answer; no mount outside kubelet's folder and the driver's own;
// every OK publish undone by its unpublish, leaving nothing mounted; the driver's memory bounded.
// Each run prints its seed; FUZZ_SEED=<seed> replays it, FUZZ_RUNS sets its size (fuzzSettings.ts).

const asRoot = rootOnly()
const settings = fuzzSettings()
const RSS_GROWTH_LIMIT_MIB = 150
/** Node and Identity calls answer long before this; one that does not has hung. */
const NODE_DEADLINE_MS = 20_000
/** A dynamic CreateVolume waits for the ARM emulator's cluster: cut short, as the provisioner's own deadline does. */
const CONTROLLER_DEADLINE_MS = 5_000

const scratch = scratchFolder("csi-fuzz-")
let driver: DriverProcess | undefined
afterAll(() => {
  driver?.child.kill("SIGKILL")
  unmountAllUnder(scratch)
  if (driver !== undefined) unmountAllUnder(Fs.realpathSync(driver.stateDir))
})

/** The driver as it ships: Node with the V8 flags bin/azurelustre-csi.js and the image start it with. */
const startShippedSimulation = (args: ReadonlyArray<string>): Promise<DriverProcess> => startSimulation(args, shippedNodeFlags())

type Call = (fuzzCase: Pick<FuzzCase, "path" | "bytes" | "service">) => ReturnType<typeof sendBytes>

/**
 * Before the run: a publish that stays for the whole run (it holds the shared mount of the most
 * used filesystem, so most publishes bind without mounting Lustre first, as on a busy node), its
 * stats, and one call of each service: code loaded and mounts made before RSS is read.
 */
const publishAnchor = async (call: Call, world: FuzzWorld) => {
  const anchor = { volumeId: "pv-anchor#lustrefs#10.0.0.4#anchor#f#", targetPath: world.target("anchor") }
  const calls = [
    [NodeService.nodePublishVolume.path, NodeService.nodePublishVolume.requestSerialize(publishRequest(anchor.volumeId, anchor.targetPath))],
    [NodeService.nodeGetVolumeStats.path, NodeService.nodeGetVolumeStats.requestSerialize({
      volumeId: anchor.volumeId, volumePath: anchor.targetPath, stagingTargetPath: ""
    })],
    [IdentityService.probe.path, IdentityService.probe.requestSerialize({})],
    [ControllerService.validateVolumeCapabilities.path, ControllerService.validateVolumeCapabilities.requestSerialize({
      volumeId: anchor.volumeId, volumeContext: {}, volumeCapabilities: [mountCapability()], parameters: {}, secrets: {}, mutableParameters: {}
    })]
  ] as const
  for (const [path, bytes] of calls) {
    expect({ path, code: codeName(await call({ path, bytes, service: "Node" })) }).toEqual({ path, code: "OK" })
  }
  return anchor
}

asRoot.describe("a fuzz of the CSI server, on the simulation's real bind mounts", () => {
  it(`seed ${settings.seed}: ${settings.nodeRuns} cases per Node RPC, ${settings.otherRuns} per Identity and Controller RPC`, async () => {
    const started = Date.now()
    const sim = await startShippedSimulation(["--kubelet-dir", scratch, "--cluster-creation", "1"])
    driver = sim
    const pid = sim.child.pid!
    const stateDir = Fs.realpathSync(sim.stateDir)
    const world = prepareWorld(scratch, stateDir)
    const mounts = watchMounts({ kubelet: scratch, state: stateDir, lustre: Path.join(stateDir, "filesystems") })
    const violations = new Set<string>()
    const checkMounts = (when: string) => mounts.problems().forEach((problem) => violations.add(`${when}: ${problem}`))
    const client = rawClient(sim.socketPath)
    const call: Call = (fuzzCase) =>
      sendBytes(client, fuzzCase.path, fuzzCase.bytes, fuzzCase.service === "Controller" ? CONTROLLER_DEADLINE_MS : NODE_DEADLINE_MS)

    const anchor = await publishAnchor(call, world)
    const rssBefore = residentMiB(pid)
    let rssPeak = rssBefore
    const processesBefore = processesStarted()

    const generated = await Effect.runPromise(Effect.forEach(fuzzRpcs(world), (rpc) =>
      rpc.cases(rpc.service === "Node" ? settings.nodeRuns : settings.otherRuns, settings.seed)))
    const cases = generated.flat()
      .filter((fuzzCase) => settings.only === undefined || settings.only.has(`${fuzzCase.rpc}#${fuzzCase.index}`))
      .sort((a, b) => a.order - b.order || a.rpc.localeCompare(b.rpc) || a.index - b.index)

    const tally = new CodeTally()
    /** Every target (as spelled) a publish answered OK for, with that publish's volume id. */
    const published = new Map<string, string>([[anchor.targetPath, anchor.volumeId]])
    let answered = 0
    const running = Date.now()
    await forEachConcurrently(cases, settings.concurrency, async (fuzzCase) => {
      const answer = await call(fuzzCase)
      const code = codeName(answer)
      tally.add(fuzzCase.rpc, code)
      if (code === "INTERNAL" || code === "UNKNOWN") {
        violations.add(`${fuzzCase.rpc} answered ${code} ${JSON.stringify(answer.ok ? "" : answer.details.slice(0, 400))} to ${describeCase(fuzzCase)}`)
      }
      if (code === "DEADLINE_EXCEEDED" && fuzzCase.service !== "Controller") {
        violations.add(`${fuzzCase.rpc} did not answer within ${NODE_DEADLINE_MS} ms: ${describeCase(fuzzCase)}`)
      }
      if (answer.ok && fuzzCase.rpc === "NodePublishVolume") {
        // As the server decoded the bytes, corrupted or not: it answered OK, so they were a valid request.
        const request = NodeService.nodePublishVolume.requestDeserialize(Buffer.from(fuzzCase.bytes))
        published.set(request.targetPath, request.volumeId)
      }
      if (++answered % 500 === 0) {
        checkMounts(`after ${answered} calls`)
        rssPeak = Math.max(rssPeak, residentMiB(pid))
      }
    })
    const runSeconds = (Date.now() - running) / 1000
    checkMounts("after the run")
    if (!readMountTable().some((entry) => entry.mountPoint === anchor.targetPath)) {
      violations.add(`${anchor.targetPath}, published before the run and never unpublished, is not mounted after it`)
    }

    // Every target published OK, unpublished as it was spelled: OK, and then nothing is left mounted.
    for (const [targetPath, volumeId] of published) {
      const answer = await call({
        path: NodeService.nodeUnpublishVolume.path,
        bytes: NodeService.nodeUnpublishVolume.requestSerialize({ volumeId, targetPath }),
        service: "Node"
      })
      if (!answer.ok) {
        violations.add(`unpublishing ${JSON.stringify(targetPath)} (${volumeId}), published OK, answered ${codeName(answer)}: ${answer.details}`)
      }
    }
    checkMounts("after unpublishing")
    for (const entry of mounts.madeSince()) violations.add(`left mounted after every OK publish was unpublished OK: ${describeMount(entry)}`)
    for (const entry of mounts.goneAt(world.foreignTargets)) violations.add(`a mount that is not the driver's was taken down: ${describeMount(entry)}`)
    for (const sentinel of world.sentinels) {
      if (!Fs.existsSync(sentinel)) violations.add(`${sentinel}, outside the pods folder (reached through the symlink pods/linked), was removed`)
    }

    const alive = sim.child.exitCode === null && sim.child.signalCode === null
    if (!alive) violations.add(`the driver exited (${sim.child.exitCode ?? sim.child.signalCode}) during the run`)
    const rssAfter = alive ? residentMiB(pid) : Number.NaN
    const probe = alive ? codeName(await call({ path: IdentityService.probe.path, bytes: new Uint8Array(), service: "Node" })) : "none"
    const processes = processesStarted() - processesBefore
    client.close()

    console.log(
      `CSI fuzz, seed ${settings.seed} (replay: FUZZ_SEED=${settings.seed} FUZZ_RUNS=${settings.nodeRuns} npm run fuzz): ` +
        `${cases.length} calls in ${runSeconds.toFixed(1)} s (${((Date.now() - started) / 1000).toFixed(1)} s in all), ` +
        `${settings.concurrency} in flight; ${published.size} targets published OK; ~${processes} processes started; ` +
        `driver RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB (peak ${rssPeak.toFixed(0)}); Probe after the run ${probe}. ` +
        `Codes: ${tally}`
    )
    if (violations.size > 0) {
      const causes = sim.output().split("\n").filter((line) => line.includes('"level":"error"')).slice(0, 5)
      console.log(`the driver's error log (first ${causes.length} lines):\n${causes.join("\n")}`)
    }

    // The first few of each kind are enough to read; the count says how many there were.
    const shown = [...violations].slice(0, 20)
    expect(violations.size > shown.length ? [...shown, `... and ${violations.size - shown.length} more`] : shown).toEqual([])
    expect(probe).toBe("OK")
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_MIB)
    // The fuzz reached the kernel, not only the validation in front of it.
    if (settings.only === undefined) expect(tally.count("NodePublishVolume", "OK")).toBeGreaterThan(0)
  }, 120_000 + settings.nodeRuns * 40)
})
