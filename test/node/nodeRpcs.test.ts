import { status } from "@grpc/grpc-js"
import { Duration, Ref } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { LustreShellFake, type LustreShellFakeOptions } from "../../layers/lustre/LustreShellFake.js"
import {
  type NodePublishVolumeRequest,
  NodeServiceCapability_RPC_Type,
  VolumeCapability_AccessMode_Mode
} from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import type { NodeConfig } from "../../src/node/NodeConfig.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"
import { mountCapability } from "../support/csiRequests.js"

const MGS = "10.0.0.4"
const VOLUME = `pv-1#lustrefs#${MGS}#data#f#`
const capability = (mountFlags: Array<string> = [], mode = VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER) =>
  mountCapability(mode, mountFlags)
const podsDir = "/var/lib/kubelet/pods"
const targetOf = (pod: string) => `${podsDir}/${pod}/volumes/kubernetes.io~csi/pv-1/mount`
const publishRequest = (overrides: Partial<NodePublishVolumeRequest> = {}): NodePublishVolumeRequest => ({
  volumeId: VOLUME,
  publishContext: {},
  stagingTargetPath: "",
  targetPath: targetOf("a"),
  volumeCapability: capability(),
  readonly: false,
  secrets: {},
  volumeContext: {},
  ...overrides
})

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})
const start = async (options: {
  lustreScript?: LustreShellFakeOptions
  unreachableMgs?: ReadonlyArray<string>
  nodeConfig?: Partial<NodeConfig["Service"]>
} = {}) => {
  // A real directory, because the shared mounts' options are noted in a file beside them.
  const mountRoot = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mounts-"))
  const driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    mountRoot,
    lustreScript: { directories: [podsDir, ...["a", "b", "c"].map((pod) => Path.dirname(targetOf(pod)))], ...options.lustreScript },
    ...(options.unreachableMgs && { unreachableMgs: options.unreachableMgs }),
    nodeConfig: { unmountStepTimeout: Duration.millis(100), ...options.nodeConfig }
  })
  stops.push(driver.stop)
  const node = driver.client.node
  const commands = () => driver.inspect(LustreShellFake.use((fake) => fake.commands))
  return {
    ...driver,
    mountRoot,
    commands,
    publish: (overrides: Partial<NodePublishVolumeRequest> = {}, deadlineMs?: number) =>
      ask(node, node.nodePublishVolume, publishRequest(overrides), deadlineMs === undefined ? {} : { deadlineMs }),
    unpublish: (targetPath: string, volumeId = VOLUME) => ask(node, node.nodeUnpublishVolume, { volumeId, targetPath }),
    stats: (volumePath: string, volumeId = VOLUME) => ask(node, node.nodeGetVolumeStats, { volumeId, volumePath, stagingTargetPath: "" })
  }
}

describe("NodePublishVolume", () => {
  it("mounts Lustre once per filesystem and bind-mounts each target", async () => {
    const driver = await start()
    for (const pod of ["a", "b", "c"]) expect(await driver.publish({ targetPath: targetOf(pod) })).toEqual({ ok: true, value: {} })
    const commands = await driver.commands()
    expect(commands.filter((c) => c.startsWith("mount -t lustre"))).toEqual([
      `mount -t lustre ${MGS}@tcp:/lustrefs ${driver.mountRoot}/${MGS}_lustrefs`
    ])
    expect(commands.filter((c) => c.startsWith("mount --no-canonicalize --bind"))).toHaveLength(3)
  })

  it.each<[string, Partial<NodePublishVolumeRequest>, string]>([
    ["no volume_id", { volumeId: "" }, "volume_id is required"],
    ["no target_path", { targetPath: "" }, "target_path is required"],
    ["a relative target_path", { targetPath: "pods/x" }, "target_path must be an absolute path"],
    ["a target_path outside kubelet's pods directory", { targetPath: "/etc/x" }, "not below kubelet's pods directory"],
    ["the pods directory itself", { targetPath: `${podsDir}/` }, "not below kubelet's pods directory"],
    ["a target_path with ..", { targetPath: `${podsDir}/a/../../../etc` }, "\"..\""],
    ["a target_path with NUL", { targetPath: `${podsDir}/a\u0000b` }, "NUL"],
    ["a target_path component over 255 bytes", { targetPath: `${podsDir}/${"x".repeat(256)}/mount` }, "at most 255 bytes"],
    ["a sub-dir component over 255 bytes", { volumeContext: { "sub-dir": `${"é".repeat(128)}` } }, "at most 255 bytes"],
    ["no volume_capability", { volumeCapability: undefined }, "volume_capability is required"],
    ["a block capability", {
      volumeCapability: { accessType: { $case: "block", value: {} }, accessMode: { mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER } }
    }, "block volumes are not supported"],
    ["an unknown mount option", { volumeCapability: capability(["noatime", "turbo"]) }, "turbo"],
    ["a sub-dir placeholder kubelet did not fill", { volumeContext: { "sub-dir": "${pod.metadata.name}" } }, "podInfoOnMount"],
    ["a misspelled volume attribute", { volumeContext: { "sub-dri": "team" } }, '"sub-dri" (did you mean "sub-dir"?)'],
    ["a sub-dir escaping the filesystem", { volumeContext: { "sub-dir": "a/../../etc" } }, "sub-dir"]
  ])("refuses %s with INVALID_ARGUMENT", async (_case, overrides, named) => {
    const driver = await start()
    const answer = await driver.publish(overrides)
    expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(answer.ok ? "" : answer.details).toContain(named)
    expect((await driver.commands()).filter((c) => c.startsWith("mount"))).toEqual([])
  })

  it("refuses a sub-dir that escapes through a symlink with INVALID_ARGUMENT", async () => {
    const driver = await start()
    const shared = `${driver.mountRoot}/${MGS}_lustrefs`
    await driver.inspect(LustreShellFake.use((fake) =>
      Ref.update(fake.script, (script) => ({ ...script, symlinks: new Map([[`${shared}/data`, "/etc"]]) }))
    ))
    expect(await driver.publish()).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
  })

  it("answers NOT_FOUND for a volume id that is not this driver's", async () => {
    const driver = await start()
    expect(await driver.publish({ volumeId: "no-separators" })).toMatchObject({ ok: false, code: status.NOT_FOUND })
  })

  it("answers ALREADY_EXISTS when the target shows another volume or another read-only mode", async () => {
    const driver = await start()
    expect(await driver.publish()).toEqual({ ok: true, value: {} })
    expect(await driver.publish()).toEqual({ ok: true, value: {} })
    expect(await driver.publish({ volumeId: `pv-2#lustrefs#${MGS}#other#f#` })).toMatchObject({ ok: false, code: status.ALREADY_EXISTS })
    expect(await driver.publish({ readonly: true })).toMatchObject({ ok: false, code: status.ALREADY_EXISTS })
  })

  it("binds a read-only publish from the read-only view in one mount, never remounting the target", async () => {
    const driver = await start()
    expect(await driver.publish({ readonly: true })).toEqual({ ok: true, value: {} })
    expect(await driver.publish({ readonly: true, targetPath: targetOf("b") })).toEqual({ ok: true, value: {} })
    const view = `${driver.mountRoot}/read-only/${MGS}_lustrefs`
    expect((await driver.commands()).filter((c) => c.startsWith("mount --no-canonicalize") || c.includes("remount"))).toEqual([
      `mount --no-canonicalize --bind ${driver.mountRoot}/${MGS}_lustrefs ${view}`,
      `mount -o remount,bind,ro ${view}`,
      `mount --no-canonicalize --bind ${view}/data ${targetOf("a")}`,
      `mount --no-canonicalize --bind ${view}/data ${targetOf("b")}`
    ])
    for (const pod of ["a", "b"]) expect(await driver.unpublish(targetOf(pod))).toEqual({ ok: true, value: {} })
    expect((await driver.commands()).slice(-2)).toEqual([`umount ${view}`, `umount ${driver.mountRoot}/${MGS}_lustrefs`])
  })

  it("releases the Lustre mount it made when the publish fails afterwards", async () => {
    const driver = await start({ lustreScript: { failBindFor: new Set([targetOf("a")]) } })
    expect(await driver.publish()).toMatchObject({ ok: false, code: status.INTERNAL })
    expect(await driver.inspect(LustreShellFake.use((fake) => Ref.get(fake.table)))).toEqual([])
    expect((await driver.commands()).at(-1)).toBe(`umount ${driver.mountRoot}/${MGS}_lustrefs`)
  })

  it("answers FAILED_PRECONDITION when the filesystem is mounted here with other Lustre options", async () => {
    const driver = await start()
    expect(await driver.publish({ volumeCapability: capability(["flock"]) })).toEqual({ ok: true, value: {} })
    const answer = await driver.publish({ targetPath: targetOf("b"), volumeCapability: capability(["noflock"]) })
    expect(answer).toMatchObject({ ok: false, code: status.FAILED_PRECONDITION })
    expect(answer.ok ? "" : answer.details).toContain("[flock]")
    expect(await driver.publish({ targetPath: targetOf("c"), volumeCapability: capability(["flock", "ro"]) })).toEqual({ ok: true, value: {} })
  })

  it("answers UNAVAILABLE naming the MGS when it does not answer an LNet ping, without mounting", async () => {
    const driver = await start({ unreachableMgs: [MGS] })
    const answer = await driver.publish()
    expect(answer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect(answer.ok ? "" : answer.details).toContain(MGS)
    expect(await driver.commands()).toEqual([])
  })

  it("retries a failing mount with its schedule, then answers UNAVAILABLE", async () => {
    const driver = await start({ lustreScript: { failMountFor: new Set([MGS]) } })
    const answer = await driver.publish()
    expect(answer).toMatchObject({ ok: false, code: status.UNAVAILABLE })
    expect((await driver.commands()).filter((c) => c.startsWith("mount -t lustre"))).toHaveLength(3)
  })

  it("answers ABORTED while another publish holds the filesystem, and never blocks another filesystem", async () => {
    const driver = await start({
      lustreScript: { hangMountFor: new Set(["10.0.0.7"]) },
      nodeConfig: { lockWait: Duration.millis(300), mountTimeout: Duration.seconds(5) }
    })
    const hung = driver.publish({ volumeId: "pv-h#lustrefs#10.0.0.7##f#" }, 2000)
    // It holds the filesystem's lock once its mount has started.
    await expect.poll(async () => (await driver.commands()).some((c) => c.includes("10.0.0.7@tcp"))).toBe(true)
    const waiting = await driver.publish({ volumeId: "pv-h#lustrefs#10.0.0.7##f#", targetPath: targetOf("b") })
    expect(waiting).toMatchObject({ ok: false, code: status.ABORTED })
    expect(await driver.publish({ targetPath: targetOf("c") })).toEqual({ ok: true, value: {} })
    expect(await hung).toMatchObject({ ok: false, code: status.DEADLINE_EXCEEDED })
  })
})

describe("NodeUnpublishVolume", () => {
  it("keeps the shared mount while another target uses it, and unmounts it after the last", async () => {
    const driver = await start()
    await driver.publish()
    await driver.publish({ targetPath: targetOf("b") })
    expect(await driver.unpublish(targetOf("a"))).toEqual({ ok: true, value: {} })
    expect((await driver.commands()).filter((c) => c.startsWith("umount"))).toEqual([`umount ${targetOf("a")}`])
    expect(await driver.unpublish(targetOf("b"))).toEqual({ ok: true, value: {} })
    expect((await driver.commands()).filter((c) => c.startsWith("umount"))).toEqual([
      `umount ${targetOf("a")}`,
      `umount ${targetOf("b")}`,
      `umount ${driver.mountRoot}/${MGS}_lustrefs`
    ])
  })

  it("escalates umount, umount -f, umount -l when the target is busy or hangs", async () => {
    const driver = await start()
    await driver.publish()
    await driver.inspect(LustreShellFake.use((fake) =>
      Ref.update(fake.script, (script) => ({
        ...script,
        unmountFailures: new Map([[targetOf("a"), { normal: "busy" as const, force: "hang" as const }]])
      }))
    ))
    expect(await driver.unpublish(targetOf("a"))).toEqual({ ok: true, value: {} })
    expect((await driver.commands()).filter((c) => c.startsWith("umount")).slice(0, 3)).toEqual([
      `umount ${targetOf("a")}`,
      `umount -f ${targetOf("a")}`,
      `umount -l ${targetOf("a")}`
    ])
  })

  it("answers INTERNAL when no step detaches the target, and succeeds on the retry once it can", async () => {
    const driver = await start()
    await driver.publish()
    const stuck = new Map([[targetOf("a"), { normal: "hang" as const, force: "hang" as const, lazy: "busy" as const }]])
    await driver.inspect(LustreShellFake.use((fake) => Ref.update(fake.script, (script) => ({ ...script, unmountFailures: stuck }))))
    expect(await driver.unpublish(targetOf("a"))).toMatchObject({ ok: false, code: status.INTERNAL })
    await driver.inspect(LustreShellFake.use((fake) => Ref.update(fake.script, (script) => ({ ...script, unmountFailures: new Map() }))))
    expect(await driver.unpublish(targetOf("a"))).toEqual({ ok: true, value: {} })
  })

  it("succeeds for a target that is not mounted or gone; refuses bad requests", async () => {
    const driver = await start()
    expect(await driver.unpublish(targetOf("a"))).toEqual({ ok: true, value: {} })
    expect(await driver.unpublish(`${podsDir}/nowhere/at/all`)).toEqual({ ok: true, value: {} })
    expect(await driver.unpublish("/nowhere/at/all")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(await driver.unpublish("")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(await driver.unpublish(targetOf("a"), "")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(await driver.unpublish(targetOf("a"), "nonsense")).toMatchObject({ ok: false, code: status.NOT_FOUND })
    // Every required field is checked before the volume is looked up (csi-sanity's order).
    expect(await driver.unpublish("", "nonsense")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
  })
})

describe("NodeGetVolumeStats, NodeGetInfo, NodeGetCapabilities", () => {
  it("reports bytes and inodes of a published volume with a normal condition", async () => {
    const driver = await start()
    await driver.publish()
    const answer = await driver.stats(targetOf("a"))
    expect(answer).toMatchObject({
      ok: true,
      value: {
        usage: [{ total: 4n * 1024n ** 4n, available: 3n * 1024n ** 4n, used: 1024n ** 4n }, {}],
        volumeCondition: { abnormal: false }
      }
    })
  })

  it("reports an abnormal condition when the mount is gone or stale, NOT_FOUND when the path is", async () => {
    const driver = await start()
    const notMounted = await driver.stats(Path.dirname(targetOf("a")))
    expect(notMounted).toMatchObject({ ok: true, value: { volumeCondition: { abnormal: true } } })
    expect(notMounted.ok && notMounted.value.volumeCondition?.message).toContain("not mounted")

    await driver.publish()
    await driver.inspect(LustreShellFake.use((fake) =>
      Ref.update(fake.script, (script) => ({ ...script, pathErrors: new Map([[targetOf("a"), "ESTALE"]]) }))
    ))
    const stale = await driver.stats(targetOf("a"))
    expect(stale.ok && stale.value.volumeCondition).toMatchObject({ abnormal: true })
    expect(stale.ok && stale.value.volumeCondition?.message).toContain("ESTALE")

    expect(await driver.stats(`${podsDir}/no/such/path`)).toMatchObject({ ok: false, code: status.NOT_FOUND })
    expect(await driver.stats("/")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(await driver.stats("")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(await driver.stats(targetOf("a"), "nonsense")).toMatchObject({ ok: false, code: status.NOT_FOUND })
    expect(await driver.stats("", "nonsense")).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
  })

  it("tells the node id and zone, and the node capabilities", async () => {
    const driver = await start()
    const node = driver.client.node
    expect(await ask(node, node.nodeGetInfo, {})).toEqual({
      ok: true,
      value: { nodeId: "node-1", maxVolumesPerNode: 0n, accessibleTopology: { segments: { "topology.kubernetes.io/zone": "eastus-1" } } }
    })
    const capabilities = await ask(node, node.nodeGetCapabilities, {})
    expect(capabilities.ok && capabilities.value.capabilities.map((c) => c.type?.$case === "rpc" ? c.type.value.type : undefined)).toEqual([
      NodeServiceCapability_RPC_Type.GET_VOLUME_STATS,
      NodeServiceCapability_RPC_Type.VOLUME_CONDITION,
      NodeServiceCapability_RPC_Type.SINGLE_NODE_MULTI_WRITER
    ])
  })
})
