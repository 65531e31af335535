import * as grpc from "@grpc/grpc-js"
import { Deferred, Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { controllerPrograms } from "../../src/controller/programs.js"
import { claimSocketPath } from "../../src/csi/socketFile.js"
import { nodePrograms } from "../../src/node/programs.js"
import { ControllerService, NodeService } from "../../src/gen/csi.js"
import { Readiness } from "../../src/health/Readiness.js"
import { ask } from "../support/csiClient.js"
import { startInProcessDriver, tempSocketPath } from "../support/inProcessDriver.js"

const readinessOf = (run: Readiness["Service"]["report"]) => Layer.succeed(Readiness, Readiness.of({ report: run }))
const ready = Readiness.layerFromChecks([])

let cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
})
const start = async (readiness: Layer.Layer<Readiness>, socketPath?: string) => {
  const driver = await startInProcessDriver({ readiness, ...(socketPath !== undefined && { socketPath }) })
  cleanups.push(driver.stop)
  return driver
}

describe("the CSI server", () => {
  it("interrupts the program when the caller's deadline passes, running its finalizers", async () => {
    const finalized = Deferred.makeUnsafe<void>()
    const slow = readinessOf(
      Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(finalized, undefined)))
    )
    const { client, logs } = await start(slow)

    const answer = await ask(client.identity, client.identity.probe, {}, { deadlineMs: 200 })

    expect(answer).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED })
    await Effect.runPromise(Deferred.await(finalized).pipe(Effect.timeout("2 seconds")))
    await expect.poll(() => logs.find((line) => line.includes('"method":"Probe"') && line.includes('"code"'))).toContain(
      '"code":"DEADLINE_EXCEEDED"'
    )
  })

  it("answers a defect INTERNAL, logs its cause, and keeps serving", async () => {
    let calls = 0
    const flaky = readinessOf(Effect.suspend(() => {
      calls++
      return calls === 1 ? Effect.die(new Error("kaboom in the readiness check")) : Readiness.fromChecks([]).report
    }))
    const { client, logs } = await start(flaky)

    const first = await ask(client.identity, client.identity.probe, {})
    expect(first).toMatchObject({ ok: false, code: grpc.status.INTERNAL })
    expect(first.ok ? "" : first.details).not.toContain("kaboom")
    const errorLine = logs.find((line) => line.includes('"level":"error"'))
    expect(errorLine).toContain("kaboom in the readiness check")
    const correlationId = (JSON.parse(errorLine ?? "{}") as { correlationId?: string }).correlationId
    expect(first.ok ? "" : first.details).toContain(correlationId)

    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
  })

  it("answers UNIMPLEMENTED for every Controller and Node RPC not built yet, naming it", async () => {
    const { socketPath } = await start(ready)
    const raw = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure())
    cleanups.push(() => raw.close())
    const built = new Set([...Object.keys(controllerPrograms), ...Object.keys(nodePrograms)])
    const methods = [...Object.entries(ControllerService), ...Object.entries(NodeService)]
      .filter(([key]) => !built.has(key))
      .map(([, method]) => method)
    expect(methods.map((m) => m.path.split("/").pop())).toContain("CreateSnapshot")
    for (const method of methods) {
      const name = method.path.split("/").pop()
      const answer = await new Promise<grpc.ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(method.path, () => Buffer.alloc(0), (b: Buffer) => b, {}, (error) => resolve(error)))
      expect(answer?.code, name).toBe(grpc.status.UNIMPLEMENTED)
      expect(answer?.details).toBe(`${name} is not implemented by this driver`)
    }
  })

  it("uses the caller's x-correlation-id in its log line", async () => {
    const { client, logs } = await start(ready)
    const metadata = new grpc.Metadata()
    metadata.set("x-correlation-id", "req-42")
    await ask(client.identity, client.identity.getPluginInfo, {}, { metadata })
    expect(logs.some((line) => line.includes('"method":"GetPluginInfo"') && line.includes('"correlationId":"req-42"'))).toBe(true)
  })

  it("drains a call in flight on shutdown, then removes the socket", async () => {
    const started = Deferred.makeUnsafe<void>()
    const slowButFinite = readinessOf(
      Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.sleep("300 millis")),
        Effect.andThen(Readiness.fromChecks([]).report)
      )
    )
    const driver = await startInProcessDriver({ readiness: slowButFinite })
    const inFlight = ask(driver.client.identity, driver.client.identity.probe, {})
    await Effect.runPromise(Deferred.await(started))

    await driver.stop()

    expect(await inFlight).toEqual({ ok: true, value: { ready: true } })
    expect(Fs.existsSync(driver.socketPath)).toBe(false)
  })
})

describe("claiming the socket path", () => {
  it("replaces a stale socket left by a driver that died", async () => {
    const socketPath = tempSocketPath()
    const listener = Net.createServer()
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve))
    // Closing a listener unlinks its socket; a crash does not. Keep the file: copy-free stale socket.
    const stale = socketPath + ".stale"
    Fs.linkSync(socketPath, stale)
    await new Promise<void>((resolve) => listener.close(() => resolve()))
    Fs.renameSync(stale, socketPath)
    expect(Fs.lstatSync(socketPath).isSocket()).toBe(true)

    const { client } = await start(ready, socketPath)
    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
  })

  it("refuses a socket another driver is serving on, and leaves it alone", async () => {
    const first = await start(ready)
    const exit = await Effect.runPromiseExit(claimSocketPath(first.socketPath))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("another process is already serving on")
    expect(await ask(first.client.identity, first.client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
  })

  it("refuses to replace a file that is not a socket", async () => {
    const socketPath = tempSocketPath()
    Fs.writeFileSync(socketPath, "precious data")
    const exit = await Effect.runPromiseExit(claimSocketPath(socketPath))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("is not a socket")
    expect(Fs.readFileSync(socketPath, "utf8")).toBe("precious data")
  })

  it("creates the socket's directory when it is missing", async () => {
    const socketPath = Path.join(Path.dirname(tempSocketPath()), "plugins", "azurelustre", "csi.sock")
    const { client } = await start(ready, socketPath)
    expect(await ask(client.identity, client.identity.probe, {})).toEqual({ ok: true, value: { ready: true } })
  })
})
