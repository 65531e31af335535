import { status } from "@grpc/grpc-js"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { parseMountInfo } from "../../layers/lustre/mountinfo.js"
import { VolumeCapability_AccessMode_Mode } from "../../src/gen/csi.js"
import { ask, csiClient } from "../support/csiClient.js"
import { mountCapability, publishRequest } from "../support/csiRequests.js"
import { type DriverProcess, startSimulation } from "../support/driverProcess.js"
import { mountPointsUnder, scratchFolder, unmountAllUnder } from "../support/mounts.js"
import { rootOnly } from "../support/rootOnly.js"

const asRoot = rootOnly()

// The node plugin's safety, on the simulation's real bind mounts (root): what it touches, what it
// leaves alone, and what a cut publish leaves behind.

const scratch = scratchFolder("csi-safety-")
const pods = Path.join(scratch, "pods")
const target = (pod: string) => Path.join(pods, pod, "volumes", "kubernetes.io~csi", "pv", "mount")
const readOnly = mountCapability(VolumeCapability_AccessMode_Mode.MULTI_NODE_READER_ONLY)

let drivers: Array<DriverProcess> = []
afterEach(() => {
  for (const driver of drivers) driver.child.kill("SIGKILL")
  drivers = []
})
afterAll(() => unmountAllUnder(scratch))

const simulation = async (args: ReadonlyArray<string> = []) => {
  const driver = await startSimulation(["--kubelet-dir", scratch, ...args])
  drivers.push(driver)
  const client = csiClient(driver.socketPath)
  const node = client.node
  return {
    driver,
    client,
    publish: (volumeId: string, targetPath: string, extra: Parameters<typeof publishRequest>[2] = {}, deadlineMs?: number) =>
      ask(node, node.nodePublishVolume, publishRequest(volumeId, targetPath, extra), deadlineMs === undefined ? {} : { deadlineMs }),
    unpublish: (volumeId: string, targetPath: string) => ask(node, node.nodeUnpublishVolume, { volumeId, targetPath }),
    stats: (volumeId: string, volumePath: string) => ask(node, node.nodeGetVolumeStats, { volumeId, volumePath, stagingTargetPath: "" })
  }
}

const mountsAt = (path: string) =>
  parseMountInfo(Fs.readFileSync("/proc/self/mountinfo", "utf8")).entries.filter((entry) => entry.mountPoint === path)
const isReadOnly = (path: string) => mountsAt(path).every((entry) => entry.options.includes("ro"))
const ok = { ok: true, value: {} }

/** mount(8) processes binding a directory held open by the process `pid` (they outlive it). */
const processesMountingFrom = (pid: number) =>
  Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).filter((name) => {
    try {
      return Fs.readFileSync(`/proc/${name}/cmdline`, "utf8").includes(`/proc/${pid}/fd/`)
    } catch {
      return false
    }
  }).length

asRoot.describe("the node plugin acts only on what is provably its own", () => {
  it("leaves a foreign mount at a target alone: unpublish FAILED_PRECONDITION, stats NOT_FOUND", async () => {
    const { unpublish, stats } = await simulation()
    const volumeId = "pv-f#lustrefs#10.0.0.4#f#f#"
    Fs.mkdirSync(target("tmpfs"), { recursive: true })
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", target("tmpfs")])
    Fs.mkdirSync(target("host"), { recursive: true })
    execFileSync("mount", ["--bind", "/etc", target("host")])
    for (const pod of ["tmpfs", "host"]) {
      const answer = await unpublish(volumeId, target(pod))
      expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
      expect(answer.ok ? "" : answer.details).toContain("not this driver's")
      expect(mountsAt(target(pod))).toHaveLength(1)
      expect(await stats(volumeId, target(pod))).toMatchObject({ ok: false, code: status.NOT_FOUND })
    }
    expect(Fs.existsSync("/etc/hostname") || Fs.existsSync("/etc/passwd")).toBe(true)
    for (const pod of ["tmpfs", "host"]) execFileSync("umount", [target(pod)])
  })

  it("refuses paths outside kubelet's pods folder, the shared mount itself included, and touches nothing", async () => {
    const { driver, publish, unpublish, stats } = await simulation()
    const volumeId = "pv-o#lustrefs#10.0.0.4#o#f#"
    expect(await publish(volumeId, target("o"))).toEqual(ok)
    const shared = Path.join(Fs.realpathSync(driver.stateDir), "mounts", "10.0.0.4_lustrefs")
    for (const path of ["/", "/etc", shared, pods, `${scratch}/elsewhere/mount`]) {
      expect(await unpublish(volumeId, path)).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
      expect(await stats(volumeId, path)).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    }
    expect(mountsAt(shared)).toHaveLength(1)
    expect(await unpublish(volumeId, target("o"))).toEqual(ok)
    expect(mountPointsUnder(scratch)).toEqual([])
    expect(mountPointsUnder(Fs.realpathSync(driver.stateDir))).toEqual([])
  })

  it("never removes a folder outside the pods folder through a symlink, nor reports on one", async () => {
    const { unpublish, stats } = await simulation()
    const volumeId = "pv-s#lustrefs#10.0.0.4#s#f#"
    const outside = scratchFolder("csi-outside-")
    Fs.mkdirSync(Path.join(outside, "mount"))
    Fs.symlinkSync(outside, Path.join(pods, "linked"))
    expect(await unpublish(volumeId, Path.join(pods, "linked", "mount"))).toEqual(ok)
    expect(Fs.existsSync(Path.join(outside, "mount"))).toBe(true)
    expect(await stats(volumeId, Path.join(pods, "linked", "mount"))).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
  })

  it("never nests targets, and a target hidden by a later mount answers FAILED_PRECONDITION, not INTERNAL", async () => {
    const { publish, unpublish } = await simulation()
    const volumeId = "pv-n#lustrefs#10.0.0.4#n#f#"
    const outer = target("nest")
    const inner = Path.join(outer, "nested")
    expect(await publish(volumeId, inner)).toEqual(ok)
    expect(await publish(volumeId, outer)).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(await unpublish(volumeId, inner)).toEqual(ok)
    expect(await publish(volumeId, outer)).toEqual(ok)
    expect(await publish(volumeId, Path.join(outer, "deeper"))).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    // Nested by hand, as no publish would: the hidden bind is left for its owner, with the reason.
    const hidden = target("hidden")
    expect(await publish(volumeId, Path.join(hidden, "nested"))).toEqual(ok)
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", hidden])
    const answer = await unpublish(volumeId, Path.join(hidden, "nested"))
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(answer.ok ? "" : answer.details).toContain("hidden under the mount")
    execFileSync("umount", [hidden])
    expect(await unpublish(volumeId, Path.join(hidden, "nested"))).toEqual(ok)
    expect(await unpublish(volumeId, outer)).toEqual(ok)
    expect(mountPointsUnder(scratch)).toEqual([])
  })
})

asRoot.describe("target paths in canonical form", () => {
  it("a publish and its unpublish meet the same mount, however the path is spelled", async () => {
    const { publish, unpublish } = await simulation()
    const volumeId = "pv-c#lustrefs#10.0.0.4#c#f#"
    const spelled = target("c")
    for (const spelling of [`${spelled}/`, spelled.replace("/pods/", "//pods//"), spelled.replace("/pods/", "/pods/./")]) {
      expect(await publish(volumeId, spelling)).toEqual(ok)
    }
    expect(mountsAt(spelled)).toHaveLength(1)
    const dotDot = await publish(volumeId, spelled.replace("/pods/", "/pods/x/../"))
    expect(dotDot).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(dotDot.ok ? "" : dotDot.details).toContain('".."')
    expect(await unpublish(volumeId, `${spelled}//`)).toEqual(ok)
    expect(mountPointsUnder(scratch)).toEqual([])
  })

  it("finds its mount root again through a symlinked state folder with a trailing slash: the last unpublish unmounts Lustre", async () => {
    const real = scratchFolder("csi-state-")
    const link = `${real}-link`
    Fs.symlinkSync(real, link)
    const { publish, unpublish } = await simulation(["--state-dir", `${link}/`])
    const volumeId = "pv-l#lustrefs#10.0.0.4#l#f#"
    expect(await publish(volumeId, target("l"))).toEqual(ok)
    expect(mountPointsUnder(real)).toHaveLength(1)
    expect(await unpublish(volumeId, target("l"))).toEqual(ok)
    expect(mountPointsUnder(real)).toEqual([])
  })
})

asRoot.describe("publishes are atomic as the kubelet sees them", () => {
  it("read-only publishes cut by their deadline leave no writable mount, and their retries succeed", async () => {
    const { publish, unpublish } = await simulation()
    const volumeId = "pv-d#lustrefs#10.0.0.4#d#f#"
    const targets = Array.from({ length: 20 }, (_, n) => target(`cut-${n}`))
    const cut = await Promise.all(targets.map((path, n) => publish(volumeId, path, { volumeCapability: readOnly }, 1 + n * 3)))
    expect(cut.some((answer) => !answer.ok)).toBe(true)
    for (const path of targets) expect(isReadOnly(path)).toBe(true)
    for (const path of targets) expect(await publish(volumeId, path, { volumeCapability: readOnly })).toEqual(ok)
    for (const path of targets) {
      expect(mountsAt(path)).toHaveLength(1)
      expect(isReadOnly(path)).toBe(true)
      expect(() => Fs.writeFileSync(Path.join(path, "x"), "no")).toThrow(/EROFS/)
    }
    for (const path of targets) expect(await unpublish(volumeId, path)).toEqual(ok)
    expect(mountPointsUnder(scratch)).toEqual([])
  })

  it("a driver killed (SIGKILL) during read-only publishes leaves no writable mount; the restarted driver's retry succeeds", async () => {
    const state = scratchFolder("csi-killed-")
    const volumeId = "pv-k#lustrefs#10.0.0.4#k#f#"
    for (let round = 0; round < 4; round++) {
      const { driver, client, publish } = await simulation(["--state-dir", state])
      const targets = Array.from({ length: 6 }, (_, n) => target(`killed-${round}-${n}`))
      const calls = targets.map((path) => publish(volumeId, path, { volumeCapability: readOnly }))
      await new Promise((resolve) => setTimeout(resolve, 5 + round * 15))
      driver.child.kill("SIGKILL")
      await driver.exited
      await Promise.all(calls)
      client.close()
      // Nothing is writable now, nor once the mount(8)s the driver started have finished.
      for (const path of targets) expect(isReadOnly(path)).toBe(true)
      await expect.poll(() => processesMountingFrom(driver.child.pid ?? 0)).toBe(0)
      for (const path of targets) expect(isReadOnly(path)).toBe(true)

      const again = await simulation(["--state-dir", state])
      for (const path of targets) expect(await again.publish(volumeId, path, { volumeCapability: readOnly })).toEqual(ok)
      for (const path of targets) expect(await again.unpublish(volumeId, path)).toEqual(ok)
      again.driver.child.kill("SIGKILL")
    }
    expect(mountPointsUnder(scratch)).toEqual([])
    expect(mountPointsUnder(state)).toEqual([])
  }, 60_000)

  it("finishes a read-only view left writable by a cut, before binding from it", async () => {
    const { driver, publish, unpublish } = await simulation()
    const volumeId = "pv-v#lustrefs#10.0.0.4#v#f#"
    expect(await publish(volumeId, target("v-rw"))).toEqual(ok)
    const mounts = Path.join(Fs.realpathSync(driver.stateDir), "mounts")
    const view = Path.join(mounts, "read-only", "10.0.0.4_lustrefs")
    Fs.mkdirSync(view, { recursive: true })
    execFileSync("mount", ["--bind", Path.join(mounts, "10.0.0.4_lustrefs"), view]) // cut before its remount,ro
    expect(await publish(volumeId, target("v-ro"), { volumeCapability: readOnly })).toEqual(ok)
    expect(isReadOnly(view)).toBe(true)
    expect(isReadOnly(target("v-ro"))).toBe(true)
    expect(isReadOnly(target("v-rw"))).toBe(false)
    for (const pod of ["v-rw", "v-ro"]) expect(await unpublish(volumeId, target(pod))).toEqual(ok)
    expect(mountPointsUnder(mounts)).toEqual([])
  })

  it("a publish that fails after mounting Lustre unmounts it again", async () => {
    const { driver, publish } = await simulation()
    const filesystem = Path.join(driver.stateDir, "filesystems", "10.0.0.7", "lustrefs")
    Fs.mkdirSync(filesystem, { recursive: true })
    Fs.writeFileSync(Path.join(filesystem, "a-file"), "")
    const answer = await publish("pv-x#lustrefs#10.0.0.7#a-file#f#", target("x"))
    expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(answer.ok ? "" : answer.details).toContain("sub-dir")
    expect(answer.ok ? "" : answer.details).toContain("not a directory")
    expect(mountPointsUnder(Fs.realpathSync(driver.stateDir))).toEqual([])
    expect(mountPointsUnder(scratch)).toEqual([])
  })
})

describe("bad input is INVALID_ARGUMENT naming the field, never INTERNAL", () => {
  it.each<[string, string, Parameters<typeof publishRequest>[2], string]>([
    ["a NUL in target_path", `${target("nul")}\u0000x`, {}, "target_path contains a NUL byte"],
    ["a target_path component over 255 bytes", Path.join(pods, "p".repeat(256), "mount"), {}, "target_path has a component of 256 bytes"],
    ["a NUL in sub-dir", target("nul-sub"), { volumeContext: { "sub-dir": "a\u0000b" } }, "sub-dir"],
    ["a sub-dir component over 255 bytes", target("long-sub"), { volumeContext: { "sub-dir": "d".repeat(300) } }, "sub-dir has a component of 300 bytes"],
    ["an MGS of 0.0.0.0", target("zero"), { volumeContext: { "mgs-ip-address": "0.0.0.0" } }, "mgs-ip-address"],
    ["a broadcast MGS", target("bcast"), { volumeContext: { "mgs-ip-address": "255.255.255.255" } }, "mgs-ip-address"]
  ])("%s", async (_case, targetPath, extra, named) => {
    const { publish } = await simulation()
    const answer = await publish("pv-b#lustrefs#10.0.0.4#b#f#", targetPath, extra)
    expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(answer.ok ? "" : answer.details).toContain(named)
    expect(mountPointsUnder(scratch)).toEqual([])
  })
})
