/**
 * Bench only: the ARM emulator (layers/azure/ArmEmulator.ts) in a process of its own, its
 * blob-integration jobs acting on files through the HSM simulation's model (HsmModel), as `sim`'s
 * emulator does: a blob container is `<state-dir>/blob/<account>/<container>/`, a cluster's
 * filesystem `<state-dir>/filesystems/<its MGS address>/lustrefs/` (HsmPaths). An import makes
 * released stubs of the container's blobs there; an archive copies new and changed files back.
 *
 *   node dist/bench/armEmulatorHsmProcess.js --state-dir <folder> --dir <folder>
 *     [--cluster-creation <s>] [--import <s>] [--archive <s>]
 *
 * `--import` and `--archive` are how long a job runs at least (the model's work may take longer).
 * Besides the emulator it serves a managed identity token endpoint (bench/managedIdentityEndpoint.ts).
 * When ready it prints one JSON line on stdout, as bench/armEmulatorProcess.ts does (EmulatorInfo
 * in bench/controllerProcess.ts). It runs until SIGTERM or SIGINT.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { writeFileSync } from "node:fs"
import type * as Net from "node:net"
import { join } from "node:path"
import { ArmEmulator } from "../layers/azure/ArmEmulator.js"
import { HsmModel } from "../layers/hsm/simulation/HsmModel.js"
import { hsmPaths } from "../layers/hsm/simulation/HsmPaths.js"
import { SimulationFaults } from "../layers/simulation/SimulationFaults.js"
import { startManagedIdentityEndpoint } from "./managedIdentityEndpoint.js"

const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}

const required = (name: string): string => {
  const value = argument(name)
  if (value === undefined) throw new Error(`armEmulatorHsmProcess: ${name} <folder> is required`)
  return value
}

const seconds = (name: string, fallback: number): Duration.Duration => Duration.seconds(Number(argument(name) ?? fallback))

const IDENTITY_HEADER = "bench-identity-header"

const stateDir = required("--state-dir")
const dir = required("--dir")

const main = Effect.gen(function*() {
  const model = yield* HsmModel
  const emulator = yield* ArmEmulator.start({
    creationDuration: seconds("--cluster-creation", 6),
    importDuration: seconds("--import", 10),
    archiveDuration: seconds("--archive", 10),
    hsm: model
  })
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

// The model restores nothing here (no node plugin reads the files): its restore delay is unused.
const modelLayer = HsmModel.layer(stateDir, { restoreDelay: 0 }).pipe(
  Layer.provide(SimulationFaults.layer(hsmPaths(stateDir).faults))
)

Effect.runPromise(Effect.scoped(main).pipe(Effect.provide(modelLayer))).catch((error: unknown) => {
  process.stderr.write(`armEmulatorHsmProcess: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
