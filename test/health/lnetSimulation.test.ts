import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { ask, csiClient } from "../support/csiClient.js"
import { type DriverProcess, startSimulation } from "../support/driverProcess.js"

let running: Array<DriverProcess> = []
afterEach(() => {
  for (const driver of running) driver.child.kill("SIGKILL")
  running = []
})

describe("azurelustre-csi sim: readiness follows the LNet fault switches", () => {
  // Each fault file's effect on the probe is tested in test/layers/LnetProbe.test.ts; this is the wiring.
  it("an lnet-* fault file makes Probe answer not ready, naming the check that failed; removing it makes it ready", async () => {
    const driver = await startSimulation()
    running.push(driver)
    const client = csiClient(driver.socketPath)
    const ready = async () => {
      const answer = await ask(client.identity, client.identity.probe, {})
      return answer.ok && answer.value.ready
    }
    expect(await ready()).toBe(true)
    const faults: ReadonlyArray<readonly [string, string]> = [
      ["lnet-modules-missing", "kernel modules lnet and lustre are not loaded"],
      ["lnet-interface-down", "network interface sim0 of NID 192.0.2.10@tcp is not up (operstate down)"]
    ]
    for (const [fault, reason] of faults) {
      const file = Path.join(driver.stateDir, "faults", fault)
      Fs.writeFileSync(file, "")
      // LNet results are kept for a second in the simulation, so the switch shows within one.
      await expect.poll(ready, { timeout: 5_000 }).toBe(false)
      await expect.poll(() => driver.output()).toContain(reason)
      Fs.rmSync(file)
      await expect.poll(ready, { timeout: 5_000 }).toBe(true)
    }
    client.close()
  })
})
