import * as grpc from "@grpc/grpc-js"
import { afterAll, beforeAll } from "vitest"
import { Readiness } from "../../src/health/Readiness.js"
import type { Answer } from "./csiClient.js"
import { startInProcessDriver } from "./inProcessDriver.js"

/** A client that sends request bytes as they are: invalid UTF-8, oversized fields, no message at all. */
export const rawClient = (socketPath: string) => new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure())

/** Calls a CSI method (`/csi.v1.Node/NodePublishVolume`) with `bytes` as the request; the answer's value is the response bytes. */
export const askRaw = (client: grpc.Client, path: string, bytes: Uint8Array): Promise<Answer<Buffer>> =>
  new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes, (error, value) =>
      resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, value: value ?? Buffer.alloc(0) }))
  })

/**
 * An in-process driver (fakes, no readiness checks) and a raw client to it, for one test file:
 * started before its tests, stopped after them. Read `driver` and `client` inside the tests.
 */
export const rawDriverForFile = () => {
  const state = {} as { driver: Awaited<ReturnType<typeof startInProcessDriver>>; client: grpc.Client }
  beforeAll(async () => {
    state.driver = await startInProcessDriver({ readiness: Readiness.layerFromChecks([]) })
    state.client = rawClient(state.driver.socketPath)
  })
  afterAll(async () => {
    state.client.close()
    await state.driver.stop()
  })
  return state
}
