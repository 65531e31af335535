/**
 * Bench only: the ARM emulator (layers/azure/ArmEmulator.ts) in a process of its own, so that a
 * controller can be killed and restarted while Azure's state (the clusters and their running
 * creations) lives on, as it does in Azure.
 *
 *   node dist/bench/armEmulatorProcess.js [--cluster-creation <seconds>] [--dir <folder>]
 *
 * Besides the emulator it serves, on plain HTTP on loopback, a managed identity token endpoint in
 * the App Service shape (`GET <endpoint>?resource=...&api-version=2019-08-01` with header
 * `X-IDENTITY-HEADER`): `serve` has no static credential, and of the identities it can use only a
 * managed identity can be pointed at a local endpoint (IDENTITY_ENDPOINT and IDENTITY_HEADER, read by
 * @azure/identity's ManagedIdentityCredential). The emulator accepts any bearer token.
 *
 * When ready it prints one JSON line on stdout:
 *   {"url": "https://127.0.0.1:PORT", "certificatePath": "<dir>/arm-emulator.pem",
 *    "identityEndpoint": "http://127.0.0.1:PORT2/msi/token", "identityHeader": "..."}
 * It runs until SIGTERM or SIGINT.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ArmEmulator } from "../layers/azure/ArmEmulator.js"

const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}

const IDENTITY_HEADER = "bench-identity-header"

/** An App Service style managed identity endpoint that hands out a fixed token. */
const startIdentityEndpoint = (): Promise<Http.Server> =>
  new Promise((resolve, reject) => {
    const server = Http.createServer((request, response) => {
      if (request.headers["x-identity-header"] !== IDENTITY_HEADER) {
        response.writeHead(400, { "content-type": "application/json" })
        response.end(JSON.stringify({ error: "invalid_request", error_description: "X-IDENTITY-HEADER missing" }))
        return
      }
      const resource = new URL(request.url ?? "/", "http://localhost").searchParams.get("resource") ?? ""
      const expiresOn = Math.floor(Date.now() / 1000) + 3600
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({
        access_token: "bench-token",
        expires_on: String(expiresOn),
        expires_in: 3600,
        resource,
        token_type: "Bearer",
        client_id: "00000000-0000-0000-0000-0000000000b1"
      }))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

const main = Effect.gen(function*() {
  const creationSeconds = Number(argument("--cluster-creation") ?? "20")
  const dir = argument("--dir") ?? mkdtempSync(join(tmpdir(), "csi-bench-arm-"))
  const emulator = yield* ArmEmulator.start({ creationDuration: Duration.seconds(creationSeconds) })
  const certificatePath = join(dir, "arm-emulator.pem")
  writeFileSync(certificatePath, emulator.certificatePem)
  const identity = yield* Effect.acquireRelease(
    Effect.promise(startIdentityEndpoint),
    (server) => Effect.sync(() => server.close())
  )
  const identityPort = (identity.address() as Net.AddressInfo).port
  process.stdout.write(JSON.stringify({
    url: emulator.url,
    subscriptionId: emulator.subscriptionId,
    certificatePath,
    identityEndpoint: `http://127.0.0.1:${identityPort}/msi/token`,
    identityHeader: IDENTITY_HEADER
  }) + "\n")
  yield* Effect.callback<void>((resume) => {
    const stop = () => resume(Effect.void)
    process.once("SIGTERM", stop)
    process.once("SIGINT", stop)
  })
})

Effect.runPromise(Effect.scoped(main)).catch((error: unknown) => {
  process.stderr.write(`armEmulatorProcess: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
