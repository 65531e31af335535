/**
 * `serve --mode controller` as shipped (dist/azurelustre-csi.js), pointed at another ARM (the
 * emulator, in this process: ARM_ENDPOINT and NODE_EXTRA_CA_CERTS) with a managed identity served
 * here in the App Service shape (IDENTITY_ENDPOINT, IDENTITY_HEADER), or a service principal
 * signing in to a Microsoft Entra ID of its own (AZURE_AUTHORITY_HOST, served here too):
 * - without any Kubernetes API it provisions all the same, and its Events are log lines;
 * - with one, its Events are reported by the name it runs as (--driver-name);
 * - a service principal works against an authority host the identity library does not know, and
 *   when it cannot sign in, readiness names the endpoint it tried.
 */
import { Duration, Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ArmEmulator } from "../../layers/azure/ArmEmulator.js"
import { selfSignedCertificate } from "../../layers/azure/selfSignedCertificate.js"
import type { CreateVolumeResponse } from "../../src/gen/csi.js"
import { ask, csiClient } from "../support/csiClient.js"
import { createVolumeRequest, dynamicParameters } from "../support/csiRequests.js"
import { healthUrlOf, runDriver, servingCsi } from "../support/driverProcess.js"
import { fakeKubeApiServer, type FakeKubeApiServer, statusJson, waitFor } from "../support/fakeKubeApiServer.js"

const IDENTITY_HEADER = "controller-process-test"
const scope = Effect.runSync(Scope.make())
const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-controller-process-"))
let emulator: ArmEmulator
let kubeApi: FakeKubeApiServer
let identity: Http.Server
let identityEndpoint = ""
/** A Microsoft Entra ID of its own (Azure Stack, a sovereign cloud, a test server): OpenID metadata and a token endpoint. */
let entra: Https.Server
let authorityHost = ""
const entraRequests: Array<string> = []
/** The scopes the token requests asked for. */
const entraScopes: Array<string> = []
const SP = { tenant: "tenant-sp", clientId: "sp-client", secret: "sp-secret-never-logged" }

beforeAll(async () => {
  // One certificate for ARM and Entra ID: NODE_EXTRA_CA_CERTS names one file.
  const certificate = await Effect.runPromise(selfSignedCertificate())
  // Clusters are created and deleted at once: the controller's first read sees the end.
  emulator = await Effect.runPromise(
    ArmEmulator.start({ certificate, creationDuration: Duration.zero, deletionDuration: Duration.zero }).pipe(Scope.provide(scope))
  )
  entra = Https.createServer({ cert: certificate.certificatePem, key: certificate.keyPem }, (request, response) => {
    let body = ""
    request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
    request.on("end", () => {
      const url = request.url ?? ""
      entraRequests.push(`${request.method} ${url}`)
      const base = `${authorityHost}/${SP.tenant}`
      const answer = (status: number, json: unknown) => {
        response.writeHead(status, { "content-type": "application/json" })
        response.end(JSON.stringify(json))
      }
      if (request.method === "GET" && url.startsWith(`/${SP.tenant}/v2.0/.well-known/openid-configuration`)) {
        return answer(200, {
          issuer: `${base}/v2.0`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}/oauth2/v2.0/token`,
          jwks_uri: `${base}/discovery/v2.0/keys`,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`
        })
      }
      if (request.method === "POST" && url.startsWith(`/${SP.tenant}/oauth2/v2.0/token`)) {
        const form = new URLSearchParams(body)
        entraScopes.push(form.get("scope") ?? "")
        return form.get("client_id") === SP.clientId && form.get("client_secret") === SP.secret
          ? answer(200, { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: "sp-token" })
          : answer(401, { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." })
      }
      answer(404, { error: "not_found" })
    })
  })
  await new Promise<void>((resolve) => entra.listen(0, "127.0.0.1", resolve))
  authorityHost = `https://127.0.0.1:${(entra.address() as Net.AddressInfo).port}`
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
  for (const [file, secret] of [["sp.json", SP.secret], ["sp-wrong.json", "not-the-secret"]] as const) {
    Fs.writeFileSync(Path.join(home, file), JSON.stringify({
      tenantId: SP.tenant,
      subscriptionId: emulator.subscriptionId,
      resourceGroup: "rg-process",
      location: "eastus",
      vnetName: "vnet",
      subnetName: "lustre",
      aadClientId: SP.clientId,
      aadClientSecret: secret
    }))
  }
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
  entra.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** The controller as its own process, serving once its socket is up; its env has no Kubernetes unless given. */
const startController = async (name: string, extraArgs: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
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
      ...env
    }
  )
  await servingCsi(driver, "the controller")
  const client = csiClient(socketPath)
  const create = (volume: string) =>
    ask<ReturnType<typeof createVolumeRequest>, CreateVolumeResponse>(
      client.controller,
      client.controller.createVolume,
      createVolumeRequest(volume, {
        ...dynamicParameters,
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
        .filter((request) => request.method === "POST" && request.url.startsWith("/apis/events.k8s.io/"))
        .map((request) => JSON.parse(request.body) as { reportingController: string; action: string; reason: string })
      expect(events.map((event) => `${event.reportingController} ${event.action} ${event.reason}`)).toEqual([
        "lustre.example.com Provisioning ProvisioningStarted",
        "lustre.example.com Provisioning Provisioned"
      ])
    } finally {
      expect(await controller.stop()).toBe(0)
    }
  })

  it("a service principal signs in to an Entra ID the identity library does not know (AZURE_AUTHORITY_HOST), and provisions", async () => {
    entraRequests.length = 0
    entraScopes.length = 0
    const controller = await startController("sp", [], {
      AZURE_CONFIG_FILE: Path.join(home, "sp.json"),
      AZURE_AUTHORITY_HOST: authorityHost,
      IDENTITY_ENDPOINT: undefined,
      IDENTITY_HEADER: undefined
    })
    try {
      const health = await fetch(`${await healthUrlOf(controller.driver)}/healthz?verbose`)
      expect(await health.text()).toBe("[+] arm-token ok\n\nok\n")
      expect(await controller.create("pvc-sp")).toMatchObject({ ok: true })
      // Its own metadata and token endpoint; never Microsoft's instance discovery.
      expect(new Set(entraRequests.map((request) => request.replace(/\?.*$/, "")))).toEqual(new Set([
        `GET /${SP.tenant}/v2.0/.well-known/openid-configuration`,
        `POST /${SP.tenant}/oauth2/v2.0/token`
      ]))
      // ARM_ENDPOINT is the emulator, but the tokens are ARM's (the cloud's), for readiness and requests alike.
      expect(new Set(entraScopes.map((scope) => scope.split(" ").filter((s) => s.endsWith("/.default")).join(" ")))).toEqual(
        new Set(["https://management.azure.com/.default"])
      )
      expect(controller.driver.output()).toContain(`"tokenEndpoint":"${authorityHost}/${SP.tenant}"`)
      expect(controller.driver.output()).not.toContain(SP.secret)
    } finally {
      expect(await controller.stop()).toBe(0)
    }
  })

  it("a service principal that cannot sign in: readiness names the identity and the endpoint it tried", async () => {
    const controller = await startController("sp-wrong", [], {
      AZURE_CONFIG_FILE: Path.join(home, "sp-wrong.json"),
      AZURE_AUTHORITY_HOST: authorityHost,
      IDENTITY_ENDPOINT: undefined,
      IDENTITY_HEADER: undefined
    })
    try {
      const health = await fetch(`${await healthUrlOf(controller.driver)}/healthz`)
      expect(health.status).toBe(503)
      const body = await health.text()
      expect(body).toContain(
        `[-] arm-token failed: cannot obtain an Azure Resource Manager token (ServicePrincipal) from ${authorityHost}/${SP.tenant}: `
      )
      expect(body).toContain("AADSTS7000215")
      expect(body).not.toContain("not-the-secret")
    } finally {
      expect(await controller.stop()).toBe(0)
    }
  })
})
