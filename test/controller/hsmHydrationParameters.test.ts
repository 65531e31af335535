import { status } from "@grpc/grpc-js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AmlfsApiFake } from "../../layers/azure/AmlfsApiFake.js"
import type { CreateVolumeRequest } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters, mountCapability } from "../support/csiRequests.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"

const TIB = 1n << 40n

let driver: Awaited<ReturnType<typeof startInProcessDriver>>
beforeAll(async () => {
  driver = await startInProcessDriver({
    readiness: Readiness.layerFromChecks([]),
    arm: { createDurationMillis: 50, deleteDurationMillis: 50 }
  })
})
afterAll(() => driver.stop())

const create = (name: string, parameters: Record<string, string>, overrides: Partial<CreateVolumeRequest> = {}) =>
  ask(driver.client.controller, driver.client.controller.createVolume, createVolumeRequest(name, parameters, {
    capacityRange: { requiredBytes: 4n * TIB, limitBytes: 0n },
    ...overrides
  }))
const creates = () => driver.inspect(AmlfsApiFake.use((fake) => fake.count("beginCreate")))
const withMountFlags = (...mountFlags: Array<string>): Partial<CreateVolumeRequest> => ({
  volumeCapabilities: [mountCapability(undefined, mountFlags)]
})

describe("CreateVolume with the HSM hydration parameters", () => {
  it("copies hsm-hydrate and hsm-hydrate-paths into a created cluster's volume context", async () => {
    const answer = await create("pvc-hydrated", {
      ...dynamicParameters,
      "hsm-hydrate": "before-start",
      "hsm-hydrate-paths": "/datasets/imagenet,models"
    })
    expect(answer).toMatchObject({
      ok: true,
      value: {
        volume: {
          volumeContext: {
            "fs-name": "lustrefs",
            "hsm-hydrate": "before-start",
            "hsm-hydrate-paths": "/datasets/imagenet,models"
          }
        }
      }
    })
  })

  it("copies them into a static volume's context, an alias in the mount options giving the paths their mode", async () => {
    const answer = await create("pv-hydrated", { "mgs-ip-address": "10.0.0.4", "hsm-hydrate-paths": "models" }, withMountFlags("noatime,hsm-aware"))
    expect(answer).toMatchObject({
      ok: true,
      value: { volume: { volumeContext: { "mgs-ip-address": "10.0.0.4", "hsm-hydrate-paths": "models" } } }
    })
    const context = answer.ok ? answer.value.volume?.volumeContext ?? {} : {}
    expect(Object.keys(context)).not.toContain("hsm-hydrate")
  })

  it.each<[string, Record<string, string>, Partial<CreateVolumeRequest>, string]>([
    ["a bad hsm-hydrate", { "hsm-hydrate": "always" }, {}, `StorageClass parameter "hsm-hydrate" is "always", not a hydration mode`],
    ["a prefix with ..", { "hsm-hydrate": "background", "hsm-hydrate-paths": "a/../b" }, {}, `"hsm-hydrate-paths" prefix "a/../b" contains a ".." component`],
    ["paths while hydration is off", { "hsm-hydrate-paths": "models" }, {}, "has no effect while hsm-hydrate is off"],
    ["an alias that disagrees", { "hsm-hydrate": "background" }, withMountFlags("auto-import"), `mount option "auto-import" stands for hsm-hydrate=before-start but StorageClass parameter "hsm-hydrate" is "background"`],
    ["both aliases", {}, withMountFlags("hsm-aware", "auto-import"), `mount options "hsm-aware" (hsm-hydrate=background) and "auto-import"`]
  ])("refuses %s with INVALID_ARGUMENT naming it, before calling ARM", async (_case, parameters, overrides, named) => {
    const before = await creates()
    for (const [name, base] of [["pvc-refused", dynamicParameters], ["pv-refused", { "mgs-ip-address": "10.0.0.4" }]] as const) {
      const answer = await create(name, { ...base, ...parameters }, overrides)
      expect(answer).toMatchObject({ ok: false, code: status.INVALID_ARGUMENT })
      expect(answer.ok ? "" : answer.details).toContain(named)
    }
    expect(await creates()).toBe(before)
  })
})
