import * as grpc from "@grpc/grpc-js"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as csi from "../../src/gen/csi.js"
import { ask, csiClient } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters } from "../support/csiRequests.js"
import { type DriverProcess, runDriver, startSimulation } from "../support/driverProcess.js"

const LAUNCHER = Path.resolve(import.meta.dirname, "../../bin/azurelustre-csi.js")

let running: Array<DriverProcess> = []
afterEach(() => {
  for (const driver of running) driver.child.kill("SIGKILL")
  running = []
})
const simulation = async (args: ReadonlyArray<string> = []) => {
  const driver = await startSimulation(args)
  running.push(driver)
  return driver
}

/**
 * A Probe the driver holds (its readiness checks wait a minute, by the probe-delay fault), sent
 * over a connection a first Probe opened, so it reaches the driver within milliseconds.
 */
const probeInFlight = async (driver: DriverProcess) => {
  const client = csiClient(driver.socketPath)
  expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
  Fs.writeFileSync(Path.join(driver.stateDir, "faults", "probe-delay"), "60000")
  const inFlight = ask(client.identity, client.identity.probe, {})
  // Nothing observable says the call has arrived: wait well over the milliseconds it takes.
  await new Promise((resolve) => setTimeout(resolve, 300))
  return { client, inFlight }
}

describe("azurelustre-csi sim (the real process)", () => {
  it("prints its socket and an example call, answers Probe, and follows the not-ready switch", async () => {
    const driver = await simulation()
    // The banner follows once the ARM emulator is up, just after the socket serves. Its calls work
    // from any directory: the clone's launcher by its absolute path, never `npx` (a registry lookup).
    await expect.poll(() => driver.output()).toContain(`${LAUNCHER} call GetPluginInfo --endpoint unix://${driver.socketPath}`)
    expect(driver.output()).not.toContain("npx")
    const client = csiClient(driver.socketPath)

    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
    Fs.writeFileSync(Path.join(driver.stateDir, "faults", "not-ready"), "LNet self-ping failed (simulated)")
    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: false } })
    await expect.poll(() => driver.output()).toContain("LNet self-ping failed (simulated)")
    Fs.rmSync(Path.join(driver.stateDir, "faults", "not-ready"))
    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
    client.close()
  })

  it("on SIGTERM finishes the call in flight, removes its socket and exits 0", async () => {
    const driver = await simulation()
    Fs.writeFileSync(Path.join(driver.stateDir, "faults", "probe-delay"), "700")
    const client = csiClient(driver.socketPath)
    const inFlight = ask(client.identity, client.identity.probe, {})
    await new Promise((resolve) => setTimeout(resolve, 200))

    driver.child.kill("SIGTERM")

    expect(await inFlight).toEqual({ ok: true, value: { ready: true } })
    expect(await driver.exited).toBe(0)
    expect(Fs.existsSync(driver.socketPath)).toBe(false)
    expect(driver.output()).toContain("draining in-flight CSI calls")
    client.close()
  })

  it("a second SIGTERM during the drain stops it at once: exit 1, the socket removed, the cut said", async () => {
    const driver = await simulation(["--drain-timeout", "60"])
    const { client, inFlight } = await probeInFlight(driver)

    driver.child.kill("SIGTERM")
    await expect.poll(() => driver.output()).toContain("draining in-flight CSI calls")
    driver.child.kill("SIGTERM")

    expect(await driver.exited).toBe(1)
    expect(driver.output()).toContain("a second SIGTERM during the drain: stopping now, cutting the CSI calls still in flight")
    expect(Fs.existsSync(driver.socketPath)).toBe(false)
    expect(await inFlight).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE })
    client.close()
  })

  it("takes serve's --drain-timeout (default 20 s); a call it cuts is logged as cut by the shutdown", async () => {
    const help = runDriver(["sim", "--help"])
    expect(await help.exited).toBe(0)
    expect(help.output()).toMatch(/--drain-timeout +seconds in-flight calls may finish after SIGTERM or SIGINT.*\(default 20\)/)

    const driver = await simulation(["--drain-timeout", "1"])
    const { client, inFlight } = await probeInFlight(driver)

    driver.child.kill("SIGTERM")
    expect(await driver.exited).toBe(0)
    expect(await inFlight).toMatchObject({ ok: false })
    const cut = driver.output().split("\n").find((line) => line.includes('"code":"UNAVAILABLE"'))
    expect(cut).toContain('"method":"Probe"')
    expect(cut).toContain("cut by the driver's shutdown: the call was still running when its 1s drain timeout ended")
    expect(driver.output()).not.toContain("cancelled by the caller")
    client.close()
  })

  it("its Events speak of the simulation's durations, not Azure's", async () => {
    const driver = await simulation(["--cluster-creation", "2"])
    const client = csiClient(driver.socketPath)
    const created = await ask(client.controller, client.controller.createVolume, createVolumeRequest("pvc-events", {
      ...dynamicParameters,
      "csi.storage.k8s.io/pvc/name": "data",
      "csi.storage.k8s.io/pvc/namespace": "ml"
    }), { deadlineMs: 30_000 })
    expect(created.ok).toBe(true)
    const events = driver.output().split("\n").filter((line) => line.includes('"msg":"event '))
    expect(events.find((line) => line.includes("ProvisioningStarted"))).toContain(
      "this takes 2 s in the simulation (10 to 20 minutes in Azure)"
    )
    expect(events.filter((line) => /minutes so far|takes 10 to 20 minutes"/.test(line))).toEqual([])
    client.close()
  })

  it("refuses to start on a socket another driver serves, with exit code 1", async () => {
    const first = await simulation()
    const second = runDriver(["sim", "--endpoint", first.socketPath, "--state-dir", first.stateDir, "--health-port", "0"])
    expect(await second.exited).toBe(1)
    expect(second.output()).toContain("another process is already serving on")
  })

  it("exits 2 naming an unknown or invalid flag", async () => {
    const unknown = runDriver(["serve", "--endpiont", "/tmp/x.sock"])
    expect(await unknown.exited).toBe(2)
    expect(unknown.output()).toContain("unknown flag --endpiont")
    const invalid = runDriver(["serve", "--mode", "everything"])
    expect(await invalid.exited).toBe(2)
    expect(invalid.output()).toContain('invalid --mode "everything"')
  })

  it("never writes a secret to its output, whichever RPC carries it", async () => {
    const driver = await simulation(["--log-level", "debug"])
    const generated: Record<string, unknown> = csi
    const withSecrets = [csi.IdentityService, csi.ControllerService, csi.NodeService]
      .flatMap((service) => Object.values(service))
      .filter((method) => {
        const request = generated[`${method.path.split("/").pop()}Request`] as { create?: () => object } | undefined
        return request?.create !== undefined && "secrets" in request.create()
      })
    expect(withSecrets.map((m) => m.path.split("/").pop()).sort()).toEqual([
      "ControllerExpandVolume", "ControllerModifyVolume", "ControllerPublishVolume", "ControllerUnpublishVolume",
      "CreateSnapshot", "CreateVolume", "DeleteSnapshot", "DeleteVolume", "GetSnapshot", "ListSnapshots",
      "NodeExpandVolume", "NodePublishVolume", "NodeStageVolume", "ValidateVolumeCapabilities"
    ])

    const raw = new grpc.Client(`unix://${driver.socketPath}`, grpc.credentials.createInsecure())
    for (const [i, method] of withSecrets.entries()) {
      const request = method.requestDeserialize(Buffer.alloc(0)) as { secrets: Record<string, string> }
      request.secrets = { password: `S3CR3T-pw-${i}`, [`S3CR3T-key-${i}`]: `S3CR3T-value-${i}` }
      Object.assign(request, { volumeId: `vol-${i}`, name: `pvc-${i}` })
      const bytes = method.requestSerialize(request as never)
      await new Promise((resolve) =>
        raw.makeUnaryRequest(method.path, (b: Buffer) => b, (b: Buffer) => b, bytes, (error, value) => resolve(error ?? value)))
    }
    raw.close()
    driver.child.kill("SIGTERM")
    await driver.exited

    const output = driver.output()
    expect(output.match(/"msg":"CSI call"/g)).toHaveLength(withSecrets.length)
    expect(output).toContain('"secrets":"<redacted>"')
    expect(output).not.toContain("S3CR3T")
  })
})
