import * as Arbitrary from "effect/Arbitrary"
import * as Path from "node:path"
import {
  type CapacityRange,
  type ControllerExpandVolumeRequest,
  type CreateVolumeRequest,
  type DeleteVolumeRequest,
  type NodeGetVolumeStatsRequest,
  type NodePublishVolumeRequest,
  type NodeUnpublishVolumeRequest,
  type ValidateVolumeCapabilitiesRequest,
  type VolumeCapability,
  type VolumeContentSource,
  VolumeCapability_AccessMode_Mode as Mode
} from "../../src/gen/csi.js"
import { between, junkText, mostly, pick, recordOf, someOf, weighted } from "./choices.js"
import { type FuzzWorld, MGS_ADDRESSES, OTHER_FS_NAME } from "./fuzzWorld.js"

// The CSI requests the fuzz sends: mostly well formed, drawn from small pools of values that
// matter to this driver (its volume ids, paths below and around kubelet's pods folder, sub-dir
// templates, mount flags, access modes), now and then junk. The pools are small on purpose:
// publishes, unpublishes and stats keep meeting the same targets and filesystems. Most requests
// fail validation in microseconds; the mix lets a few hundred reach mount(8).

type Arb<A> = Arbitrary.Arbitrary<A>
const constant = <A>(value: A): Arb<A> => Arbitrary.Constant(value) as Arb<A>

const TIB = 1n << 40n

// ---- volume ids: <name>#<fs-name>#<mgs>#<sub-dir>#<t|f>#<resource-group>

const names = ["pv-a", "pv-b", "pvc-1", "pvc-2", "a", "x".repeat(300), "ünï cødé", "-o remount", "pv;id"]
const fsNames = ["lustrefs", "lustrefs", "lustrefs", "", OTHER_FS_NAME, "lustre/fs", "toolongfs", "fs name", "..", "$(id)"]
const mgsAddresses = [
  ...MGS_ADDRESSES, ...MGS_ADDRESSES, ...MGS_ADDRESSES, "127.0.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1",
  "10.0.0", "10.0.0.256", " 10.0.0.4", "10.0.0.4@tcp", "::1", "localhost", ""
]
/** sub-dirs as volume ids and contexts carry them: plain, spelled oddly, escaping, traps laid in the filesystem. */
const subDirs = [
  "", "", "", "shared", "shared", "a", "a/b", "/lead/trail/", "x//y/./z", "inside-link", "inside-link/deeper",
  "..", "../../etc", "a/../b", "/", "//", "a-file", "a-file/below", "escape", "escape/x", "up", "up/x",
  "${pod.metadata.name}", "${pvc.metadata.namespace}/${pvc.metadata.name}", "${pod.metadata.uid}/data", "${nope}",
  "${pod.metadata.name", "$${pod.metadata.name}", "d".repeat(256), `${"deep/".repeat(800)}end`, "ünï cødé",
  "new\nline", "sp ace", "-o", "--bind", "a\u0000b", "x*?[", "."
]
const createdFlags = ["f", "f", "t", "", "T", "yes"]
const resourceGroups = ["", "", "rg-test", "sim-rg", "rg with space", "x".repeat(100)]

const composedVolumeId: Arb<string> = Arbitrary.map(
  Arbitrary.all([pick(names), pick(fsNames), pick(mgsAddresses), pick(subDirs), pick(createdFlags), pick(resourceGroups), between(1, 7)]),
  ([name, fsName, mgs, subDir, created, group, segments]) =>
    [name, fsName, mgs, subDir, created, group, "extra"].slice(0, segments).join("#")
)

/** Ids that are valid and mount: the well-trodden path, so publishes and unpublishes meet. */
const plainVolumeId: Arb<string> = Arbitrary.map(
  Arbitrary.all([pick(["pv-a", "pv-b"]), pick(["lustrefs", ""]), pick(MGS_ADDRESSES), pick(["", "shared", "a", "a/b", "inside-link"])]),
  ([name, fsName, mgs, subDir]) => `${name}#${fsName}#${mgs}#${subDir}#f#`
)

const oddVolumeIds = [
  "", "v1", "#", "##", "#lustrefs#10.0.0.4", "pvc-1#lustrefs#10.0.0.4", "pvc-1##10.0.0.5", "pvc-1#lustrefs#10.0.0.4#shared",
  "pvc-2#lustrefs#10.0.0.4##t#sim-rg", "pvc-2#lustrefs#10.0.0.4##t#", "v#lustrefs#10.0.0.4#d#f#rg#extra",
  `pv-long#lustrefs#10.0.0.4#${"s".repeat(5000)}#f#`, "x".repeat(20_000), "\u0000", "v\u0000#lustrefs#10.0.0.4"
]

export const volumeId: Arb<string> = weighted([
  [5, plainVolumeId],
  [4, composedVolumeId],
  [2, pick(oddVolumeIds)],
  [1, junkText]
])

// ---- paths: targets and volume paths below kubelet's pods folder, spelled many ways, and elsewhere

/** Pods whose targets the fuzz publishes to; some names need escaping in /proc/self/mountinfo. */
const pods = ["p0", "p1", "p2", "p3", "with space", "tab\there", "new\nline", "back\\slash", "ünïcødé"]
/** Pods laid as traps by prepareWorld. */
const trapPods = ["foreign-tmpfs", "foreign-bind", "file", "linked"]

type Spelling = (target: string, world: FuzzWorld) => string
const spellings: ReadonlyArray<readonly [number, Spelling]> = [
  [12, (t) => t],
  [2, (t) => `${t}/`],
  [1, (t) => `${t}//`],
  [1, (t) => `${t}/.`],
  [2, (t, w) => t.replace(`${w.pods}/`, `${w.pods}//`)],
  [1, (t, w) => t.replace(`${w.pods}/`, `${w.pods}/./`)],
  [1, (t) => `/${t}`],
  [1, (t) => t.replace("/pv/", "/pv/x/../")],
  [1, (t, w) => t.replace(`${w.pods}/`, `${w.pods}/../pods/`)],
  [2, (t) => `${t}/nested`],
  [1, (t) => `${t}\u0000x`]
]

const elsewhere = (world: FuzzWorld): ReadonlyArray<string> => [
  "", "/", "/etc", "/tmp", "/proc/self/root", "relative/pods/p0/mount", "./p0", world.scratch, world.pods, `${world.pods}/`,
  `${world.scratch}/elsewhere/mount`, world.outside, Path.join(world.pods, "linked", "mount"),
  Path.join(world.stateDir, "mounts", `${MGS_ADDRESSES[0]}_lustrefs`),
  Path.join(world.stateDir, "mounts", "read-only", `${MGS_ADDRESSES[0]}_lustrefs`),
  Path.join(world.stateDir, "filesystems", MGS_ADDRESSES[0], "lustrefs"), world.stateDir,
  Path.join(world.pods, "p".repeat(256), "mount"), Path.join(world.pods, "p0", `${"a/".repeat(2100)}mount`),
  Path.join(world.pods, "p0", "\ud800", "mount")
]

export const podPath = (world: FuzzWorld): Arb<string> => {
  const below = Arbitrary.map(
    Arbitrary.all([weighted([[6, pick(pods)], [1, pick(trapPods)]]), weighted(spellings.map(([w, s]) => [w, constant(s)]))]),
    ([pod, spell]) => spell(world.target(pod), world)
  )
  return weighted([[10, below], [2, pick(elsewhere(world))], [1, junkText]])
}

// ---- capabilities

const modes = [
  Mode.MULTI_NODE_MULTI_WRITER, Mode.MULTI_NODE_MULTI_WRITER, Mode.MULTI_NODE_MULTI_WRITER, Mode.SINGLE_NODE_WRITER,
  Mode.MULTI_NODE_READER_ONLY, Mode.SINGLE_NODE_READER_ONLY, Mode.MULTI_NODE_SINGLE_WRITER, Mode.SINGLE_NODE_SINGLE_WRITER,
  Mode.SINGLE_NODE_MULTI_WRITER, Mode.UNKNOWN, 99 as Mode, -1 as Mode
]
const mountFlagPool = [
  "noatime", "flock", "ro", "rw", "noatime,flock", "nosuid,nodev", "network=tcp0", "mgssec=krb5p", "skpath=/etc/keys",
  "bogus", "noatime=1", "network=", "network=eth0; reboot", "-o remount", " ", ",", ",,noatime,", "a\u0000b",
  "context=\"system_u:object_r\"", "x".repeat(300), "user_xattr", "lazystatfs", "hsm-aware", "auto-import", "hsm-aware=1"
]
const mountFlags: Arb<Array<string>> = weighted([
  [8, constant([])],
  [3, Arbitrary.array(pick(mountFlagPool), { maxLength: 3 })],
  [1, Arbitrary.array(junkText, { maxLength: 2 })]
])

export const volumeCapability: Arb<VolumeCapability> = weighted<VolumeCapability>([
  [12, Arbitrary.map(
    Arbitrary.all([pick(["", "", "", "", "lustre", "ext4", "LUSTRE"]), mountFlags, pick(["", "", "", "1000", "-1"]), pick(modes)]),
    ([fsType, flags, volumeMountGroup, mode]) => ({
      accessType: { $case: "mount", value: { fsType, mountFlags: flags, volumeMountGroup } },
      accessMode: { mode }
    })
  )],
  [1, Arbitrary.map(pick(modes), (mode) => ({ accessType: { $case: "block", value: {} }, accessMode: { mode } }))],
  [1, Arbitrary.map(pick(modes), (mode) => ({ accessType: undefined, accessMode: { mode } }))],
  [1, constant({ accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } }, accessMode: undefined })]
])

// ---- maps: volume contexts, parameters, secrets

const podInfo = ["pod-a", "pod-b", "..", ".", "a/b", "", "x".repeat(300), "ünï", "a\u0000b"]
const contextFields = {
  "mgs-ip-address": pick(mgsAddresses),
  "fs-name": pick(fsNames),
  "sub-dir": pick(subDirs),
  "csi.storage.k8s.io/pod.name": pick(podInfo),
  "csi.storage.k8s.io/pod.namespace": pick(["default", "kube-system", ".."]),
  "csi.storage.k8s.io/pod.uid": pick(["0b5e-uid", "", "/"]),
  "csi.storage.k8s.io/serviceAccount.name": pick(["default", "sa/x"]),
  "csi.storage.k8s.io/pvc/name": pick(["claim", "..", ""]),
  "csi.storage.k8s.io/pvc/namespace": pick(["default", "a/b"]),
  "csi.storage.k8s.io/ephemeral": pick(["false", "true"]),
  "hsm-hydrate": pick(["background", "before-start", "off", "Before-Start", ""]),
  "hsm-hydrate-paths": pick(["", "/", "data", "a/b,c", "../x", "a,,b", "a\u0000b", "x".repeat(300)])
}
const junkMap = recordOf(junkText, junkText, 3)

export const volumeContext: Arb<Record<string, string>> = weighted([
  [6, constant({})],
  [4, someOf(contextFields, 30)],
  [1, junkMap]
])

const secrets: Arb<Record<string, string>> = weighted([
  [8, constant({})],
  [1, constant({ password: "s3cr3t-value" })],
  [1, junkMap]
])

const staticParameters = someOf({
  "mgs-ip-address": pick(mgsAddresses),
  "fs-name": pick(fsNames),
  "sub-dir": pick(subDirs),
  "csi.storage.k8s.io/pvc/name": pick(["claim", "..", ""]),
  "csi.storage.k8s.io/pvc/namespace": pick(["default"]),
  "sku-name": pick(["AMLFS-Durable-Premium-125"])
}, 40)

/** Without mgs-ip-address: dynamic provisioning, which creates a cluster in the ARM emulator when all is well. */
const dynamicParameters = someOf({
  "sku-name": pick(["AMLFS-Durable-Premium-125", "AMLFS-Durable-Premium-125", "amlfs-durable-premium-40", "Standard_LRS", ""]),
  "zone": pick(["1", "1", "2", "9", ""]),
  "zones": pick(["1"]),
  "maintenance-day-of-week": pick(["Sunday", "Sunday", "Funday", ""]),
  "maintenance-time-of-day-utc": pick(["02:00", "02:00", "25:00", "2:0"]),
  "location": pick(["eastus", "mars"]),
  "resource-group-name": pick(["rg-test", "bad/rg"]),
  "tags": pick(["team=storage", "a=b,c", "=", "k=v;reboot"]),
  "identities": pick(["/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id", "bogus"]),
  "sub-dir": pick(subDirs),
  "fs-name": pick(["lustrefs", "other"])
}, 75)

const capacityRange: Arb<CapacityRange | undefined> = weighted<CapacityRange | undefined>([
  [3, constant(undefined)],
  [6, Arbitrary.map(
    Arbitrary.all([pick([0n, 0n, 1n, TIB, 4n * TIB, 16n * TIB, 48n * TIB, 1n << 62n, -1n]), pick([0n, 0n, TIB, 16n * TIB, 20n * TIB, -5n])]),
    ([requiredBytes, limitBytes]) => ({ requiredBytes, limitBytes })
  )]
])

const contentSource: Arb<VolumeContentSource | undefined> = weighted<VolumeContentSource | undefined>([
  [9, constant(undefined)],
  [1, constant({ type: { $case: "snapshot", value: { snapshotId: "snap-1" } } })]
])

// ---- the requests

export const nodePublishVolumeRequest = (world: FuzzWorld): Arb<NodePublishVolumeRequest> =>
  Arbitrary.map(
    Arbitrary.all({
      volumeId,
      targetPath: podPath(world),
      volumeCapability: mostly(95, volumeCapability, constant(undefined)),
      readonly: mostly(85, constant(false), constant(true)),
      volumeContext,
      secrets,
      publishContext: mostly(95, constant({}), junkMap),
      stagingTargetPath: mostly(95, constant(""), podPath(world))
    }),
    (fields): NodePublishVolumeRequest => ({ ...fields })
  )

export const nodeUnpublishVolumeRequest = (world: FuzzWorld): Arb<NodeUnpublishVolumeRequest> =>
  Arbitrary.all({ volumeId, targetPath: podPath(world) })

/** Stats of a published target runs stat(1): half of the volume paths are elsewhere, which costs nothing. */
export const nodeGetVolumeStatsRequest = (world: FuzzWorld): Arb<NodeGetVolumeStatsRequest> =>
  Arbitrary.all({
    volumeId,
    volumePath: mostly(50, podPath(world), pick(elsewhere(world))),
    stagingTargetPath: mostly(90, constant(""), podPath(world))
  })

/** The request of an RPC whose request has no fields: only corruption varies it. */
export const emptyRequest: Arb<Record<string, never>> = constant({})

export const createVolumeRequest: Arb<CreateVolumeRequest> = Arbitrary.map(
  Arbitrary.all({
    name: weighted([[6, pick(["pv-a", "pv-b", "pvc-1", "pvc-2"])], [2, pick(["", "with#hash", "x".repeat(129), "ü".repeat(70), "a\u0000b"])], [1, junkText]]),
    capacityRange,
    volumeCapabilities: weighted([[6, Arbitrary.array(volumeCapability, { minLength: 1, maxLength: 2 })], [1, constant([])]]),
    parameters: weighted([[5, staticParameters], [3, dynamicParameters], [1, junkMap]]),
    secrets,
    volumeContentSource: contentSource,
    mutableParameters: mostly(90, constant({}), junkMap)
  }),
  (fields): CreateVolumeRequest => ({ ...fields, accessibilityRequirements: undefined })
)

export const deleteVolumeRequest: Arb<DeleteVolumeRequest> = Arbitrary.all({ volumeId, secrets })

export const validateVolumeCapabilitiesRequest: Arb<ValidateVolumeCapabilitiesRequest> = Arbitrary.all({
  volumeId,
  volumeContext,
  volumeCapabilities: Arbitrary.array(volumeCapability, { maxLength: 3 }),
  parameters: weighted([[3, constant({})], [3, staticParameters], [1, junkMap]]),
  secrets,
  mutableParameters: mostly(90, constant({}), junkMap)
})

export const controllerExpandVolumeRequest: Arb<ControllerExpandVolumeRequest> = Arbitrary.map(
  Arbitrary.all({ volumeId, capacityRange, secrets, volumeCapability: mostly(70, volumeCapability, constant(undefined)) }),
  (fields): ControllerExpandVolumeRequest => ({ ...fields })
)
