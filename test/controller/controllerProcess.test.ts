/**
 * `serve --mode controller` as shipped (dist/azurelustre-csi.js), pointed at another ARM (the
 * emulator, in this process: ARM_ENDPOINT and NODE_EXTRA_CA_CERTS) with a managed identity served
 * here in the App Service shape (IDENTITY_ENDPOINT, IDENTITY_HEADER):
 * - without any Kubernetes API it provisions all the same, and its Events are log lines;
 * - with one, its Events are reported by the name it runs as (--driver-name).
 */
import { Duration, Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ArmEmulator } from "../../layers/azure/ArmEmulator.js"
import type { CreateVolumeResponse } from "../../src/gen/csi.js"
import { ask, csiClient } from "../support/csiClient.js"
import { createVolumeRequest } from "../support/csiRequests.js"
import { runDriver } from "../support/driverProcess.js"
import { fakeKubeApiServer, type FakeKubeApiServer, statusJson, waitFor } from "../support/fakeKubeApiServer.js"

const IDENTITY_HEADER = "controller-process-test"
const scope = Effect.runSync(Scope.make())
const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-controller-process-"))
let emulator: ArmEmulator
let kubeApi: FakeKubeApiServer
let identity: Http.Server
let identityEndpoint = ""

beforeAll(async () => {
  // Clusters are created and deleted at once: the controller's first read sees the end.
  emulator = await Effect.runPromise(
    ArmEmulator.start({ creationDuration: Duration.zero, deletionDuration: Duration.zero }).pipe(Scope.provide(scope))
  )
  kubeApi = await Effect.runPromise(
    fakeKubeApiServer((request) =>
      request.method === "POST"
        ? [201, JSON.parse(request.body)]
        : [404, statusJson(404, "NotFound", "persistentvolumeclaims not found")]
    ).pipe(Scope.provide(scope))
  )
  identity = Http.createServer((request, response) => {
    response.writeHead(request.headers["x-identity-header"] === IDENTITY_HEADER ? 200 : 401, { "content-type": "application/json" })
    response.end(JSON.stringify({
      access_token: "test-token",
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource: "https://management.azure.com",
      token_type: "Bearer"
    }))
  })
  await new Promise<void>((resolve) => identity.listen(0, "127.0.0.1", resolve))
  identityEndpoint = `http://127.0.0.1:${(identity.address() as Net.AddressInfo).port}/msi/token`
  Fs.writeFileSync(Path.join(home, "emulator.pem"), emulator.certificatePem)
  Fs.writeFileSync(Path.join(home, "azure.json"), JSON.stringify({
    tenantId: "tenant",
    subscriptionId: emulator.subscriptionId,
    resourceGroup: "rg-process",
    location: "eastus",
    vnetName: "vnet",
    subnetName: "lustre",
    useManagedIdentityExtension: true
  }))
  Fs.writeFileSync(Path.join(home, "kubeconfig"), JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: kubeApi.url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "u", user: { token: "t" } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x"
  }))
  Fs.mkdirSync(Path.join(home, "empty-home"))
})
afterAll(async () => {
  identity.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** The controller as its own process, serving once its socket is up; its env has no Kubernetes unless given. */
const startController = async (name: string, extraArgs: ReadonlyArray<string>, kubeEnv: NodeJS.ProcessEnv) => {
  const socketPath = Path.join(home, `${name}.sock`)
  const driver = runDriver(
    ["serve", "--mode", "controller", "--endpoint", socketPath, "--health-port", "0", ...extraArgs],
    {
      PATH: process.env["PATH"],
      HOME: Path.join(home, "empty-home"),
      AZURE_CONFIG_FILE: Path.join(home, "azure.json"),
      ARM_ENDPOINT: emulator.url,
      NODE_EXTRA_CA_CERTS: Path.join(home, "emulator.pem"),
      IDENTITY_ENDPOINT: identityEndpoint,
      IDENTITY_HEADER,
      ...kubeEnv
    }
  )
  const deadline = Date.now() + 10_000
  while (!driver.output().includes("serving CSI")) {
    if (Date.now() > deadline || driver.child.exitCode !== null) {
      driver.child.kill("SIGKILL")
      throw new Error(`the controller did not start:\n${driver.output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const client = csiClient(socketPath)
  const create = (volume: string) =>
    ask<ReturnType<typeof createVolumeRequest>, CreateVolumeResponse>(
      client.controller,
      client.controller.createVolume,
      createVolumeRequest(volume, {
        "sku-name": "AMLFS-Durable-Premium-125",
        zone: "1",
        "maintenance-day-of-week": "Sunday",
        "maintenance-time-of-day-utc": "02:00",
        "csi.storage.k8s.io/pvc/name": "data",
        "csi.storage.k8s.io/pvc/namespace": "ml"
      }),
      { deadlineMs: 15_000 }
    )
  const stop = async () => {
    client.close()
    driver.child.kill("SIGTERM")
    return await driver.exited
  }
  return { driver, create, stop }
}

describe("serve --mode controller against another ARM", () => {
  it("without a Kubernetes API: provisions, and each Event is a log line", async () => {
    const controller = await startController("no-kube", [], {})
    try {
      const created = await controller.create("pvc-no-kube")
      expect(created).toMatchObject({ ok: true, value: { volume: { volumeId: expect.stringMatching(/^pvc-no-kube#lustrefs#10\./) } } })
      // The log reaches this process through a pipe: wait for the last Event's line.
      await waitFor(() => controller.driver.output().includes("the event was Normal Provisioned"))
      const output = controller.driver.output()
      expect(output).toContain("cannot record an Event on the PVC; the event was Normal ProvisioningStarted: creating Azure Managed Lustre pvc-no-kube")
      expect(output).toContain("the event was Normal Provisioned: Azure Managed Lustre pvc-no-kube is ready")
    } finally {
      expect(await controller.stop()).toBe(0)
    }
  })

  it("with a Kubernetes API: Events are reported by the driver's name (--driver-name) with the action they are about", async () => {
    const controller = await startController("named", ["--driver-name", "lustre.example.com"], { KUBECONFIG: Path.join(home, "kubeconfig") })
    try {
      expect(await controller.create("pvc-named")).toMatchObject({ ok: true })
      const events = kubeApi.seen
        .filter((request) => request.method === "POST")
        .map((request) => JSON.parse(request.body) as { reportingController: string; action: string; reason: string })
      expect(events.map((event) => `${event.reportingController} ${event.action} ${event.reason}`)).toEqual([
        "lustre.example.com Provisioning ProvisioningStarted",
        "lustre.example.com Provisioning Provisioned"
      ])
    } finally {
      expect(await controller.stop()).toBe(0)
    }
  })
})
