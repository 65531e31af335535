import { status } from "@grpc/grpc-js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ControllerServiceCapability_RPC_Type,
  type CreateVolumeRequest,
  type VolumeCapability,
  VolumeCapability_AccessMode_Mode
} from "../../src/gen/csi.js"
import { ask, csiClient } from "../support/csiClient.js"
import { type DriverProcess, startSimulation } from "../support/driverProcess.js"
import { createVolumeRequest, mountCapability } from "../support/csiRequests.js"

const mount = (mode?: VolumeCapability_AccessMode_Mode) => mountCapability(mode)
const block: VolumeCapability = {
  accessType: { $case: "block", value: {} },
  accessMode: { mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER }
}
const createRequest = (overrides: Partial<CreateVolumeRequest> = {}): CreateVolumeRequest =>
  createVolumeRequest("pv-static", { "mgs-ip-address": "10.0.0.4" }, {
    capacityRange: { requiredBytes: 1n << 40n, limitBytes: 0n },
    ...overrides
  })

let driver: DriverProcess
let client: ReturnType<typeof csiClient>
beforeAll(async () => {
  driver = await startSimulation()
  client = csiClient(driver.socketPath)
})
afterAll(() => {
  client.close()
  driver.child.kill("SIGKILL")
})

const create = (overrides: Partial<CreateVolumeRequest> = {}) => ask(client.controller, client.controller.createVolume, createRequest(overrides))

describe("CreateVolume for an existing filesystem (static provisioning)", () => {
  it("mints a Go-driver-compatible id without touching Azure, echoing the context the node needs", async () => {
    const answer = await create({
      name: "pv-ok",
      parameters: {
        "mgs-ip-address": "10.0.0.4",
        "fs-name": "lustrefs",
        "sub-dir": "${pvc.metadata.namespace}/${pvc.metadata.name}",
        "csi.storage.k8s.io/pvc/name": "data",
        "csi.storage.k8s.io/pvc/namespace": "ml"
      }
    })
    expect(answer).toMatchObject({
      ok: true,
      value: {
        volume: {
          volumeId: "pv-ok#lustrefs#10.0.0.4#${pvc.metadata.namespace}/${pvc.metadata.name}#f#",
          capacityBytes: 1n << 40n,
          volumeContext: {
            "mgs-ip-address": "10.0.0.4",
            "fs-name": "lustrefs",
            "sub-dir": "${pvc.metadata.namespace}/${pvc.metadata.name}",
            "csi.storage.k8s.io/pvc/name": "data"
          }
        }
      }
    })
  })

  it("answers a retry with the same volume, and a conflicting one ALREADY_EXISTS", async () => {
    const first = await create({ name: "pv-retry" })
    expect(await create({ name: "pv-retry" })).toEqual(first)
    expect(await create({ name: "pv-retry", capacityRange: { requiredBytes: 2n << 40n, limitBytes: 0n } })).toMatchObject({
      ok: false,
      code: status.ALREADY_EXISTS
    })
    expect(await create({ name: "pv-retry", parameters: { "mgs-ip-address": "10.0.0.5" } })).toMatchObject({
      ok: false,
      code: status.ALREADY_EXISTS
    })
  })

  it("accepts names up to CSI's 128 characters", async () => {
    const name = "p".repeat(128)
    const answer = await create({ name })
    expect(answer.ok && answer.value.volume?.volumeId.startsWith(`${name}#`)).toBe(true)
    expect(await create({ name: "p".repeat(129) })).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
  })

  it.each<[string, Partial<CreateVolumeRequest>, string]>([
    ["no name", { name: "" }, "name is required"],
    ["no capabilities", { volumeCapabilities: [] }, "volume_capabilities"],
    ["a block volume", { volumeCapabilities: [block] }, "block volumes are not supported"],
    ["an unknown parameter", { parameters: { "mgs-ip-address": "10.0.0.4", "sku-nme": "x" } }, "sku-nme"],
    ["an MGS that is not IPv4", { parameters: { "mgs-ip-address": "lustre.example" } }, "mgs-ip-address"],
    ["a bad fs-name", { parameters: { "mgs-ip-address": "10.0.0.4", "fs-name": "much-too-long" } }, "fs-name"],
    ["an escaping sub-dir", { parameters: { "mgs-ip-address": "10.0.0.4", "sub-dir": "../x" } }, "sub-dir"],
    ["a snapshot source", { volumeContentSource: { type: { $case: "snapshot", value: { snapshotId: "s" } } } }, "volume_content_source"]
  ])("refuses %s with INVALID_ARGUMENT naming it", async (_case, overrides, named) => {
    const answer = await create({ name: `pv-bad-${_case.replaceAll(" ", "-")}`, ...overrides })
    expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(answer.ok ? "" : answer.details).toContain(named)
  })

  it("refuses a malformed capacity range (required above limit) with INVALID_ARGUMENT", async () => {
    expect(await create({ name: "pv-range", capacityRange: { requiredBytes: 10n, limitBytes: 5n } })).toMatchObject({
      ok: false,
      code: status.INVALID_ARGUMENT
    })
  })
})

describe("DeleteVolume, ValidateVolumeCapabilities, ControllerGetCapabilities", () => {
  it("deletes a static volume without touching the filesystem, and again, and an unknown id", async () => {
    const created = await create({ name: "pv-del" })
    const volumeId = created.ok ? created.value.volume?.volumeId ?? "" : ""
    for (const id of [volumeId, volumeId, "not-ours"]) {
      expect(await ask(client.controller, client.controller.deleteVolume, { volumeId: id, secrets: {} })).toEqual({ ok: true, value: {} })
    }
    expect(await ask(client.controller, client.controller.deleteVolume, { volumeId: "", secrets: {} })).toMatchObject({
      ok: false,
      code: status.INVALID_ARGUMENT
    })
  })

  it("succeeds deleting a driver-created cluster that ARM no longer has", async () => {
    expect(await ask(client.controller, client.controller.deleteVolume, { volumeId: "pvc-1#lustrefs#10.0.0.4##t#rg", secrets: {} })).toEqual({
      ok: true,
      value: {}
    })
  })

  it("confirms supported capabilities, leaves unsupported ones unconfirmed, and knows unknown ids NOT_FOUND", async () => {
    const validate = (volumeId: string, volumeCapabilities: Array<VolumeCapability>) =>
      ask(client.controller, client.controller.validateVolumeCapabilities, {
        volumeId, volumeContext: {}, volumeCapabilities, parameters: {}, secrets: {}, mutableParameters: {}
      })
    const id = "pv#lustrefs#10.0.0.4##f#"
    expect(await validate(id, [mount(VolumeCapability_AccessMode_Mode.SINGLE_NODE_READER_ONLY)])).toMatchObject({
      ok: true,
      value: { confirmed: { volumeCapabilities: [mount(VolumeCapability_AccessMode_Mode.SINGLE_NODE_READER_ONLY)] } }
    })
    const refused = await validate(id, [block])
    expect(refused.ok && refused.value.confirmed).toBeUndefined()
    expect(refused.ok && refused.value.message).toContain("block")
    expect(await validate("nonsense", [mount()])).toMatchObject({ ok: false, code: status.NOT_FOUND })
    expect(await validate(id, [])).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
    expect(await validate("", [mount()])).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
  })

  it("advertises create/delete, single-node multi-writer and expansion", async () => {
    const answer = await ask(client.controller, client.controller.controllerGetCapabilities, {})
    expect(answer.ok && answer.value.capabilities.map((c) => c.type?.$case === "rpc" ? c.type.value.type : undefined)).toEqual([
      ControllerServiceCapability_RPC_Type.CREATE_DELETE_VOLUME,
      ControllerServiceCapability_RPC_Type.SINGLE_NODE_MULTI_WRITER,
      ControllerServiceCapability_RPC_Type.EXPAND_VOLUME
    ])
  })
})
