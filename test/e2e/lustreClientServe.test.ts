import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type DriverProcess, healthUrlOf, runDriver } from "../support/driverProcess.js"

let running: Array<Pick<DriverProcess, "child">> = []
afterEach(() => {
  for (const driver of running) driver.child.kill("SIGKILL")
  running = []
})

const FIXTURES = Path.resolve(import.meta.dirname, "../fixtures/lustreClient")

describe("azurelustre-csi serve --mode node: the node setup (the real process)", () => {
  it("on an Azure Linux node: not ready, /healthz says why and what to do, the LNet checks wait; it never crashes", async () => {
    const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-node-setup-"))
    const hostRoot = Path.join(home, "host")
    Fs.mkdirSync(Path.join(hostRoot, "etc"), { recursive: true })
    Fs.copyFileSync(Path.join(FIXTURES, "os-release-azurelinux-3.0.txt"), Path.join(hostRoot, "etc", "os-release"))
    const driver = runDriver([
      "serve", "--mode", "node", "--node-id", "node-1", "--zone", "eastus-1", "--remove-node-taint", "false",
      "--endpoint", `unix://${Path.join(home, "csi.sock")}`, "--mount-root", Path.join(home, "mounts"), "--health-port", "0",
      "--host-root", hostRoot
    ])
    running.push(driver)
    const healthUrl = await healthUrlOf(driver)
    const verbose = async () => (await fetch(`${healthUrl}/healthz?verbose`)).text()
    await expect.poll(verbose, { timeout: 10_000 }).toContain("[-] lustre-client failed: this node runs Microsoft Azure Linux 3.0")
    const body = await verbose()
    expect(body).toContain("run Lustre workloads on an Ubuntu node pool (az aks nodepool add --os-sku Ubuntu)")
    expect(body).toContain("[-] lnet-modules failed: not checked: the Lustre client is not set up yet (see lustre-client)")
    expect(driver.output()).toContain("the node setup failed: the node is not ready")
    // Outside a pod the Node Event is a log line.
    expect(driver.output()).toContain("LustreClientSetupFailed")
    expect(driver.child.exitCode).toBeNull()
  })
})
