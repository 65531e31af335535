import { status } from "@grpc/grpc-js"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, afterEach, expect, it } from "vitest"
import {
  type NodePublishVolumeRequest,
  VolumeCapability_AccessMode_Mode,
  VolumeUsage_Unit
} from "../../src/gen/csi.js"
import { ask, csiClient } from "../support/csiClient.js"
import { type DriverProcess, startSimulation } from "../support/driverProcess.js"
import { createVolumeRequest, mountCapability } from "../support/csiRequests.js"
import { rootOnly } from "../support/rootOnly.js"

const asRoot = rootOnly()

const MGS = "10.0.0.4"
const capability = mountCapability

const mountTable = () => Fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
const mountsUnder = (dir: string) => mountTable().filter((line) => line.split(" ")[4]?.startsWith(dir)).length

let drivers: Array<DriverProcess> = []
const scratch = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-targets-"))
afterEach(() => {
  for (const driver of drivers) driver.child.kill("SIGKILL")
  drivers = []
})
afterAll(() => {
  // Whatever a failed test left mounted, lazily: never leave mounts behind on the machine.
  for (const line of mountTable().reverse()) {
    const mountPoint = line.split(" ")[4]
    if (mountPoint !== undefined && (mountPoint.startsWith(scratch) || mountPoint.includes("csi-sim-"))) {
      execFileSync("umount", ["-l", mountPoint])
    }
  }
})

const simulation = async (args: ReadonlyArray<string> = []) => {
  const driver = await startSimulation(["--kubelet-dir", scratch, ...args])
  drivers.push(driver)
  return { driver, client: csiClient(driver.socketPath) }
}

const target = (name: string) => Path.join(scratch, "pods", name, "mount")
const publishRequest = (volumeId: string, targetPath: string, extra: Partial<NodePublishVolumeRequest> = {}): NodePublishVolumeRequest => ({
  volumeId,
  publishContext: {},
  stagingTargetPath: "",
  targetPath,
  volumeCapability: capability(),
  readonly: false,
  secrets: {},
  volumeContext: {},
  ...extra
})

asRoot.describe("static volumes on the simulation (real bind mounts)", () => {
  it("creates a static volume, publishes it twice over one shared mount, shows stats, unpublishes", async () => {
    const { driver, client } = await simulation()
    const created = await ask(
      client.controller,
      client.controller.createVolume,
      createVolumeRequest("pv-data", { "mgs-ip-address": MGS, "sub-dir": "team/data" }, {
        capacityRange: { requiredBytes: 4n * 1024n ** 4n, limitBytes: 0n }
      })
    )
    expect(created.ok && created.value.volume?.volumeId).toBe(`pv-data#lustrefs#${MGS}#team/data#f#`)
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    const volumeContext = created.ok ? created.value.volume?.volumeContext ?? {} : {}

    for (const name of ["pod-a", "pod-b"]) {
      const answer = await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, target(name), { volumeContext }))
      expect(answer).toEqual({ ok: true, value: {} })
    }
    Fs.writeFileSync(Path.join(target("pod-a"), "hello.txt"), "written through pod-a")
    expect(Fs.readFileSync(Path.join(target("pod-b"), "hello.txt"), "utf8")).toBe("written through pod-a")
    expect(mountsUnder(Path.join(driver.stateDir, "mounts"))).toBe(1)

    const stats = await ask(client.node, client.node.nodeGetVolumeStats, { volumeId, volumePath: target("pod-a"), stagingTargetPath: "" })
    expect(stats.ok && stats.value.volumeCondition).toEqual({ abnormal: false, message: "" })
    expect(stats.ok && stats.value.usage.map((u) => u.unit)).toEqual([VolumeUsage_Unit.BYTES, VolumeUsage_Unit.INODES])
    expect(stats.ok && (stats.value.usage[0]?.total ?? 0n) > 0n).toBe(true)

    expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: target("pod-a") })).toEqual({ ok: true, value: {} })
    expect(mountsUnder(Path.join(driver.stateDir, "mounts"))).toBe(1)
    expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: target("pod-b") })).toEqual({ ok: true, value: {} })
    expect(mountsUnder(Path.join(driver.stateDir, "mounts"))).toBe(0)
    expect(Fs.existsSync(target("pod-a"))).toBe(false)
    // The data stays in the filesystem: directories are never deleted.
    expect(Fs.readFileSync(Path.join(driver.stateDir, "filesystems", MGS, "lustrefs", "team/data/hello.txt"), "utf8")).toBe("written through pod-a")
    client.close()
  })

  it("is idempotent: publish again succeeds, another source is ALREADY_EXISTS, unpublish twice succeeds", async () => {
    const { client } = await simulation()
    const volumeId = `pv-1#lustrefs#${MGS}#one#f#`
    const other = `pv-2#lustrefs#${MGS}#two#f#`
    const t = target("idem")
    expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, t))).toEqual({ ok: true, value: {} })
    expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, t))).toEqual({ ok: true, value: {} })
    expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(other, t))).toMatchObject({ ok: false, code: status.ALREADY_EXISTS })
    expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, t, { readonly: true }))).toMatchObject({
      ok: false,
      code: status.ALREADY_EXISTS
    })
    expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: t })).toEqual({ ok: true, value: {} })
    expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: t })).toEqual({ ok: true, value: {} })
    client.close()
  })

  it("publishes read-only when asked: writes fail with EROFS", async () => {
    const { client } = await simulation()
    const volumeId = `pv-ro#lustrefs#${MGS}#ro#f#`
    const t = target("ro")
    const answer = await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, t, {
      volumeCapability: capability(VolumeCapability_AccessMode_Mode.MULTI_NODE_READER_ONLY)
    }))
    expect(answer).toEqual({ ok: true, value: {} })
    expect(() => Fs.writeFileSync(Path.join(t, "x"), "no")).toThrow(/EROFS/)
    await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: t })
    client.close()
  })

  it("resolves sub-dir templates from the pod's details and refuses escapes", async () => {
    const { driver, client } = await simulation()
    const volumeId = `pv-t#lustrefs#${MGS}##f#`
    const podContext = {
      "sub-dir": "ns/${pod.metadata.namespace}/${pod.metadata.name}",
      "csi.storage.k8s.io/pod.name": "trainer-0",
      "csi.storage.k8s.io/pod.namespace": "ml"
    }
    const t = target("templated")
    expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, t, { volumeContext: podContext }))).toEqual({ ok: true, value: {} })
    expect(Fs.statSync(Path.join(driver.stateDir, "filesystems", MGS, "lustrefs", "ns/ml/trainer-0")).isDirectory()).toBe(true)
    await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: t })

    for (const subDir of ["../escape", "/abs", "${pod.metadata.nmae}", "a/${pod.metadata.uid}"]) {
      const answer = await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, target("bad"), { volumeContext: { "sub-dir": subDir } }))
      expect(answer, subDir).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    }
    Fs.mkdirSync(Path.join(driver.stateDir, "filesystems", MGS, "lustrefs"), { recursive: true })
    Fs.symlinkSync(scratch, Path.join(driver.stateDir, "filesystems", MGS, "lustrefs", "link-out"))
    const escaped = await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, target("sym"), { volumeContext: { "sub-dir": "link-out/x" } }))
    expect(escaped).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    client.close()
  })

  it("answers UNAVAILABLE naming the MGS when it does not answer an LNet ping", async () => {
    const { driver, client } = await simulation()
    Fs.writeFileSync(Path.join(driver.stateDir, "faults", "mgs-unreachable"), "10.9.9.9")
    const answer = await ask(client.node, client.node.nodePublishVolume, publishRequest(`pv-u#lustrefs#10.9.9.9##f#`, target("unreachable")))
    expect(answer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(answer.ok ? "" : answer.details).toContain("10.9.9.9")
    client.close()
  })

  it("a hung mount of filesystem A does not delay a publish on filesystem B", async () => {
    const { driver, client } = await simulation(["--mount-timeout", "3"])
    Fs.writeFileSync(Path.join(driver.stateDir, "faults", "mount-hang"), "10.0.0.7")
    let hungSettled = false
    const hung = ask(client.node, client.node.nodePublishVolume, publishRequest(`pv-a#lustrefs#10.0.0.7##f#`, target("hung")))
      .finally(() => (hungSettled = true))
    // The hung publish holds filesystem A once it has made A's mount point and started mounting.
    await expect.poll(() => Fs.existsSync(Path.join(driver.stateDir, "mounts", "10.0.0.7_lustrefs"))).toBe(true)
    const other = await ask(client.node, client.node.nodePublishVolume, publishRequest(`pv-b#lustrefs#${MGS}##f#`, target("fine")))
    expect(other).toEqual({ ok: true, value: {} })
    expect(hungSettled).toBe(false)
    const hungAnswer = await hung
    expect(hungAnswer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(hungAnswer.ok ? "" : hungAnswer.details).toContain("did not finish within")
    await ask(client.node, client.node.nodeUnpublishVolume, { volumeId: `pv-b#lustrefs#${MGS}##f#`, targetPath: target("fine") })
    client.close()
  })

  it("a restarted driver unpublishes what the one before it published", async () => {
    const first = await simulation()
    const volumeId = `pv-r#lustrefs#${MGS}#r#f#`
    expect(await ask(first.client.node, first.client.node.nodePublishVolume, publishRequest(volumeId, target("restart")))).toEqual({ ok: true, value: {} })
    first.client.close()
    first.driver.child.kill("SIGKILL")
    await first.driver.exited

    const second = await startSimulation(["--state-dir", first.driver.stateDir, "--kubelet-dir", scratch])
    drivers.push(second)
    const client = csiClient(second.socketPath)
    expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: target("restart") })).toEqual({ ok: true, value: {} })
    expect(mountsUnder(Path.join(first.driver.stateDir, "mounts"))).toBe(0)
    expect(mountsUnder(target("restart"))).toBe(0)
    client.close()
  })
})
