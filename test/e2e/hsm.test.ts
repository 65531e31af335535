import { status } from "@grpc/grpc-js"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, it } from "vitest"
import { ask, csiClient } from "../support/csiClient.js"
import { publishRequest } from "../support/csiRequests.js"
import { type DriverProcess, healthUrlOf, restartSimulation, startSimulation } from "../support/driverProcess.js"
import { mountPointsUnder, scratchFolder, unmountAllUnder } from "../support/mounts.js"
import { sampleSum } from "../support/prometheus.js"
import { rootOnly } from "../support/rootOnly.js"
import { type BlobHeaders, hsmStatesOf, markOf, putBlob, readGateMarks, simHsm, timedCat } from "../support/simHsm.js"

const asRoot = rootOnly()

// HSM end to end on the simulation: the real driver process and its gRPC server, real bind mounts,
// a blob container linked by `sim-hsm`, reads held by the sim's read gate (fanotify) until their
// restore. The tests are named after the HSM backlog's test cases.

const MGS = "10.0.0.4"
const FILESYSTEM = `${MGS}/lustrefs`
const RESTORE_DELAY_MS = 800
const RELEASED = "(0x0000000d) released exists archived, archive_id:1"
const RESIDENT = "(0x00000009) exists archived, archive_id:1"
const ok = { ok: true, value: {} }
const pvc = { "csi.storage.k8s.io/pvc/name": "training-data", "csi.storage.k8s.io/pvc/namespace": "ml" }

const kubeletDir = scratchFolder("csi-hsm-")
const target = (pod: string) => Path.join(kubeletDir, "pods", pod, "volumes", "kubernetes.io~csi", "pv", "mount")
const volumeIdOf = (subDir: string) => `pv-${subDir}#lustrefs#${MGS}#${subDir}#f#`
const headers = (mode: number, uid: number, gid: number, mtime: number): BlobHeaders => ({ mode, uid, gid, mtime })

interface Blob {
  readonly name: string
  readonly bytes: Buffer
}

const drivers: Array<DriverProcess> = []
const closers: Array<() => void> = []

/** A sim with its blob container linked to the filesystem, and a CSI client on it. */
const linkedSimulation = async (restoreDelayMs: number) => {
  const driver = await startSimulation(["--kubelet-dir", kubeletDir, "--hsm-restore-delay", String(restoreDelayMs / 1000)])
  drivers.push(driver)
  const linked = await simHsm(driver.stateDir, "link", "--filesystem", FILESYSTEM, "--container", "account1/data")
  if (linked.code !== 0) throw new Error(`sim-hsm link failed: ${linked.output}`)
  return connected(driver)
}

const connected = (driver: DriverProcess) => {
  const client = csiClient(driver.socketPath)
  closers.push(() => client.close())
  const node = client.node
  const container = Path.join(driver.stateDir, "blob", "account1", "data")
  const filesystem = Path.join(driver.stateDir, "filesystems", MGS, "lustrefs")
  return {
    driver,
    container,
    filesystem,
    /** Puts the blobs in the container and imports them (released stubs) under `prefix`. */
    importBlobs: async (prefix: string, blobs: ReadonlyArray<Blob & { readonly headers?: BlobHeaders }>) => {
      for (const blob of blobs) putBlob(container, `${prefix}/${blob.name}`, blob.bytes, blob.headers ?? headers(0o644, 0, 0, 1700000000))
      const imported = await simHsm(driver.stateDir, "import", "--filesystem", FILESYSTEM, "--prefix", `${prefix}/`)
      if (imported.code !== 0 || !imported.output.includes(`imported ${blobs.length} file(s)`)) {
        throw new Error(`sim-hsm import --prefix ${prefix}/ did not import ${blobs.length} files: ${imported.output}`)
      }
    },
    publish: (volumeId: string, targetPath: string, volumeContext: Record<string, string> = {}) =>
      ask(node, node.nodePublishVolume, publishRequest(volumeId, targetPath, { volumeContext }), { deadlineMs: 60_000 }),
    unpublish: (volumeId: string, targetPath: string) => ask(node, node.nodeUnpublishVolume, { volumeId, targetPath }),
    volumeCondition: async (volumeId: string, volumePath: string) => {
      const stats = await ask(node, node.nodeGetVolumeStats, { volumeId, volumePath, stagingTargetPath: "" })
      return stats.ok ? stats.value.volumeCondition : stats
    },
    /** The files' HSM states, as `sim-hsm state` prints them. */
    hsmStates: (paths: ReadonlyArray<string>) => hsmStatesOf(driver.stateDir, paths),
    /** Whether the sim's read gate holds opens of the file (a read of it then waits for its restore). */
    guarded: (path: string) => readGateMarks(driver.child.pid ?? -1).has(markOf(path)),
    restores: async (outcome: "started" | "completed" | "failed") => {
      const metrics = await (await fetch(`${await healthUrlOf(driver)}/metrics`)).text()
      return sampleSum(metrics, "azurelustre_csi_hsm_restores_total", { outcome })
    },
    /** The hydrations the node plugin would resume after a restart: its records. */
    hydrationRecords: () => {
      const folder = Path.join(driver.stateDir, "mounts", "hydrations")
      return Fs.existsSync(folder) ? Fs.readdirSync(folder).filter((name) => name.endsWith(".json")) : []
    },
    /** The driver's Event log lines (in the simulation each Event is one). */
    events: () => driver.output().split("\n").filter((line) => line.includes('"msg":"event ')).map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}

type Sim = Awaited<ReturnType<typeof linkedSimulation>>

const blob = (name: string, size: number): Blob => ({ name, bytes: Crypto.randomBytes(size) })

/** Each file under `root` holds its blob's bytes, read by the test process. */
const holdsBytes = (root: string, blobs: ReadonlyArray<Blob>) =>
  blobs.every((b) => Fs.readFileSync(Path.join(root, b.name)).equals(b.bytes))

const timed = async <A>(run: () => Promise<A>) => {
  const started = performance.now()
  const value = await run()
  return { value, millis: performance.now() - started }
}

asRoot.describe("HSM on the simulation (the real driver process, real bind mounts, reads held until restored)", () => {
  afterAll(() => {
    for (const close of closers) close()
    for (const driver of drivers) driver.child.kill("SIGKILL")
    unmountAllUnder(kubeletDir)
    for (const driver of drivers) unmountAllUnder(driver.stateDir)
  })

  // The three suites run side by side, each on its own sim (the failing restore alone waits out
  // the default restore retries, 5 s then 10 s); the tests of a suite run one after another.
  describe("on one sim", { concurrent: true }, () => {
    let sim: Sim
    beforeAll(async () => {
      sim = await linkedSimulation(RESTORE_DELAY_MS)
    })

    it("TC1: a volume with released files mounts with their names, sizes, modes, owners and mtimes visible, and no data read until restored", { concurrent: false }, async ({ expect }) => {
      const blobs = [
        { ...blob("notes.txt", 11), headers: headers(0o640, 1234, 5678, 1577934245.123456) },
        { ...blob("models/weights.bin", 70_001), headers: headers(0o600, 4321, 8765, 1609556645.5) },
        { ...blob("run.sh", 1), headers: headers(0o755, 0, 0, 1262304000) }
      ]
      await sim.importBlobs("tc1", blobs)
      const volumeId = volumeIdOf("tc1")
      const mount = target("tc1")
      expect(await sim.publish(volumeId, mount)).toEqual(ok)

      expect(Fs.readdirSync(mount, { recursive: true }).sort()).toEqual(["models", "models/weights.bin", "notes.txt", "run.sh"])
      for (const { name, headers: given } of blobs) {
        const seen = Fs.statSync(Path.join(mount, name), { bigint: true })
        const header = Fs.statSync(Path.join(sim.container, "tc1", name), { bigint: true })
        expect(Number(header.mode & 0o7777n), name).toBe(given.mode)
        expect({
          size: seen.size,
          mode: seen.mode,
          uid: seen.uid,
          gid: seen.gid,
          mtimeMicros: seen.mtimeNs / 1000n,
          blocks: seen.blocks
        }, name).toEqual({
          size: header.size,
          mode: header.mode,
          uid: BigInt(given.uid),
          gid: BigInt(given.gid),
          mtimeMicros: header.mtimeNs / 1000n,
          blocks: 0n
        })
      }
      // Listing and stat'ing them restored nothing.
      expect(await sim.hsmStates(blobs.map(({ name }) => Path.join(mount, name)))).toEqual(blobs.map(() => RELEASED))
      expect(await sim.unpublish(volumeId, mount)).toEqual(ok)
    })

    it("TC2: reading a released file from a pod restores it: the read waits for the restore and returns the blob's bytes", { concurrent: false }, async ({ expect }) => {
      const sample = blob("sample.bin", 65_536)
      await sim.importBlobs("tc2", [sample])
      const volumeId = volumeIdOf("tc2")
      const mount = target("tc2")
      expect(await sim.publish(volumeId, mount)).toEqual(ok)
      const file = Path.join(mount, sample.name)
      await expect.poll(() => sim.guarded(file), { timeout: 5_000 }).toBe(true)

      const first = await timedCat(file)
      expect(first.stderr).toBe("")
      expect(first.code).toBe(0)
      expect(first.stdout.length).toBe(sample.bytes.length)
      expect(first.stdout.equals(sample.bytes), "cat printed the blob's bytes").toBe(true)
      expect(first.millis).toBeGreaterThanOrEqual(RESTORE_DELAY_MS)

      expect(await sim.hsmStates([file])).toEqual([RESIDENT])
      expect(Fs.statSync(file).blocks).toBeGreaterThan(0)
      const second = await timedCat(file)
      expect(second.code).toBe(0)
      expect(second.stdout.equals(sample.bytes)).toBe(true)
      expect(second.millis).toBeLessThan(RESTORE_DELAY_MS / 2)
      expect(await sim.unpublish(volumeId, mount)).toEqual(ok)
    })

    it("TC4: reading before the restore is done waits, or fails with a retryable error under a failing restore, and succeeds once retried", { concurrent: false }, async ({ expect }) => {
      const shard = blob("shard-0.bin", 20_000)
      await sim.importBlobs("tc4", [shard])
      const volumeId = volumeIdOf("tc4")
      const mount = target("tc4")
      expect(await sim.publish(volumeId, mount)).toEqual(ok)
      const file = Path.join(mount, shard.name)
      await expect.poll(() => sim.guarded(file), { timeout: 5_000 }).toBe(true)

      const fault = Path.join(sim.driver.stateDir, "faults", "hsm-restore-fail")
      Fs.writeFileSync(fault, "tc4/")
      const refused = await timedCat(file)
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain("Operation not permitted")
      expect(refused.stdout.length).toBe(0)
      expect(refused.millis).toBeGreaterThanOrEqual(RESTORE_DELAY_MS)
      expect(await sim.hsmStates([file])).toEqual([RELEASED])
      expect(sim.guarded(file)).toBe(true)

      Fs.rmSync(fault)
      // The sim hears of a fault switched off through inotify, a moment later.
      await new Promise((resolve) => setTimeout(resolve, 200))
      // Two readers retry at once: both wait for the one restore, both get the bytes.
      const retried = await Promise.all([timedCat(file), timedCat(file)])
      for (const read of retried) {
        expect(read.code, read.stderr).toBe(0)
        expect(read.stdout.equals(shard.bytes), "the retried read printed the blob's bytes").toBe(true)
        expect(read.millis).toBeGreaterThanOrEqual(RESTORE_DELAY_MS)
      }
      expect(await sim.hsmStates([file])).toEqual([RESIDENT])
      expect(await sim.unpublish(volumeId, mount)).toEqual(ok)
    })

    it("before-start: NodePublishVolume answers OK only when every released file under hsm-hydrate-paths is resident; files outside those paths stay released", { concurrent: false }, async ({ expect }) => {
      const train = [blob("train/images/0.jpg", 4_096), blob("train/labels.csv", 300)]
      const holdout = blob("eval/holdout.bin", 9_000)
      await sim.importBlobs("bs", [...train, holdout])
      const completedBefore = await sim.restores("completed")
      const volumeId = volumeIdOf("bs")
      const mount = target("bs")

      const published = await timed(() =>
        sim.publish(volumeId, mount, { "hsm-hydrate": "before-start", "hsm-hydrate-paths": "train", ...pvc })
      )
      expect(published.value).toEqual(ok)
      expect(published.millis).toBeGreaterThanOrEqual(RESTORE_DELAY_MS)
      expect(await sim.hsmStates([...train, holdout].map((file) => Path.join(mount, file.name)))).toEqual([RESIDENT, RESIDENT, RELEASED])
      expect(holdsBytes(mount, train)).toBe(true)
      expect(Fs.statSync(Path.join(mount, holdout.name)).blocks).toBe(0)

      const events = sim.events().filter((event) => event.regarding === "PersistentVolumeClaim/ml/training-data")
      expect(events.map((event) => event.eventReason)).toEqual(["HydrationStarted", "HydrationCompleted"])
      expect(events[0]?.msg).toBe("event Normal HydrationStarted: restoring the released files under train before the pod starts")
      expect(events[1]?.msg).toMatch(
        /^event Normal HydrationCompleted: 2 of 2 released file\(s\) restored \(4\.3 KiB\), 0 restoring, 0 failed in .+; the pod starts$/
      )
      expect(await sim.restores("completed")).toBe(completedBefore + 2)
      expect(await sim.volumeCondition(volumeId, mount)).toEqual({
        abnormal: false,
        message: "hydration (before-start) completed: 0 released file(s) left, 0 restoring, 2 restored, 0 failed"
      })
      expect(await sim.unpublish(volumeId, mount)).toEqual(ok)
    })

    it("background: publish answers at once, the files come back in the background, volume_condition tells the counts; the last unpublish stops it", { concurrent: false, timeout: 30_000 }, async ({ expect }) => {
      const early = [blob("a.bin", 1_000), blob("b.bin", 2_000), blob("c.bin", 3_000)]
      const late = blob("late.bin", 4_000)
      await sim.importBlobs("bg", [...early, late])
      const startedBefore = await sim.restores("started")
      const volumeId = volumeIdOf("bg")
      const [mount, other] = [target("bg-0"), target("bg-1")]
      const context = { "hsm-hydrate": "background", ...pvc }
      const fault = Path.join(sim.driver.stateDir, "faults", "hsm-restore-fail")
      // The late file's restores fail: the hydration asks again 1 s, then 2 s later (the simulation's retry).
      Fs.writeFileSync(fault, "bg/late")

      const published = await timed(() => sim.publish(volumeId, mount, context))
      expect(published.value).toEqual(ok)
      expect(published.millis).toBeLessThan(RESTORE_DELAY_MS)
      expect(await sim.volumeCondition(volumeId, mount)).toEqual({
        abnormal: false,
        message: expect.stringMatching(/^hydration \(background\) running: \d released file\(s\) left, \d restoring, 0 restored, 0 failed/)
      })
      // A second pod of the node publishes the same volume: it joins the one hydration.
      expect(await sim.publish(volumeId, other, context)).toEqual(ok)

      await expect.poll(() => sim.volumeCondition(volumeId, other), { timeout: 5_000, interval: 100 }).toEqual({
        abnormal: false,
        message: expect.stringMatching(/^hydration \(background\) running: 1 released file\(s\) left, 1 restoring, 3 restored, 0 failed$/)
      })
      expect(await sim.hsmStates(early.map((file) => Path.join(mount, file.name)))).toEqual(early.map(() => RESIDENT))
      expect(holdsBytes(mount, early)).toBe(true)
      expect(await sim.restores("started")).toBeGreaterThanOrEqual(startedBefore + 4)

      expect(await sim.unpublish(volumeId, mount)).toEqual(ok)
      expect(sim.hydrationRecords()).toHaveLength(1)
      expect(await sim.volumeCondition(volumeId, other)).toMatchObject({ message: expect.stringMatching(/^hydration \(background\) running: /) })
      expect(await sim.unpublish(volumeId, other)).toEqual(ok)
      const startedWhenStopped = await sim.restores("started")
      expect(sim.hydrationRecords()).toEqual([])
      // Past the retries a running hydration would have made (1 s, then 2 s after a failure) and their
      // restores. The fault stays on: a restore asked for before the stop runs its course (as on Lustre),
      // and fails.
      const retriesDone = performance.now() + 3_000 + 2 * RESTORE_DELAY_MS + 1_200
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, retriesDone - performance.now())))
      expect(await sim.restores("started")).toBe(startedWhenStopped)
      expect(await sim.hsmStates([Path.join(sim.filesystem, "bg", late.name)])).toEqual([RELEASED])
      Fs.rmSync(fault)
    })
  })

  describe("a restore that fails before start", { concurrent: true }, () => {
    it("before-start with a restore that fails: UNAVAILABLE naming the file; retried after the fault is gone: OK", { timeout: 60_000 }, async ({ expect }) => {
      const sim = await linkedSimulation(300)
      const good = blob("ok.bin", 1_000)
      const bad = blob("bad.bin", 2_000)
      await sim.importBlobs("fail", [good, bad])
      const fault = Path.join(sim.driver.stateDir, "faults", "hsm-restore-fail")
      Fs.writeFileSync(fault, "fail/bad.bin")
      const volumeId = volumeIdOf("fail")
      const mount = target("fail")
      const context = { "hsm-hydrate": "before-start", ...pvc }

      // Asked three times (the simulation's restore retry: 1 s, then 2 s later) before the publish gives up.
      const refused = await sim.publish(volumeId, mount, context)
      expect(refused).toMatchObject({ ok: false, code: status.UNAVAILABLE })
      const details = refused.ok ? "" : refused.details
      expect(details).toContain(`volume ${volumeId} is mounted but its hydration before start failed`)
      expect(details).toContain("1 of 2 released file(s) could not be restored (bad.bin: Input/output error (simulated hsm-restore-fail))")
      expect(await sim.hsmStates([good, bad].map((file) => Path.join(mount, file.name)))).toEqual([RESIDENT, RELEASED])
      expect(await sim.restores("failed")).toBe(1)
      // The node's own Events (the simulated Lustre client's install) are not the hydration's.
      const hydrationEvents = sim.events().filter((event) => String(event["eventReason"]).startsWith("Hydration"))
      expect(hydrationEvents.map((event) => event.eventReason)).toEqual(["HydrationStarted", "HydrationFailed"])
      expect(await sim.volumeCondition(volumeId, mount)).toMatchObject({ abnormal: true })

      Fs.rmSync(fault)
      expect(await sim.publish(volumeId, mount, context)).toEqual(ok)
      expect(await sim.hsmStates([Path.join(mount, bad.name)])).toEqual([RESIDENT])
      expect(holdsBytes(mount, [good, bad])).toBe(true)
      expect(await sim.unpublish(volumeId, mount)).toEqual(ok)
    })
  })

  describe("a restarted node plugin", { concurrent: true }, () => {
    it("a restarted node plugin resumes a background hydration of a volume still published", { timeout: 40_000 }, async ({ expect }) => {
      const first = await linkedSimulation(1_000)
      const files = [blob("one.bin", 1_000), blob("two.bin", 2_000), blob("three.bin", 3_000)]
      await first.importBlobs("rs", files)
      const volumeId = volumeIdOf("rs")
      const mount = target("rs")
      expect(await first.publish(volumeId, mount, { "hsm-hydrate": "background" })).toEqual(ok)

      // Killed mid-hydration: the restores were asked for, none is back (each takes 1 s).
      first.driver.child.kill("SIGKILL")
      await first.driver.exited
      expect(await first.hsmStates(files.map((file) => Path.join(first.filesystem, "rs", file.name)))).toEqual(files.map(() => RELEASED))
      expect(first.hydrationRecords()).toHaveLength(1)
      expect(mountPointsUnder(mount)).toEqual([mount])

      const restarted = connected(await restartSimulation(first.driver, ["--kubelet-dir", kubeletDir, "--hsm-restore-delay", "1"]))
      drivers.push(restarted.driver)
      await expect.poll(() => restarted.volumeCondition(volumeId, mount), { timeout: 10_000, interval: 200 }).toEqual({
        abnormal: false,
        message: "hydration (background) completed: 0 released file(s) left, 0 restoring, 3 restored, 0 failed"
      })
      expect(restarted.driver.output()).toContain("resuming the hydration of a volume still published here")
      expect(await restarted.hsmStates(files.map((file) => Path.join(mount, file.name)))).toEqual(files.map(() => RESIDENT))
      expect(holdsBytes(mount, files)).toBe(true)
      expect(restarted.hydrationRecords()).toEqual([])
      expect(await restarted.unpublish(volumeId, mount)).toEqual(ok)
    })
  })
})
