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

describe("azurelustre-csi serve --mode node (the real process)", () => {
  // This machine has no working Lustre client, so the node plugin must say it is not ready, and why.
  it("is ready only when LNet works: /healthz lists the four LNet checks, each failing with its reason", async () => {
    const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-node-"))
    const driver = runDriver([
      // The node setup is not this test's (test/e2e/lustreClientServe.test.ts): a client is assumed there.
      "serve", "--mode", "node", "--node-id", "node-1", "--zone", "eastus-1", "--install-lustre-client", "no",
      "--endpoint", `unix://${Path.join(home, "csi.sock")}`, "--mount-root", Path.join(home, "mounts"), "--health-port", "0"
    ])
    running.push(driver)
    const healthUrl = await healthUrlOf(driver)
    await expect.poll(() => driver.output(), { timeout: 10_000 }).toContain("serving CSI")
    // kubelet's startup probe can watch the driver start: the health server listens first.
    expect(driver.output().indexOf("serving /healthz")).toBeLessThan(driver.output().indexOf("serving CSI"))
    const response = await fetch(`${healthUrl}/healthz?verbose`)
    const body = await response.text()
    expect(response.status).toBe(503)
    expect(body.split("\n").filter((line) => line.startsWith("[")).map((line) => line.split(" ").slice(0, 3).join(" "))).toEqual([
      "[-] lnet-modules failed:",
      "[-] lnet-nid failed:",
      "[-] lnet-self-ping failed:",
      "[-] lnet-interface failed:"
    ])
    expect(body).toContain("[-] lnet-self-ping failed: not checked: LNet has no NID to ping (see lnet-nid)")
  })
})
