import { Effect, Exit, Layer, Ref, Scope } from "effect"
import * as Net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { HealthServer } from "../../src/health/HealthServer.js"
import { NotReady, Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver } from "../support/inProcessDriver.js"
import { sampleSum } from "../support/prometheus.js"

let stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops) await stop()
  stops = []
})

/** A driver whose one readiness check fails with `reason` while the Ref holds one. */
const start = async () => {
  const failing = Ref.makeUnsafe<string | undefined>(undefined)
  const driver = await startInProcessDriver({
    healthServer: true,
    readiness: Readiness.layerFromChecks([
      { name: "always", run: Effect.void },
      {
        name: "switchable",
        run: Effect.flatMap(Ref.get(failing), (reason) => reason === undefined ? Effect.void : Effect.fail(new NotReady({ reason })))
      }
    ])
  })
  stops.push(driver.stop)
  return { ...driver, fail: (reason: string | undefined) => Effect.runSync(Ref.set(failing, reason)) }
}

const get = async (url: string, init: RequestInit = {}) => {
  const response = await fetch(url, init)
  return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
}

describe("the health server", () => {
  it("answers /healthz ok while every check passes, 503 naming the failing check and its reason otherwise", async () => {
    const driver = await start()
    expect(await get(`${driver.healthUrl}/healthz`)).toMatchObject({ status: 200, body: "ok\n" })

    driver.fail("no NID: LNet is not configured")
    const failing = await get(`${driver.healthUrl}/healthz`)
    expect(failing.status).toBe(503)
    expect(failing.body).toBe("[-] switchable failed: no NID: LNet is not configured\n\nnot ready\n")

    const probe = await ask(driver.client.identity, driver.client.identity.probe, {})
    expect(probe.ok && probe.value.ready).toBe(false)
    const metrics = (await get(`${driver.healthUrl}/metrics`)).body
    expect(sampleSum(metrics, "azurelustre_csi_readiness_check", { check: "switchable" })).toBe(0)
    expect(sampleSum(metrics, "azurelustre_csi_readiness_check", { check: "always" })).toBe(1)
    expect(sampleSum(metrics, "azurelustre_csi_ready")).toBe(0)

    driver.fail(undefined)
    expect((await get(`${driver.healthUrl}/healthz`)).status).toBe(200)
    expect(sampleSum((await get(`${driver.healthUrl}/metrics`)).body, "azurelustre_csi_ready")).toBe(1)
  })

  it("lists every check with ?verbose", async () => {
    const driver = await start()
    driver.fail("interface eth1 is down")
    const verbose = await get(`${driver.healthUrl}/healthz?verbose`)
    expect(verbose.status).toBe(503)
    expect(verbose.body).toBe("[+] always ok\n[-] switchable failed: interface eth1 is down\n\nnot ready\n")
  })

  it("answers /livez 200 while the process serves, ready or not", async () => {
    const driver = await start()
    driver.fail("lnet modules missing")
    expect(await get(`${driver.healthUrl}/livez`)).toMatchObject({ status: 200, body: "ok\n" })
  })

  it("serves Prometheus text on /metrics", async () => {
    const driver = await start()
    const metrics = await get(`${driver.healthUrl}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.type).toBe("text/plain; version=0.0.4; charset=utf-8")
  })

  it("refuses other methods and paths", async () => {
    const driver = await start()
    expect((await get(`${driver.healthUrl}/healthz`, { method: "POST" })).status).toBe(405)
    expect((await get(`${driver.healthUrl}/debug`)).status).toBe(404)
    const head = await get(`${driver.healthUrl}/healthz`, { method: "HEAD" })
    expect(head).toMatchObject({ status: 200, body: "" })
  })

  it("answers 500 when a check has a bug, and keeps serving", async () => {
    const driver = await startInProcessDriver({
      healthServer: true,
      readiness: Readiness.layerFromChecks([{ name: "buggy", run: Effect.die(new Error("boom")) }])
    })
    stops.push(driver.stop)
    expect(await get(`${driver.healthUrl}/healthz`)).toMatchObject({ status: 500, body: "internal error: see the driver's log\n" })
    expect((await get(`${driver.healthUrl}/livez`)).status).toBe(200)
  })

  it("fails to start on a port in use, naming the port and the flag", async () => {
    const taken = Net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = (taken.address() as Net.AddressInfo).port
    try {
      const scope = Effect.runSync(Scope.make())
      const exit = await Effect.runPromiseExit(
        Layer.buildWithScope(
          HealthServer.layer({ host: "127.0.0.1", port }).pipe(Layer.provide(Readiness.layerFromChecks([]))),
          scope
        )
      )
      await Effect.runPromise(Scope.close(scope, Exit.void))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(
        `cannot serve /healthz and /metrics on 127.0.0.1:${port}: the port is in use; choose another with --health-port`
      )
    } finally {
      taken.close()
    }
  })
})
