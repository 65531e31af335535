import * as grpc from "@grpc/grpc-js"
import { describe, expect, it } from "vitest"
import {
  CreateVolumeRequest,
  DeleteVolumeRequest,
  NodePublishVolumeRequest,
  ProbeRequest,
  ValidateVolumeCapabilitiesRequest
} from "../../src/gen/csi.js"
import { createVolumeRequest, mountCapability } from "../support/csiRequests.js"
import { askRaw, rawDriverForFile } from "../support/rawCall.js"

/** `encoded` with the first run of DEL bytes as long as `bytes` replaced by them: the field that held it. */
const patched = (encoded: Uint8Array, bytes: ReadonlyArray<number>): Uint8Array => {
  const buffer = Buffer.from(encoded)
  const at = buffer.indexOf(Buffer.alloc(bytes.length, 0x7f))
  expect(at).toBeGreaterThanOrEqual(0)
  buffer.set(bytes, at)
  return buffer
}
const placeholder = (bytes: ReadonlyArray<number>) => "\x7f".repeat(bytes.length)
// "/é" with its second byte dropped: a lead byte with no continuation.
const badPath = [0x2f, 0x70, 0xc3, 0x2f]
const latin1Name = [0x70, 0x76, 0xe9]

const raw = rawDriverForFile()

describe("invalid UTF-8 in a request, through the gRPC server", () => {
  const cases = [
    {
      path: "/csi.v1.Node/NodePublishVolume",
      field: "target_path",
      bytes: patched(NodePublishVolumeRequest.encode({
        volumeId: "pvc-1#lustrefs#10.0.0.4",
        publishContext: {},
        stagingTargetPath: "",
        targetPath: placeholder(badPath),
        volumeCapability: mountCapability(),
        readonly: false,
        secrets: {},
        volumeContext: {}
      }).finish(), badPath)
    },
    {
      path: "/csi.v1.Controller/CreateVolume",
      field: "name",
      bytes: patched(CreateVolumeRequest.encode(createVolumeRequest(placeholder(latin1Name), { "mgs-ip-address": "10.0.0.4" })).finish(), latin1Name)
    },
    {
      path: "/csi.v1.Controller/CreateVolume",
      field: "parameters[\"sub-dir\"]",
      bytes: patched(
        CreateVolumeRequest.encode(createVolumeRequest("pvc-1", { "mgs-ip-address": "10.0.0.4", "sub-dir": placeholder(badPath) })).finish(),
        badPath
      )
    },
    {
      path: "/csi.v1.Controller/DeleteVolume",
      field: "volume_id",
      bytes: patched(DeleteVolumeRequest.encode({ volumeId: placeholder(latin1Name), secrets: {} }).finish(), latin1Name)
    },
    {
      path: "/csi.v1.Controller/ValidateVolumeCapabilities",
      field: "volume_capabilities[0].mount.mount_flags[0]",
      bytes: patched(ValidateVolumeCapabilitiesRequest.encode({
        volumeId: "pvc-1#lustrefs#10.0.0.4",
        volumeContext: {},
        volumeCapabilities: [mountCapability(undefined, [placeholder([0xff])])],
        parameters: {},
        secrets: {},
        mutableParameters: {}
      }).finish(), [0xff])
    }
  ]

  for (const { bytes, field, path } of cases) {
    it(`${path} with invalid UTF-8 in ${field} answers INVALID_ARGUMENT naming it`, async () => {
      expect(await askRaw(raw.client, path, bytes)).toEqual({
        ok: false,
        code: grpc.status.INVALID_ARGUMENT,
        details: `${field} is not valid UTF-8; send the text UTF-8 encoded`
      })
    })
  }

  it("bytes that are no request message answer INVALID_ARGUMENT, not INTERNAL, and the connection serves on", async () => {
    const truncated = NodePublishVolumeRequest.encode({
      volumeId: "pvc-1#lustrefs#10.0.0.4", publishContext: {}, stagingTargetPath: "", targetPath: "/t",
      volumeCapability: mountCapability(), readonly: false, secrets: {}, volumeContext: {}
    }).finish().subarray(0, 10)
    const answer = await askRaw(raw.client, "/csi.v1.Node/NodePublishVolume", truncated)
    expect(answer).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT })
    expect(answer.ok ? "" : answer.details).toMatch(/^the request is not a csi\.v1\.NodePublishVolumeRequest \(.+\); send the message protobuf-encoded/)
    expect(await askRaw(raw.client, "/csi.v1.Identity/Probe", ProbeRequest.encode({}).finish())).toMatchObject({ ok: true })
  })
})
