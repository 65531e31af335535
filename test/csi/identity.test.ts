import { status } from "@grpc/grpc-js"
import { Effect, type Layer } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import packageJson from "../../package.json" with { type: "json" }
import type { Mode } from "../../src/config/DriverConfig.js"
import { type PluginCapability, PluginCapability_Service_Type, PluginCapability_VolumeExpansion_Type } from "../../src/gen/csi.js"
import { NotReady, Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"

const alwaysReady = Readiness.layerFromChecks([])

let stopDriver: () => Promise<void> = async () => {}
afterEach(() => stopDriver())

const start = async (options: { mode?: Mode; readiness?: Layer.Layer<Readiness> } = {}) => {
  const driver = await startInProcessDriver({ readiness: options.readiness ?? alwaysReady, ...(options.mode && { mode: options.mode }) })
  stopDriver = driver.stop
  return driver
}

describe("Identity over a real unix socket", () => {
  it("GetPluginInfo names the driver and reports package.json's version", async () => {
    const { client } = await start()
    const answer = await ask(client.identity, client.identity.getPluginInfo, {})
    expect(answer).toEqual({
      ok: true,
      value: { name: "azurelustre.csi.azure.com", vendorVersion: packageJson.version, manifest: {} }
    })
  })

  const controllerCapabilities: Array<PluginCapability> = [
    { type: { $case: "service", value: { type: PluginCapability_Service_Type.CONTROLLER_SERVICE } } },
    { type: { $case: "volumeExpansion", value: { type: PluginCapability_VolumeExpansion_Type.ONLINE } } }
  ]
  it.each<[Mode, Array<PluginCapability>]>([
    ["controller", controllerCapabilities],
    ["all", controllerCapabilities],
    ["node", []]
  ])("GetPluginCapabilities in %s mode", async (mode, capabilities) => {
    const { client } = await start({ mode })
    const answer = await ask(client.identity, client.identity.getPluginCapabilities, {})
    expect(answer).toEqual({
      ok: true,
      value: { capabilities }
    })
  })

  it("serves the Controller only when the mode includes it", async () => {
    const { client } = await start({ mode: "node" })
    const controller = await ask(client.controller, client.controller.controllerGetCapabilities, {})
    expect(controller).toMatchObject({ ok: false, code: status.UNIMPLEMENTED })
  })

  it("Probe follows the readiness checks, and says why it is not ready in the log", async () => {
    let failing: string | undefined
    const readiness = Readiness.layerFromChecks([{
      name: "lnet",
      run: Effect.suspend(() => (failing === undefined ? Effect.void : Effect.fail(new NotReady({ reason: failing }))))
    }])
    const { client, logs } = await start({ readiness })

    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
    failing = "no NID on a non-loopback interface"
    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: false } })
    expect(logs.some((line) => line.includes("no NID on a non-loopback interface"))).toBe(true)
    failing = undefined
    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
  })
})
