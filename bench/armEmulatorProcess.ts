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
import type * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ArmEmulator } from "../layers/azure/ArmEmulator.js"
import { startManagedIdentityEndpoint } from "./managedIdentityEndpoint.js"

const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}

const IDENTITY_HEADER = "bench-identity-header"

const main = Effect.gen(function*() {
  const creationSeconds = Number(argument("--cluster-creation") ?? "20")
  const dir = argument("--dir") ?? mkdtempSync(join(tmpdir(), "csi-bench-arm-"))
  const emulator = yield* ArmEmulator.start({ creationDuration: Duration.seconds(creationSeconds) })
  const certificatePath = join(dir, "arm-emulator.pem")
  writeFileSync(certificatePath, emulator.certificatePem)
  const identity = yield* Effect.acquireRelease(
    Effect.promise(() => startManagedIdentityEndpoint(IDENTITY_HEADER)),
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
