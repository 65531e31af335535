import * as grpc from "@grpc/grpc-js"
import { Predicate } from "effect"
import { describe, expect, it } from "vitest"
import { MAX_DETAILS_BYTES } from "../../src/csi/callStatus.js"
import * as Csi from "../../src/gen/csi.js"
import { ControllerService, IdentityService, NodeService } from "../../src/gen/csi.js"
import { askRaw, rawDriverForFile } from "../support/rawCall.js"

const HUGE = 70_000
const huge = (prefix: string) => prefix + "a".repeat(HUGE)
const SECRET = "S3CR3T"

const capability = (mountFlags: ReadonlyArray<string> = [], fsType = "") => ({
  mount: { fsType, mountFlags },
  accessMode: { mode: "MULTI_NODE_MULTI_WRITER" }
})
const targetPath = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pv/mount"

/** Every string field a CSI request has, well formed, in ts-proto's JSON; each RPC's message reads the ones it has. */
const baseline = {
  volumeId: "pvc-1#lustrefs#10.0.0.4",
  name: "pvc-1",
  nodeId: "node-1",
  targetPath,
  stagingTargetPath: "",
  volumePath: targetPath,
  snapshotId: "snap-1",
  sourceVolumeId: "pvc-1#lustrefs#10.0.0.4",
  startingToken: "",
  volumeCapability: capability(),
  volumeCapabilities: [capability()],
  capacityRange: { requiredBytes: "1099511627776" },
  parameters: { "mgs-ip-address": "10.0.0.4" },
  volumeContext: { "mgs-ip-address": "10.0.0.4" },
  publishContext: { "mgs-ip-address": "10.0.0.4" },
  mutableParameters: {},
  secrets: { token: `${SECRET}-small` }
}

/** One field over 70,000 characters at a time, so each reaches as far into the RPC as it can. */
const oversized: Record<string, Partial<Record<keyof typeof baseline, unknown>>> = {
  "volume_id": { volumeId: huge("pvc-") },
  "volume_id of a driver-made volume with a huge resource group": { volumeId: `pvc-1#lustrefs#10.0.0.4##t#${huge("rg")}` },
  "volume_id of a driver-made volume with a huge name": { volumeId: `${huge("pvc-")}#lustrefs#10.0.0.4##t#rg` },
  "volume_id with a huge sub-dir": { volumeId: `pvc-1#lustrefs#10.0.0.4#${huge("d")}#f#` },
  "name": { name: huge("pvc-") },
  "target_path": { targetPath: `${targetPath}/${huge("x")}` },
  "staging_target_path": { stagingTargetPath: huge("/s") },
  "volume_path": { volumePath: `${targetPath}/${huge("x")}` },
  "node_id": { nodeId: huge("node-") },
  "snapshot_id": { snapshotId: huge("snap-") },
  "source_volume_id": { sourceVolumeId: huge("pvc-") },
  "starting_token": { startingToken: huge("t") },
  "mount_flags": { volumeCapability: capability([huge("o")]), volumeCapabilities: [capability([huge("o")])] },
  "fs_type": { volumeCapability: capability([], huge("f")), volumeCapabilities: [capability([], huge("f"))] },
  "a parameters key": { parameters: { "mgs-ip-address": "10.0.0.4", [huge("k")]: "v" } },
  "a parameters value": { parameters: { "mgs-ip-address": huge("10.") } },
  "sub-dir in parameters": { parameters: { "mgs-ip-address": "10.0.0.4", "sub-dir": huge("d") } },
  "dynamic parameters": { parameters: { "sku-name": huge("sku"), tags: huge("k=v,"), identities: huge("id,") } },
  "a volume_context key": { volumeContext: { "mgs-ip-address": "10.0.0.4", [huge("k")]: "v" } },
  "a volume_context value": { volumeContext: { "mgs-ip-address": "10.0.0.4", "sub-dir": huge("d") } },
  "a publish_context value": { publishContext: { [huge("k")]: huge("v") } },
  "mutable_parameters": { mutableParameters: { [huge("k")]: huge("v") } },
  "secrets": { secrets: { [huge("k")]: `${SECRET}-${huge("s")}`, token: `${SECRET}-${huge("t")}` } }
}

interface JsonCodec {
  readonly fromJSON: (object: unknown) => unknown
  readonly encode: (message: unknown) => { finish: () => Uint8Array }
}
const isJsonCodec = (u: unknown): u is JsonCodec =>
  Predicate.hasProperty(u, "fromJSON") && Predicate.isFunction(u.fromJSON) && Predicate.hasProperty(u, "encode")
const messages: Readonly<Record<string, unknown>> = Csi
const requestBytes = (path: string, fields: object): Uint8Array => {
  const codec = messages[`${path.slice(path.lastIndexOf("/") + 1)}Request`]
  if (!isJsonCodec(codec)) throw new Error(`no request message for ${path}`)
  return codec.encode(codec.fromJSON(fields)).finish()
}

const services = [
  { owned: true, methods: Object.values(IdentityService) },
  { owned: true, methods: Object.values(ControllerService) },
  { owned: false, methods: Object.values(NodeService) }
]

const raw = rawDriverForFile()

describe("oversized fields (70,000+ characters) in every CSI RPC", () => {
  it("every RPC answers with bounded details, never echoing a secret; the connection serves a Probe afterwards", async () => {
    let calls = 0
    for (const { methods, owned } of services) {
      for (const method of methods) {
        const plain = Buffer.from(requestBytes(method.path, baseline))
        // Only the variants that change this RPC's request: the others are the baseline again.
        const variants = Object.entries(oversized)
          .map(([field, change]) => ({ field, bytes: requestBytes(method.path, { ...baseline, ...change }) }))
          .filter(({ bytes }) => !plain.equals(bytes))
        const answers = await Promise.all(variants.map(({ bytes }) => askRaw(raw.client, method.path, bytes)))
        for (const [index, answer] of answers.entries()) {
          const what = `${method.path} with oversized ${variants[index]!.field}`
          calls++
          if (answer.ok) continue
          expect(Buffer.byteLength(answer.details), what).toBeLessThanOrEqual(MAX_DETAILS_BYTES)
          expect(answer.details, what).not.toContain(SECRET)
          if (owned) expect(grpc.status[answer.code], `${what}: ${answer.details}`).not.toBe("INTERNAL")
        }
      }
    }
    expect(calls).toBeGreaterThan(100)

    const probe = await askRaw(raw.client, "/csi.v1.Identity/Probe", Csi.ProbeRequest.encode({}).finish())
    expect(probe.ok && Csi.ProbeResponse.decode(probe.value)).toEqual({ ready: true })

    expect(raw.driver.logs.filter((line) => line.includes(SECRET))).toEqual([])
    const callLines = raw.driver.logs.filter((line) => line.includes('"msg":"CSI call"'))
    expect(callLines.length).toBeGreaterThanOrEqual(calls)
    for (const line of callLines) expect(line.length).toBeLessThan(8 * 1024)
  })

  it("a volume id is quoted bounded, with its length, in the answer", async () => {
    const id = huge("pvc-")
    const answer = await askRaw(raw.client, ControllerService.validateVolumeCapabilities.path, requestBytes(
      ControllerService.validateVolumeCapabilities.path,
      { ...baseline, volumeId: id }
    ))
    expect(answer).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND })
    expect(answer.ok ? "" : answer.details).toMatch(/^volume "pvc-a+…" \(70004 characters\) is not a volume of this driver: /)
  })

  it("a driver-made volume whose resource group or name ARM would refuse is left alone, never sent to ARM", async () => {
    for (const volumeId of [oversized["volume_id of a driver-made volume with a huge resource group"]!.volumeId, `pvc-1#lustrefs#10.0.0.4##t#rg/..`]) {
      for (const path of [ControllerService.deleteVolume.path, ControllerService.controllerExpandVolume.path]) {
        const answer = await askRaw(raw.client, path, requestBytes(path, { ...baseline, volumeId }))
        expect(answer, path).toMatchObject({ ok: false, code: grpc.status.FAILED_PRECONDITION })
        expect(answer.ok ? "" : answer.details).toMatch(/says the driver created it but its resource group ".+"( \(\d+ characters\))? is not an Azure resource group name/)
      }
    }
  })
})
