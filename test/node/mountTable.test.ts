import { describe, expect, it } from "vitest"
import type { MountEntry } from "../../layers/lustre/LustreShell.js"
import { mountAt, mountHiding, mountsNestingWith, publishesOf, readOnlyViewPoint, sharedMountOf, sharedMountPoint } from "../../src/node/mountTable.js"

const entry = (mountPoint: string, device: string, root: string, id = 1): MountEntry => ({
  mountId: id,
  parentId: 0,
  device,
  root,
  mountPoint,
  options: ["rw"],
  fsType: "lustre",
  source: "10.0.0.4@tcp:/lustrefs",
  superOptions: []
})

const mountRoot = "/var/lib/kubelet/plugins/azurelustre.csi.azure.com/mounts"
const shared = entry(sharedMountPoint(mountRoot, { mgsAddress: "10.0.0.4", fsName: "lustrefs" }), "0:51", "/")
const otherFs = entry(`${mountRoot}/10.0.0.5_lustrefs`, "0:52", "/")
const podA = entry("/var/lib/kubelet/pods/a/volumes/kubernetes.io~csi/pv1/mount", "0:51", "/team/a")
const podB = entry("/var/lib/kubelet/pods/b/volumes/kubernetes.io~csi/pv1/mount", "0:51", "/")
const podC = entry("/var/lib/kubelet/pods/c/volumes/kubernetes.io~csi/pv2/mount", "0:52", "/x")

describe("the kernel's mount table, read for shared Lustre mounts", () => {
  it("names the shared mount point after the MGS and the fsname", () => {
    expect(shared.mountPoint).toBe(`${mountRoot}/10.0.0.4_lustrefs`)
  })

  it("counts the publishes of a shared mount from device and root, per filesystem", () => {
    const table = [shared, otherFs, podA, podB, podC]
    expect(publishesOf(table, shared, mountRoot)).toEqual([podA, podB])
    expect(publishesOf(table, otherFs, mountRoot)).toEqual([podC])
    expect(publishesOf([shared, otherFs], shared, mountRoot)).toEqual([])
    // The read-only view lives in the mount root too: it is not a publish.
    const view = entry(readOnlyViewPoint(mountRoot, shared.mountPoint), "0:51", "/")
    expect(view.mountPoint).toBe(`${mountRoot}/read-only/10.0.0.4_lustrefs`)
    expect(publishesOf([shared, view, podA], shared, mountRoot)).toEqual([podA])
  })

  it("finds the shared mount a target shows, and none for a mount of something else", () => {
    const table = [shared, otherFs, podA, podC]
    expect(sharedMountOf(table, mountRoot, podA)).toBe(shared)
    expect(sharedMountOf(table, mountRoot, podC)).toBe(otherFs)
    expect(sharedMountOf(table, mountRoot, entry("/mnt/elsewhere", "8:1", "/"))).toBeUndefined()
  })

  it("reads roots of simulated filesystems, which are directories of another device", () => {
    const simShared = entry("/sim/mounts/10.0.0.4_lustrefs", "254:0", "/sim/filesystems/10.0.0.4/lustrefs")
    const simPod = entry("/tmp/pod", "254:0", "/sim/filesystems/10.0.0.4/lustrefs/team")
    const unrelated = entry("/tmp/other", "254:0", "/sim/filesystems/10.0.0.4/lustrefs2")
    expect(publishesOf([simShared, simPod, unrelated], simShared, "/sim/mounts")).toEqual([simPod])
  })

  it("takes the last of stacked mounts at a path", () => {
    const stacked = entry(podA.mountPoint, "0:99", "/", 9)
    expect(mountAt([podA, stacked], podA.mountPoint)).toBe(stacked)
  })

  it("finds mounts below the pods folder a new target would nest with, above it or below it", () => {
    const pods = "/var/lib/kubelet/pods"
    const outer = entry(`${pods}/a/mount`, "0:51", "/", 20)
    const inner = entry(`${pods}/a/mount/nested`, "0:51", "/", 21)
    const podsItself = entry(pods, "8:1", "/", 22)
    expect(mountsNestingWith([podsItself, outer], pods, `${pods}/a/mount/nested`)).toEqual([outer])
    expect(mountsNestingWith([podsItself, inner], pods, `${pods}/a/mount`)).toEqual([inner])
    expect(mountsNestingWith([podsItself, outer, podA], pods, `${pods}/b/mount`)).toEqual([])
  })

  it("tells a mount hidden by a later mount above it from one mounted inside its parent", () => {
    const pods = "/var/lib/kubelet/pods"
    const outer = { ...entry(`${pods}/a/mount`, "0:51", "/", 30), parentId: 1 }
    const insideOuter = { ...entry(`${pods}/a/mount/nested`, "0:51", "/n", 31), parentId: 30 }
    expect(mountHiding([outer, insideOuter], pods, insideOuter)).toBeUndefined()
    const hiddenFirst = { ...entry(`${pods}/b/mount/nested`, "0:51", "/n", 40), parentId: 1 }
    const coverLater = { ...entry(`${pods}/b/mount`, "0:60", "/", 41), parentId: 1 }
    expect(mountHiding([hiddenFirst, coverLater], pods, hiddenFirst)).toBe(coverLater)
  })
})
