import { it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as Fs from "node:fs"
import { describe, expect } from "vitest"
import { CSI_MAP_FIELDS, firstIllFormedField } from "../../src/csi/illFormedText.js"
import { decodingStrictly, refusingBadRequests, UndecodableRequest } from "../../src/csi/strictRequests.js"
import {
  ControllerService,
  type CreateVolumeRequest,
  CreateVolumeRequest as CreateVolumeCodec,
  GroupControllerService,
  IdentityService,
  type NodePublishVolumeRequest,
  NodePublishVolumeRequest as NodePublishCodec,
  NodeService,
  SnapshotMetadataService
} from "../../src/gen/csi.js"
import { createVolumeRequest, mountCapability } from "../support/csiRequests.js"

const strictNode = decodingStrictly(NodeService)
const strictController = decodingStrictly(ControllerService)
const decodeStrictly = (method: "nodePublishVolume" | "createVolume", bytes: Uint8Array): unknown =>
  (method === "nodePublishVolume" ? strictNode : strictController)[method]!.requestDeserialize(Buffer.from(bytes))

const publish = (overrides: Partial<NodePublishVolumeRequest>): NodePublishVolumeRequest => ({
  volumeId: "pvc-1#lustrefs#10.0.0.4",
  publishContext: {},
  stagingTargetPath: "",
  targetPath: "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pv/mount",
  volumeCapability: mountCapability(),
  readonly: false,
  secrets: {},
  volumeContext: { "mgs-ip-address": "10.0.0.4" },
  ...overrides
})
const create = (overrides: Partial<CreateVolumeRequest>): CreateVolumeRequest =>
  createVolumeRequest("pvc-1", { "mgs-ip-address": "10.0.0.4" }, overrides)

/** A string field, how to put text in it, and how the refusal names it. */
interface FieldCase {
  readonly method: "nodePublishVolume" | "createVolume"
  readonly field: string
  readonly request: (text: string) => unknown
  readonly encode: (text: string) => Uint8Array
}
const nodePublish = (field: string, request: (text: string) => NodePublishVolumeRequest): FieldCase =>
  ({ method: "nodePublishVolume", field, request, encode: (text) => NodePublishCodec.encode(request(text)).finish() })
const createVolume = (field: string, request: (text: string) => CreateVolumeRequest): FieldCase =>
  ({ method: "createVolume", field, request, encode: (text) => CreateVolumeCodec.encode(request(text)).finish() })

const fieldCases: ReadonlyArray<FieldCase> = [
  nodePublish("target_path", (text) => publish({ targetPath: text })),
  nodePublish("volume_id", (text) => publish({ volumeId: text })),
  nodePublish("volume_capability.mount.mount_flags[1]", (text) => publish({ volumeCapability: mountCapability(undefined, ["ro", text]) })),
  nodePublish("volume_context[\"sub-dir\"]", (text) => publish({ volumeContext: { "mgs-ip-address": "10.0.0.4", "sub-dir": text } })),
  nodePublish("a key of volume_context", (text) => publish({ volumeContext: { [text]: "x" } })),
  nodePublish("a value of secrets", (text) => publish({ secrets: { token: text } })),
  createVolume("name", (text) => create({ name: text })),
  createVolume("parameters[\"fs-name\"]", (text) => create({ parameters: { "mgs-ip-address": "10.0.0.4", "fs-name": text } })),
  createVolume("volume_capabilities[1].mount.fs_type", (text) =>
    create({
      volumeCapabilities: [mountCapability(), {
        accessType: { $case: "mount", value: { fsType: text, mountFlags: [], volumeMountGroup: "" } },
        accessMode: undefined
      }]
    })),
  createVolume("accessibility_requirements.requisite[0].segments[\"zone\"]", (text) =>
    create({ accessibilityRequirements: { requisite: [{ segments: { zone: text } }], preferred: [] } }))
]

/** The request with `bytes` in the field under test: encoded around a placeholder of as many DEL bytes, then patched. */
const withRawBytes = (fieldCase: FieldCase, bytes: Uint8Array): Uint8Array => {
  const encoded = Buffer.from(fieldCase.encode("\x7f".repeat(bytes.length)))
  const at = encoded.indexOf(Buffer.alloc(bytes.length, 0x7f))
  expect(at).toBeGreaterThanOrEqual(0)
  encoded.set(bytes, at)
  return encoded
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const isValidUtf8 = (bytes: Uint8Array): boolean => Exit.isSuccess(Effect.runSyncExit(Effect.try(() => fatalUtf8.decode(bytes))))

/** Sequences no UTF-8 decoder may accept: stray bytes, overlong forms, surrogates, beyond U+10FFFF, truncations. */
const invalidSequences = [
  [0xff], [0xfe], [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf0, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98]
]
const CaseIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: fieldCases.length - 1 }))
const SequenceIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: invalidSequences.length - 1 }))
const Byte = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
const utf8 = (text: string) => Buffer.from(text, "utf8")

describe("strict request decoding", () => {
  it.prop("well-formed text round-trips unchanged and is not flagged", [CaseIndex, Schema.String], ([index, generated]) => {
    const fieldCase = fieldCases[index]!
    const text = generated.toWellFormed()
    const decoded = decodeStrictly(fieldCase.method, fieldCase.encode(text))
    expect(decoded).toEqual(fieldCase.request(text))
    expect(firstIllFormedField(decoded)).toBeUndefined()
  })

  it.prop("invalid UTF-8 anywhere in a field is always flagged, naming the field", [CaseIndex, Schema.String, SequenceIndex, Schema.String], ([index, before, sequence, after]) => {
    const fieldCase = fieldCases[index]!
    const bytes = Buffer.concat([utf8(before.toWellFormed()), Buffer.from(invalidSequences[sequence]!), utf8(after.toWellFormed())])
    expect(isValidUtf8(bytes)).toBe(false)
    expect(firstIllFormedField(decodeStrictly(fieldCase.method, withRawBytes(fieldCase, bytes)))).toBe(fieldCase.field)
  })

  it.prop("any bytes: flagged exactly when a fatal UTF-8 decoder refuses them, else decoded as it decodes them", [CaseIndex, Schema.NonEmptyArray(Byte)], ([index, list]) => {
    const fieldCase = fieldCases[index]!
    const bytes = Uint8Array.from(list)
    const decoded = decodeStrictly(fieldCase.method, withRawBytes(fieldCase, bytes))
    if (isValidUtf8(bytes)) {
      expect(firstIllFormedField(decoded)).toBeUndefined()
      expect(decoded).toEqual(fieldCase.request(fatalUtf8.decode(bytes)))
    } else expect(firstIllFormedField(decoded)).toBe(fieldCase.field)
  })

  it("keeps a leading U+FEFF: it is text, not a byte-order mark", () => {
    const decoded = decodeStrictly("nodePublishVolume", NodePublishCodec.encode(publish({ targetPath: "\uFEFF/x" })).finish())
    expect(decoded).toMatchObject({ targetPath: "\uFEFF/x" })
  })

  it("bytes that are no request message become an UndecodableRequest, not a thrown error", () => {
    const truncated = NodePublishCodec.encode(publish({})).finish().subarray(0, 20)
    const decoded = decodeStrictly("nodePublishVolume", truncated)
    expect(decoded).toBeInstanceOf(UndecodableRequest)
    expect(decoded).toMatchObject({ messageName: "NodePublishVolumeRequest" })
  })

  it("every method of every CSI service has its request message (CSI names it <RPC>Request)", () => {
    for (const service of [IdentityService, ControllerService, NodeService, GroupControllerService, SnapshotMetadataService]) {
      const strict = decodingStrictly(service)
      for (const [key, method] of Object.entries(service)) {
        expect(strict[key]?.requestDeserialize(Buffer.alloc(0)), method.path).toEqual(method.requestDeserialize(Buffer.alloc(0)))
      }
    }
  })

  it("the map fields the check knows are exactly the map fields of csi.proto", () => {
    const proto = Fs.readFileSync(new URL("../../proto/csi.proto", import.meta.url), "utf8")
    const inProto = new Set([...proto.matchAll(/map<string, string> (\w+) =/g)].map(([, name]) =>
      name!.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())
    ))
    expect([...CSI_MAP_FIELDS].sort()).toEqual([...inProto].sort())
  })
})

describe("refusingBadRequests", () => {
  const reached = refusingBadRequests((_request: unknown) => Effect.succeed("reached the program"))
  const refusal = (request: unknown) => Effect.runSync(Effect.flip(reached(request)))

  it("refuses invalid UTF-8 with INVALID_ARGUMENT naming the field and the fix; the program never runs", () => {
    const bytes = withRawBytes(fieldCases[0]!, Uint8Array.from([0x2f, 0xff, 0x2f]))
    expect(refusal(decodeStrictly("nodePublishVolume", bytes))).toMatchObject({
      _tag: "InvalidArgument",
      message: "target_path is not valid UTF-8; send the text UTF-8 encoded"
    })
  })

  it("refuses an undecodable request with INVALID_ARGUMENT naming the message", () => {
    expect(refusal(new UndecodableRequest("NodePublishVolumeRequest", "premature EOF"))).toMatchObject({
      _tag: "InvalidArgument",
      message: "the request is not a csi.v1.NodePublishVolumeRequest (premature EOF); send the message protobuf-encoded, as the CSI spec defines it"
    })
  })

  it("runs the program on a well-formed request", () => {
    expect(Effect.runSync(reached(publish({ targetPath: "/p/é/😀" })))).toBe("reached the program")
  })
})
