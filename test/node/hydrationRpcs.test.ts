import { status } from "@grpc/grpc-js"
import { Duration, Effect, Ref, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { archivedFile, type FakeHsmFile, HsmFake, lostFile, releasedFile } from "../../layers/hsm/HsmFake.js"
import { LustreShellFake } from "../../layers/lustre/LustreShellFake.js"
import type { NodePublishVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { defaultHydrationSettings, type HydrationSettings, type RestoreFailed } from "../../src/node/hsm/hydrate.js"
import type { NodeConfig } from "../../src/node/NodeConfig.js"
import { type Answer, ask } from "../support/csiClient.js"
import { mountCapability } from "../support/csiRequests.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"
import { sampleSum } from "../support/prometheus.js"

/**
 * HSM hydration as the kubelet meets it: NodePublishVolume, NodeUnpublishVolume and
 * NodeGetVolumeStats through the real gRPC server on a unix socket, over the node's fakes
 * (LustreShellFake, HsmFake) on the real clock.
 */

const MGS = "10.0.0.4"
const OTHER_MGS = "10.0.0.5"
const volumeIdOf = (name: string, subDir: string, mgs = MGS) => `${name}#lustrefs#${mgs}#${subDir}#f#`
const VOLUME = volumeIdOf("pv-1", "data")
const podsDir = "/var/lib/kubelet/pods"
const targetOf = (pod: string, pv = "pv-1") => `${podsDir}/${pod}/volumes/kubernetes.io~csi/${pv}/mount`
const targetParents = ["a", "b", "c", "x", "y"].flatMap((pod) => ["pv-1", "pv-2", "pv-3"].map((pv) => Path.dirname(targetOf(pod, pv))))

const beforeStart = { "hsm-hydrate": "before-start" }
const background = { "hsm-hydrate": "background" }
const PVC = { "csi.storage.k8s.io/pvc/name": "claim-1", "csi.storage.k8s.io/pvc/namespace": "team" }
const POD = { "csi.storage.k8s.io/pod.name": "trainer-0", "csi.storage.k8s.io/pod.namespace": "team" }

const fastHydration: HydrationSettings = {
  ...defaultHydrationSettings,
  polling: Schedule.spaced("20 millis"),
  // Two retries, 30 ms apart: a failing file is asked for three times in all.
  retry: Schedule.spaced("30 millis").pipe(Schedule.upTo({ times: 2 })) as Schedule.Schedule<unknown, RestoreFailed>
}

const publishRequest = (overrides: Partial<NodePublishVolumeRequest>): NodePublishVolumeRequest => ({
  volumeId: VOLUME,
  publishContext: {},
  stagingTargetPath: "",
  targetPath: targetOf("a"),
  volumeCapability: mountCapability(),
  readonly: false,
  secrets: {},
  volumeContext: {},
  ...overrides
})

/** A promise whose settling can be looked at without waiting for it. */
const watched = <A>(promise: Promise<A>) => {
  let settled = false
  void promise.then(() => {
    settled = true
  })
  return { promise, isSettled: () => settled }
}

const timed = async <A>(call: () => Promise<A>): Promise<{ readonly answer: A; readonly millis: number }> => {
  const started = performance.now()
  const answer = await call()
  return { answer, millis: performance.now() - started }
}

const detailsOf = (answer: Answer<unknown>): string => (answer.ok ? "" : answer.details)

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})

/**
 * The driver over fakes. HSM files are named relative to the MGS's shared Lustre mount
 * (`data/a.bin` is the file `a.bin` of the volume whose sub-dir is `data`), since the fake
 * shell's open directories are the paths they resolve to.
 */
const start = async (options: {
  readonly files?: ReadonlyArray<readonly [string, FakeHsmFile]>
  readonly restoreTakes?: Duration.Input
  readonly failingRestores?: ReadonlyArray<readonly [string, string]>
  readonly hangingRestores?: ReadonlyArray<string>
  readonly hydration?: Partial<HydrationSettings>
  readonly nodeConfig?: Partial<NodeConfig["Service"]>
} = {}) => {
  const mountRoot = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mounts-"))
  const sharedRoot = `${mountRoot}/${MGS}_lustrefs`
  const absolute = (relative: string) => `${sharedRoot}/${relative}`
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    mountRoot,
    lustreScript: { directories: [podsDir, ...targetParents] },
    hsm: {
      files: (options.files ?? []).map(([relative, file]) => [absolute(relative), file] as const),
      restoreTakes: options.restoreTakes ?? "100 millis",
      failingRestores: (options.failingRestores ?? []).map(([relative, error]) => [absolute(relative), error] as const),
      hangingRestores: (options.hangingRestores ?? []).map(absolute)
    },
    nodeConfig: {
      unmountStepTimeout: Duration.millis(100),
      hydration: { ...fastHydration, ...options.hydration },
      hydrationEventEvery: Duration.minutes(1),
      ...options.nodeConfig
    }
  })
  stops.push(driver.stop)
  const node = driver.client.node
  const fake = <A>(read: (fake: HsmFake["Service"]) => Effect.Effect<A>) => driver.inspect(HsmFake.use(read))
  const relativeOf = (path: string) => path.startsWith(`${sharedRoot}/`) ? path.slice(sharedRoot.length + 1) : path
  return {
    ...driver,
    mountRoot,
    absolute,
    publish: (overrides: Partial<NodePublishVolumeRequest> = {}, deadlineMs?: number) =>
      ask(node, node.nodePublishVolume, publishRequest(overrides), deadlineMs === undefined ? {} : { deadlineMs }),
    unpublish: (targetPath = targetOf("a"), volumeId = VOLUME) => ask(node, node.nodeUnpublishVolume, { volumeId, targetPath }),
    stats: (volumePath = targetOf("a"), volumeId = VOLUME) =>
      ask(node, node.nodeGetVolumeStats, { volumeId, volumePath, stagingTargetPath: "" }),
    /** The volume condition NodeGetVolumeStats reports. */
    condition: async (volumePath = targetOf("a"), volumeId = VOLUME) => {
      const answer = await ask(node, node.nodeGetVolumeStats, { volumeId, volumePath, stagingTargetPath: "" })
      if (!answer.ok) throw new Error(`NodeGetVolumeStats failed: ${answer.code} ${answer.details}`)
      return answer.value.volumeCondition
    },
    /** The files still released, relative to the shared mount, sorted. */
    released: () =>
      fake((hsm) =>
        Effect.map(Ref.get(hsm.files), (files) =>
          [...files].filter(([, file]) => file.state.released).map(([path]) => relativeOf(path)).sort())
      ),
    /** How many files' restores were asked for in all (each `restore` call counts its paths). */
    restoreRequests: () =>
      fake((hsm) =>
        Effect.map(Ref.get(hsm.calls), (calls) =>
          calls.filter((call) => call.operation === "restore").reduce((sum, call) => sum + call.paths, 0))
      ),
    restoring: () => fake((hsm) => Ref.get(hsm.restoring)),
    /**
     * Makes directories in the filesystem (relative to its root) as a publish of them as sub-dirs
     * would: the fake shell opens only directories it knows, and a hydration's prefixes are opened.
     */
    makeDirectories: async (...relatives: ReadonlyArray<string>) => {
      for (const subDir of relatives) {
        const target = targetOf("y", "pv-3")
        const published = await ask(node, node.nodePublishVolume, publishRequest({ targetPath: target, volumeContext: { "sub-dir": subDir } }))
        const unpublished = await ask(node, node.nodeUnpublishVolume, { volumeId: VOLUME, targetPath: target })
        if (!published.ok || !unpublished.ok) throw new Error(`cannot make the directory ${subDir}`)
      }
    },
    commands: () => driver.inspect(LustreShellFake.use((shell) => shell.commands))
  }
}

describe("before-start hydration", () => {
  it("answers OK only once every released file of the volume is resident, and restores nothing outside it", async () => {
    const driver = await start({
      files: [
        ["data/a.bin", releasedFile(100n)],
        ["data/deep/er/b.bin", releasedFile(200n)],
        ["data/resident.bin", archivedFile(50n)],
        ["other/c.bin", releasedFile(300n)]
      ],
      restoreTakes: "300 millis"
    })
    const publishing = watched(driver.publish({ volumeContext: beforeStart }))
    await expect.poll(() => driver.restoring()).toBe(2)
    expect(publishing.isSettled()).toBe(false)
    expect(await driver.released()).toEqual(["data/a.bin", "data/deep/er/b.bin", "other/c.bin"])

    expect(await publishing.promise).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual(["other/c.bin"])
    expect(await driver.restoreRequests()).toBe(2)
  })

  it("restores only under the prefixes of hsm-hydrate-paths", async () => {
    const driver = await start({
      files: [
        ["data/datasets/imagenet/1.bin", releasedFile(10n)],
        ["data/datasets/imagenet/2.bin", releasedFile(20n)],
        ["data/models/m.bin", releasedFile(30n)],
        ["data/datasets-old/x.bin", releasedFile(40n)],
        ["data/top.bin", releasedFile(50n)]
      ]
    })
    await driver.makeDirectories("data/datasets", "data/models", "data/datasets-old")
    const answer = await driver.publish({ volumeContext: { ...beforeStart, "hsm-hydrate-paths": "/datasets, models/" } })
    expect(answer).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual(["data/datasets-old/x.bin", "data/top.bin"])
    expect(await driver.restoreRequests()).toBe(3)
  })

  it("answers OK at once when nothing is released, and for a prefix that does not exist", async () => {
    const driver = await start({ files: [["data/a.bin", archivedFile(10n)]] })
    expect(await driver.publish({ volumeContext: { ...beforeStart, "hsm-hydrate-paths": "missing" } })).toEqual({ ok: true, value: {} })
    expect(await driver.publish({ volumeContext: beforeStart, targetPath: targetOf("b") })).toEqual({ ok: true, value: {} })
    expect(await driver.restoreRequests()).toBe(0)
  })
})

describe("one hydration per volume directory", () => {
  it("publishes of several pods at once wait for the same restores: each file is asked for once", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/b.bin", releasedFile(2n)]],
      restoreTakes: "200 millis"
    })
    const answers = await Promise.all(["a", "b", "c"].map((pod) => driver.publish({ volumeContext: beforeStart, targetPath: targetOf(pod) })))
    expect(answers).toEqual(["a", "b", "c"].map(() => ({ ok: true, value: {} })))
    expect(await driver.released()).toEqual([])
    expect(await driver.restoreRequests()).toBe(2)
  })

  it("the last unpublish stops the hydration that publishes at once started", async () => {
    const driver = await start({
      files: ["1", "2", "3", "4", "5"].map((n) => [`data/${n}.bin`, releasedFile(1n)] as const),
      restoreTakes: "150 millis",
      hydration: { maxInFlight: 1 }
    })
    const answers = await Promise.all(["a", "b"].map((pod) => driver.publish({ volumeContext: background, targetPath: targetOf(pod) })))
    expect(answers).toEqual([{ ok: true, value: {} }, { ok: true, value: {} }])
    await expect.poll(() => driver.restoreRequests()).toBeGreaterThanOrEqual(1)
    for (const pod of ["a", "b"]) expect(await driver.unpublish(targetOf(pod))).toEqual({ ok: true, value: {} })
    const asked = await driver.restoreRequests()
    await sleep(450)
    expect(await driver.restoreRequests()).toBe(asked)
  })

  it("hydrates a read-only publish as well (the restores go through the node's writable mount)", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]] })
    expect(await driver.publish({ volumeContext: beforeStart, readonly: true })).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual([])
    // A read-write publish of the same directory is the same hydration: already done, nothing asked again.
    expect(await driver.publish({ volumeContext: beforeStart, targetPath: targetOf("b") })).toEqual({ ok: true, value: {} })
    expect(await driver.restoreRequests()).toBe(1)
  })
})

describe("a publish the kubelet cuts", () => {
  const threeFiles: ReadonlyArray<readonly [string, FakeHsmFile]> = [
    ["data/a.bin", releasedFile(1n)],
    ["data/b.bin", releasedFile(2n)],
    ["data/c.bin", releasedFile(3n)]
  ]

  it("stops the wait, not the restores: the files come back without another call, and the retry answers OK", async () => {
    const driver = await start({ files: threeFiles, restoreTakes: "600 millis" })
    const cut = await driver.publish({ volumeContext: beforeStart }, 250)
    expect(cut.ok ? status.OK : cut.code).toSatisfy((code: status) =>
      code === status.DEADLINE_EXCEEDED || code === status.CANCELLED
    )
    expect(await driver.released()).toHaveLength(3)

    await expect.poll(() => driver.released(), { timeout: 1500, interval: 25 }).toEqual([])
    expect(await driver.publish({ volumeContext: beforeStart })).toEqual({ ok: true, value: {} })
    expect(await driver.restoreRequests()).toBe(3)
  })

  it("its retry during the restores joins them: each file is asked for once", async () => {
    const driver = await start({ files: threeFiles, restoreTakes: "500 millis" })
    const cut = await driver.publish({ volumeContext: beforeStart }, 200)
    expect(cut).toMatchObject({ ok: false })
    expect(await driver.released()).toHaveLength(3)

    expect(await driver.publish({ volumeContext: beforeStart })).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual([])
    expect(await driver.restoreRequests()).toBe(3)
  })
})

describe("files that cannot be restored", () => {
  it("answers UNAVAILABLE naming the file and the HSM's error after the retries, and restores the others", async () => {
    const error = "copytool: blob azurelustre/data/b.bin not found (fake)"
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/sub/b.bin", releasedFile(2n)], ["data/c.bin", releasedFile(3n)]],
      restoreTakes: "50 millis",
      failingRestores: [["data/sub/b.bin", error]]
    })
    const answer = await driver.publish({ volumeContext: beforeStart })
    expect(answer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(detailsOf(answer)).toContain(`sub/b.bin: ${error}`)
    expect(detailsOf(answer)).toContain("1 of 3 released file(s) could not be restored")
    expect(detailsOf(answer)).not.toContain(driver.mountRoot)
    expect(await driver.released()).toEqual(["data/sub/b.bin"])
    // a and c once each, b once and twice again on the retry Schedule.
    expect(await driver.restoreRequests()).toBe(2 + 3)
  })

  it("restores a failed file on the kubelet's retry once the HSM can", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/b.bin", releasedFile(2n)]],
      restoreTakes: "20 millis",
      failingRestores: [["data/b.bin", "copytool: Input/output error (fake)"]]
    })
    expect(await driver.publish({ volumeContext: beforeStart })).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(await driver.released()).toEqual(["data/b.bin"])
    await driver.inspect(HsmFake.use((hsm) => Ref.set(hsm.failingRestores, new Map())))
    expect(await driver.publish({ volumeContext: beforeStart })).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual([])
    expect(await driver.restoreRequests()).toBe(1 + 3 + 1)
  })

  it("answers UNAVAILABLE naming a lost file with lost_from_hsm, without asking for its restore", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)], ["data/gone.bin", lostFile(2n)]] })
    const answer = await driver.publish({ volumeContext: beforeStart })
    expect(answer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(detailsOf(answer)).toContain("gone.bin: lost_from_hsm")
    expect(await driver.released()).toEqual(["data/gone.bin"])
    expect(await driver.restoreRequests()).toBe(1)
  })
})

describe("background hydration", () => {
  it("answers at once, restores afterwards, and tells its progress in volume_condition", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/b.bin", releasedFile(2n)], ["data/c.bin", releasedFile(3n)]],
      restoreTakes: "400 millis"
    })
    const { answer, millis } = await timed(() => driver.publish({ volumeContext: background }))
    expect(answer).toEqual({ ok: true, value: {} })
    expect(millis).toBeLessThan(300)
    expect(await driver.released()).toHaveLength(3)

    const running = await driver.condition()
    expect(running?.abnormal).toBe(false)
    expect(running?.message).toMatch(/^hydration \(background\) running: \d released file\(s\) left, \d restoring, 0 restored, 0 failed/)

    await expect.poll(() => driver.released(), { timeout: 1500, interval: 25 }).toEqual([])
    await expect.poll(async () => (await driver.condition())?.message, { timeout: 500, interval: 25 }).toBe(
      "hydration (background) completed: 0 released file(s) left, 0 restoring, 3 restored, 0 failed"
    )
    expect((await driver.condition())?.abnormal).toBe(false)
  })

  it("reports an abnormal volume_condition naming the files it could not restore", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/b.bin", releasedFile(2n)]],
      restoreTakes: "30 millis",
      failingRestores: [["data/b.bin", "copytool: Input/output error (fake)"]]
    })
    expect(await driver.publish({ volumeContext: background })).toEqual({ ok: true, value: {} })
    await expect.poll(async () => (await driver.condition())?.abnormal, { timeout: 1500, interval: 25 }).toBe(true)
    const failed = await driver.condition()
    expect(failed?.message).toMatch(/^hydration \(background\) failed: /)
    expect(failed?.message).toContain("b.bin: copytool: Input/output error (fake)")
    expect(await driver.released()).toEqual(["data/b.bin"])
  })

  it("reports a normal, empty volume_condition for a volume published without hydration", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]] })
    expect(await driver.publish()).toEqual({ ok: true, value: {} })
    expect(await driver.condition()).toEqual({ abnormal: false, message: "" })
    expect(await driver.restoreRequests()).toBe(0)
  })
})

describe("unpublish and a running hydration", () => {
  const fiveFiles: ReadonlyArray<readonly [string, FakeHsmFile]> = ["1", "2", "3", "4", "5"].map((n) =>
    [`data/${n}.bin`, releasedFile(1n)] as const
  )

  it("the last unpublish stops it: no restore is asked for afterwards and its view is gone", async () => {
    const driver = await start({ files: fiveFiles, restoreTakes: "150 millis", hydration: { maxInFlight: 1 } })
    // Another volume of the same filesystem keeps the shared Lustre mount (and so the directory's identity).
    const keeper = volumeIdOf("pv-2", "other")
    expect(await driver.publish({ volumeId: keeper, targetPath: targetOf("x", "pv-2") })).toEqual({ ok: true, value: {} })
    expect(await driver.publish({ volumeContext: background })).toEqual({ ok: true, value: {} })
    await expect.poll(() => driver.restoreRequests()).toBeGreaterThanOrEqual(1)
    expect((await driver.condition())?.message).toMatch(/^hydration \(background\) running/)

    expect(await driver.unpublish()).toEqual({ ok: true, value: {} })
    const asked = await driver.restoreRequests()
    await sleep(450)
    expect(await driver.restoreRequests()).toBe(asked)
    expect((await driver.released()).length).toBeGreaterThanOrEqual(5 - asked)
    expect(asked).toBeLessThan(5)

    // The same directory published again without hydration shows no hydration.
    expect(await driver.publish({ targetPath: targetOf("c") })).toEqual({ ok: true, value: {} })
    expect(await driver.condition(targetOf("c"))).toEqual({ abnormal: false, message: "" })
  })

  it("an unpublish right after a background publish stops the hydration before it asks for anything", async () => {
    const driver = await start({ files: fiveFiles, restoreTakes: "100 millis", hydration: { maxInFlight: 1 } })
    expect(await driver.publish({ volumeContext: background })).toEqual({ ok: true, value: {} })
    expect(await driver.unpublish()).toEqual({ ok: true, value: {} })
    const asked = await driver.restoreRequests()
    await sleep(300)
    expect(await driver.restoreRequests()).toBe(asked)
    expect(await driver.released()).toHaveLength(5 - asked)
  })

  it("an unpublish of one of two pods of the volume leaves it running to its end", async () => {
    const driver = await start({ files: fiveFiles, restoreTakes: "60 millis", hydration: { maxInFlight: 1 } })
    expect(await driver.publish({ volumeContext: background })).toEqual({ ok: true, value: {} })
    expect(await driver.publish({ volumeContext: background, targetPath: targetOf("b") })).toEqual({ ok: true, value: {} })
    await expect.poll(() => driver.restoreRequests()).toBeGreaterThanOrEqual(1)
    expect(await driver.unpublish(targetOf("b"))).toEqual({ ok: true, value: {} })

    await expect.poll(() => driver.released(), { timeout: 1500, interval: 25 }).toEqual([])
    expect(await driver.restoreRequests()).toBe(5)
    await expect.poll(async () => (await driver.condition())?.message, { timeout: 500, interval: 25 }).toMatch(
      /^hydration \(background\) completed: .*5 restored, 0 failed/
    )
  })
})

describe("a hydration holds no lock", () => {
  it("while a before-start publish waits, other volumes and another target of the same volume publish and unpublish promptly", async () => {
    const lockWait = 1000
    const driver = await start({
      files: [["data/stuck.bin", releasedFile(1n)]],
      hangingRestores: ["data/stuck.bin"],
      nodeConfig: { lockWait: Duration.millis(lockWait) }
    })
    expect(await driver.publish({ targetPath: targetOf("b") })).toEqual({ ok: true, value: {} })
    const waiting = watched(driver.publish({ volumeContext: beforeStart }))
    await expect.poll(() => driver.restoring()).toBe(1)

    const sameFilesystem = volumeIdOf("pv-2", "other")
    const otherFilesystem = volumeIdOf("pv-3", "data", OTHER_MGS)
    const calls: ReadonlyArray<readonly [string, () => Promise<Answer<unknown>>]> = [
      ["publish of another sub-dir", () => driver.publish({ volumeId: sameFilesystem, targetPath: targetOf("x", "pv-2") })],
      ["unpublish of another sub-dir", () => driver.unpublish(targetOf("x", "pv-2"), sameFilesystem)],
      ["publish of another filesystem", () => driver.publish({ volumeId: otherFilesystem, targetPath: targetOf("y", "pv-3") })],
      ["unpublish of another filesystem", () => driver.unpublish(targetOf("y", "pv-3"), otherFilesystem)],
      ["unpublish of another target of the volume", () => driver.unpublish(targetOf("b"))]
    ]
    for (const [name, call] of calls) {
      const { answer, millis } = await timed(call)
      expect({ name, answer }).toEqual({ name, answer: { ok: true, value: {} } })
      expect(millis, name).toBeLessThan(lockWait / 3)
    }
    expect(waiting.isSettled()).toBe(false)

    // Its own last unpublish stops the hydration, and the waiting publish is told so.
    expect(await driver.unpublish()).toEqual({ ok: true, value: {} })
    const stopped = await waiting.promise
    expect(stopped).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(detailsOf(stopped)).toContain("stopped")
  })
})

describe("hydration Events", () => {
  it("records HydrationStarted and HydrationCompleted regarding the PVC", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]] })
    expect(await driver.publish({ volumeContext: { ...beforeStart, ...PVC, ...POD } })).toEqual({ ok: true, value: {} })
    const regarding = { kind: "PersistentVolumeClaim", namespace: "team", name: "claim-1" }
    expect(driver.hydrationEvents()).toEqual([
      { regarding, type: "Normal", reason: "HydrationStarted", note: expect.stringContaining("before the pod starts") },
      { regarding, type: "Normal", reason: "HydrationCompleted", note: expect.stringContaining("1 of 1 released file(s) restored") }
    ])
  })

  it("records them regarding the pod when the volume context names no PVC, and HydrationFailed as a Warning", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)]],
      restoreTakes: "20 millis",
      failingRestores: [["data/a.bin", "copytool: Input/output error (fake)"]]
    })
    expect(await driver.publish({ volumeContext: { ...beforeStart, ...POD } })).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    const regarding = { kind: "Pod", namespace: "team", name: "trainer-0" }
    expect(driver.hydrationEvents()).toEqual([
      { regarding, type: "Normal", reason: "HydrationStarted", note: expect.any(String) },
      { regarding, type: "Warning", reason: "HydrationFailed", note: expect.stringContaining("a.bin: copytool: Input/output error (fake)") }
    ])
  })

  it("records HydrationProgress every hydrationEventEvery while a before-start hydration runs", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/b.bin", releasedFile(2n)]],
      restoreTakes: "400 millis",
      nodeConfig: { hydrationEventEvery: Duration.millis(100) }
    })
    expect(await driver.publish({ volumeContext: { ...beforeStart, ...PVC } })).toEqual({ ok: true, value: {} })
    const reasons = driver.hydrationEvents().map((event) => event.reason)
    expect(reasons[0]).toBe("HydrationStarted")
    expect(reasons.at(-1)).toBe("HydrationCompleted")
    const progress = driver.hydrationEvents().filter((event) => event.reason === "HydrationProgress")
    expect(progress.length).toBeGreaterThanOrEqual(2)
    expect(progress.map((event) => event.note)).toContainEqual(expect.stringMatching(/^0 of 2 released file\(s\) restored/))
  })

  it("records none when the volume context names neither a PVC nor a pod", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]] })
    expect(await driver.publish({ volumeContext: beforeStart })).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual([])
    expect(driver.hydrationEvents()).toEqual([])
  })
})

describe("hydration settings in the request", () => {
  it.each<[string, Partial<NodePublishVolumeRequest>, ReadonlyArray<string>]>([
    ["a mode that is not one", { volumeContext: { "hsm-hydrate": "eager" } }, ['"hsm-hydrate"', "eager"]],
    ["both mount option aliases", { volumeCapability: mountCapability(undefined, ["hsm-aware", "auto-import"]) }, ["hsm-aware", "auto-import"]],
    ["an alias that disagrees with hsm-hydrate", {
      volumeContext: beforeStart,
      volumeCapability: mountCapability(undefined, ["hsm-aware"])
    }, ["hsm-aware", '"hsm-hydrate"']],
    ["a prefix escaping the volume", { volumeContext: { ...beforeStart, "hsm-hydrate-paths": "datasets,../../etc" } }, [
      '"hsm-hydrate-paths"',
      ".."
    ]],
    ["prefixes while hydration is off", { volumeContext: { "hsm-hydrate-paths": "datasets" } }, ['"hsm-hydrate-paths"', "off"]]
  ])("refuses %s with INVALID_ARGUMENT naming it, mounting nothing", async (_case, overrides, named) => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]] })
    const answer = await driver.publish(overrides)
    expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    for (const words of named) expect(detailsOf(answer)).toContain(words)
    expect(await driver.commands()).toEqual([])
    expect(await driver.restoreRequests()).toBe(0)
  })

  it("takes the mount option auto-import for before-start and never hands it to mount(8)", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]], restoreTakes: "200 millis" })
    const capability = mountCapability(undefined, ["noatime,auto-import"])
    expect(await driver.publish({ volumeCapability: capability })).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual([])
    const commands = await driver.commands()
    expect(commands.filter((command) => command.startsWith("mount -t lustre"))).toEqual([
      `mount -t lustre -o noatime ${MGS}@tcp:/lustrefs ${driver.mountRoot}/${MGS}_lustrefs`
    ])
    expect(commands.filter((command) => command.includes("auto-import"))).toEqual([])
  })

  it("takes the mount option hsm-aware for background", async () => {
    const driver = await start({ files: [["data/a.bin", releasedFile(1n)]], restoreTakes: "300 millis" })
    expect(await driver.publish({ volumeCapability: mountCapability(undefined, ["hsm-aware"]) })).toEqual({ ok: true, value: {} })
    expect(await driver.released()).toEqual(["data/a.bin"])
    expect((await driver.condition())?.message).toMatch(/^hydration \(background\) running/)
    await expect.poll(() => driver.released(), { timeout: 1500, interval: 25 }).toEqual([])
    expect((await driver.commands()).filter((command) => command.includes("hsm-aware"))).toEqual([])
  })
})

describe("hydration metrics", () => {
  it("counts each restored file and its bytes once", async () => {
    const sizes = [100n, 2000n, 30_000n, 400_000n]
    const driver = await start({ files: sizes.map((size, i) => [`data/f${i}.bin`, releasedFile(size)] as const) })
    expect(await driver.publish({ volumeContext: beforeStart })).toEqual({ ok: true, value: {} })
    const text = await driver.metrics()
    expect(sampleSum(text, "azurelustre_csi_hsm_restores_total", { outcome: "completed" })).toBe(sizes.length)
    expect(sampleSum(text, "azurelustre_csi_hsm_restores_total", { outcome: "started" })).toBe(sizes.length)
    expect(sampleSum(text, "azurelustre_csi_hsm_restores_total", { outcome: "failed" })).toBe(0)
    expect(sampleSum(text, "azurelustre_csi_hsm_restored_bytes_total")).toBe(Number(sizes.reduce((sum, size) => sum + size, 0n)))
    // Every file named once in a restore request and once in a walk's batch; the requests are batched.
    expect(sampleSum(text, "azurelustre_csi_hsm_operation_files_total", { operation: "restore" })).toBe(sizes.length)
    expect(sampleSum(text, "azurelustre_csi_hsm_operation_files_total", { operation: "find_released" })).toBe(sizes.length)
    expect(sampleSum(text, "azurelustre_csi_hsm_operations_total", { operation: "restore" })).toBeLessThan(sizes.length)
  })

  it("samples the released files left of a running hydration", async () => {
    const driver = await start({
      files: [["data/a.bin", releasedFile(1n)], ["data/b.bin", releasedFile(2n)], ["data/c.bin", releasedFile(3n)]],
      restoreTakes: "400 millis",
      nodeConfig: { hydrationEventEvery: Duration.millis(50) }
    })
    const releasedLeft = async () =>
      sampleSum(await driver.metrics(), "azurelustre_csi_hsm_released_files", { volume: VOLUME })
    expect(await driver.publish({ volumeContext: background })).toEqual({ ok: true, value: {} })
    await expect.poll(releasedLeft, { timeout: 500, interval: 20 }).toBe(3)
    await expect.poll(releasedLeft, { timeout: 1500, interval: 25 }).toBe(0)
    expect(await driver.released()).toEqual([])
  })
})
