import { Effect, Exit, Scope } from "effect"
import { afterAll, afterEach, beforeAll } from "vitest"
import { AmlfsApiLive } from "../../layers/azure/AmlfsApiLive.js"
import { ArmEmulator, type ArmEmulatorOptions } from "../../layers/azure/ArmEmulator.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { Readiness } from "../../src/health/Readiness.js"
import { countArmRequest } from "../../src/observability/metrics.js"
import { startInProcessDriver, testControllerConfig } from "./inProcessDriver.js"

type InProcessDriver = Awaited<ReturnType<typeof startInProcessDriver>>

export interface ArmEmulatorForTests {
  /** The emulator, once beforeAll has started it. */
  readonly emulator: ArmEmulator
  /**
   * The controller in this process, its ARM the real @azure/arm-storagecache client (AmlfsApiLive)
   * over HTTPS to the emulator. It is stopped after the test, unless the test stopped it already.
   */
  readonly startController: (options?: { readonly healthServer?: boolean }) => Promise<InProcessDriver>
}

/**
 * For the tests of a file (or of the describe block it is called in): an ARM emulator for the test
 * controller's subscription, started before them and closed after them. After each test the
 * controllers it started are stopped and the emulator's faults reset.
 */
export const armEmulatorForTests = (options: Omit<ArmEmulatorOptions, "subscriptionId">): ArmEmulatorForTests => {
  const scope = Effect.runSync(Scope.make())
  let started: ArmEmulator | undefined
  let running: Array<() => Promise<void>> = []

  beforeAll(async () => {
    started = await Effect.runPromise(
      ArmEmulator.start({
        subscriptionId: testControllerConfig.subscriptionId,
        operationRetryAfterSeconds: 1,
        ...options
      }).pipe(Scope.provide(scope))
    )
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  afterEach(async () => {
    const stops = running
    running = []
    for (const stop of stops) await stop()
    if (started !== undefined) await Effect.runPromise(started.faults.reset)
  })

  const emulator = (): ArmEmulator => {
    if (started === undefined) throw new Error("the ARM emulator is started in beforeAll: use it in a test")
    return started
  }

  return {
    get emulator() {
      return emulator()
    },
    startController: async (driverOptions = {}) => {
      const armEmulator = emulator()
      const driver = await startInProcessDriver({
        readiness: Readiness.layerFromChecks([]),
        mode: "controller",
        armLayer: AmlfsApiLive.layer({
          subscriptionId: testControllerConfig.subscriptionId,
          credential: staticCredential("test"),
          endpoint: armEmulator.url,
          trustedCertificatePem: armEmulator.certificatePem,
          onRequest: countArmRequest
        }),
        ...driverOptions
      })
      const stop = async () => {
        running = running.filter((pending) => pending !== stop)
        await driver.stop()
      }
      running.push(stop)
      return { ...driver, stop }
    }
  }
}
