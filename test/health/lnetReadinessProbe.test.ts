import { Context, Effect, Exit, Layer, Ref, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { LnetProbe } from "../../layers/lnet/LnetProbe.js"
import { healthyLnetNode, LnetProbeFake } from "../../layers/lnet/LnetProbeFake.js"
import { lnetReadinessChecks } from "../../src/health/lnetReadinessChecks.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})

/**
 * A node plugin over real gRPC whose readiness is the LNet checks on a fake probe the test
 * scripts; nothing is cached, so each Probe sees the node as it is now.
 */
const start = async () => {
  const scope = Effect.runSync(Scope.make())
  const probeContext = await Effect.runPromise(Layer.buildWithScope(LnetProbeFake.layer(), scope))
  const readiness = Layer.effect(
    Readiness,
    Effect.gen(function*() {
      return Readiness.fromChecks([yield* lnetReadinessChecks(yield* LnetProbe, { cacheFor: 0 })])
    })
  ).pipe(Layer.provide(Layer.succeedContext(probeContext)))
  const driver = await startInProcessDriver({ readiness, mode: "node", healthServer: true })
  stops.push(async () => {
    await driver.stop()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
  const fake = Context.get(probeContext, LnetProbeFake)
  const script = (effect: Effect.Effect<void>) => Effect.runPromise(effect)
  const probe = async () => {
    const answer = await ask(driver.client.identity, driver.client.identity.probe, {})
    if (!answer.ok) throw new Error(`Probe failed: ${answer.details}`)
    return answer.value.ready
  }
  const healthz = async () => {
    const response = await fetch(`${driver.healthUrl}/healthz?verbose`)
    return { status: response.status, body: await response.text() }
  }
  return { ...driver, fake, script, probe, healthz }
}

const healthy = (fake: LnetProbeFake["Service"]) =>
  Effect.all([
    Ref.set(fake.modules, healthyLnetNode.modules),
    Ref.set(fake.nis, healthyLnetNode.nis),
    Ref.set(fake.unreachableNids, new Set<string>()),
    Ref.set(fake.interfaces, healthyLnetNode.interfaces)
  ]).pipe(Effect.asVoid)

describe("the node plugin's readiness follows LNet (CSI Probe over gRPC, /healthz over HTTP)", () => {
  it("is ready, then not ready for each LNet fault with the reason logged and shown, then ready again", async () => {
    const node = await start()
    expect(await node.probe()).toBe(true)
    expect(await node.healthz()).toEqual({
      status: 200,
      body: "[+] lnet-modules ok\n[+] lnet-nid ok\n[+] lnet-self-ping ok\n[+] lnet-interface ok\n\nok\n"
    })

    const faults: ReadonlyArray<{
      readonly fault: string
      readonly script: Effect.Effect<void>
      readonly failing: ReadonlyArray<string>
      readonly reason: string
    }> = [
      {
        fault: "modules missing",
        script: Ref.set(node.fake.modules, new Set<string>()),
        failing: ["lnet-modules", "lnet-nid", "lnet-self-ping", "lnet-interface"],
        reason: "kernel modules lnet and lustre are not loaded: the Lustre client is not installed on this node"
      },
      {
        fault: "no NID",
        script: Ref.set(node.fake.nis, [{ nid: "0@lo", status: "up", interfaces: [] }]),
        failing: ["lnet-nid", "lnet-self-ping", "lnet-interface"],
        reason: "LNet has no NID besides 0@lo"
      },
      {
        fault: "ping failing",
        script: Ref.set(node.fake.unreachableNids, new Set(["10.0.0.5@tcp"])),
        failing: ["lnet-self-ping"],
        reason: "LNet cannot reach its own NID 10.0.0.5@tcp: failed to ping 10.0.0.5@tcp: Input/output error"
      },
      {
        fault: "interface down",
        script: Ref.set(node.fake.interfaces, new Map([["eth0", { operstate: "down", administrativelyUp: true }]])),
        failing: ["lnet-interface"],
        reason: "network interface eth0 of NID 10.0.0.5@tcp is not up (operstate down)"
      }
    ]
    for (const { fault, script, failing, reason } of faults) {
      await node.script(script)
      expect(await node.probe(), fault).toBe(false)
      expect(node.logs.some((line) => line.includes("not ready") && line.includes(reason)), fault).toBe(true)
      const { status, body } = await node.healthz()
      expect(status, fault).toBe(503)
      expect(body.split("\n").filter((line) => line.startsWith("[-] ")).map((line) => line.split(" ")[1]), fault).toEqual(failing)
      expect(body, fault).toContain(reason)

      await node.script(healthy(node.fake))
      expect(await node.probe(), `${fault}, then healed`).toBe(true)
      expect((await node.healthz()).status, `${fault}, then healed`).toBe(200)
    }
  })

  it("says that the self-ping and interface checks could not run when there is no NID", async () => {
    const node = await start()
    await node.script(Ref.set(node.fake.nis, []))
    const { body } = await node.healthz()
    expect(body).toContain("[-] lnet-self-ping failed: not checked: LNet has no NID to ping (see lnet-nid)\n")
    expect(body).toContain("[-] lnet-interface failed: not checked: LNet has no NID whose interface to look at (see lnet-nid)\n")
  })
})
