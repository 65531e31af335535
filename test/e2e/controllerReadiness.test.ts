import * as Fs from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UNREACHABLE_KUBECONFIG } from "../../bench/unreachableKubeconfig.js"
import { type DriverProcess, healthUrlOf, runDriver } from "../support/driverProcess.js"

// `serve --mode controller` as it runs in a pod: its readiness is whether it can sign in to ARM.
// The identity is a managed identity (the only kind @azure/identity lets point at a local
// endpoint), served here in the App Service shape.
const IDENTITY_HEADER = "test-identity-header"
let identity: Http.Server
let identityEndpoint: string
const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-controller-"))

beforeAll(async () => {
  identity = Http.createServer((request, response) => {
    const resource = new URL(request.url ?? "/", "http://localhost").searchParams.get("resource") ?? ""
    response.writeHead(200, { "content-type": "application/json" })
    response.end(JSON.stringify({
      access_token: "test-token",
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      expires_in: 3600,
      resource,
      token_type: "Bearer"
    }))
  })
  await new Promise<void>((resolve) => identity.listen(0, "127.0.0.1", resolve))
  identityEndpoint = `http://127.0.0.1:${(identity.address() as Net.AddressInfo).port}/msi/token`
  Fs.writeFileSync(Path.join(home, "azure.json"), JSON.stringify({
    cloud: "AzurePublicCloud",
    tenantId: "tenant",
    subscriptionId: "00000000-0000-0000-0000-000000000000",
    resourceGroup: "rg",
    location: "eastus",
    vnetName: "vnet",
    subnetName: "subnet",
    useManagedIdentityExtension: true
  }))
  // The Kubernetes client needs a kubeconfig to start; this one names no reachable cluster.
  Fs.writeFileSync(Path.join(home, "kubeconfig"), UNREACHABLE_KUBECONFIG)
})
afterAll(() => identity.close())

const startController = async (name: string, endpoint: string) => {
  const driver = runDriver(["serve", "--mode", "controller", "--endpoint", Path.join(home, `${name}.sock`), "--health-port", "0"], {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    AZURE_CONFIG_FILE: Path.join(home, "azure.json"),
    KUBECONFIG: Path.join(home, "kubeconfig"),
    IDENTITY_ENDPOINT: endpoint,
    IDENTITY_HEADER
  })
  return { driver, healthUrl: await healthUrlOf(driver) }
}

const stop = async (driver: Pick<DriverProcess, "child" | "exited">) => {
  driver.child.kill("SIGTERM")
  await driver.exited
}

describe("the controller's readiness", () => {
  it("is ready once it can obtain an ARM token", async () => {
    const { driver, healthUrl } = await startController("signed-in", identityEndpoint)
    try {
      const answer = await fetch(`${healthUrl}/healthz?verbose`)
      expect(answer.status).toBe(200)
      expect(await answer.text()).toBe("[+] arm-token ok\n\nok\n")
    } finally {
      await stop(driver)
    }
  })

  it("is not ready, naming the identity and what to check, when it cannot", async () => {
    const { driver, healthUrl } = await startController("refused", "http://127.0.0.1:9/msi/token")
    try {
      const answer = await fetch(`${healthUrl}/healthz`)
      expect(answer.status).toBe(503)
      const body = await answer.text()
      expect(body).toContain("[-] arm-token failed: cannot obtain an Azure Resource Manager token (ManagedIdentity)")
      expect(body).toContain("check the controller's identity")
    } finally {
      await stop(driver)
    }
  })
})
