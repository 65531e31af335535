import * as grpc from "@grpc/grpc-js"
import {
  IdentityClient,
  NodeClient,
  type NodePublishVolumeRequest,
  type NodeUnpublishVolumeRequest
} from "../src/gen/csi.js"
import { type DriverProcess, sleep } from "./driverProcess.js"

const DEADLINE_MS = 10_000

export const connect = (socketPath: string): IdentityClient =>
  new IdentityClient(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
    // A fresh subchannel per client: a retry must not wait out a shared channel's reconnect backoff.
    "grpc.use_local_subchannel_pool": 1
  })

/** A Node service client; one channel (one HTTP/2 connection) for all its calls, as kubelet has. */
export const connectNode = (socketPath: string): NodeClient =>
  new NodeClient(`unix://${socketPath}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 })

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void

const unary = <Res>(invoke: (metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: Callback<Res>) => void) =>
  new Promise<Res>((resolve, reject) =>
    invoke(new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (error, response) =>
      error ? reject(error) : resolve(response))
  )

export const probe = (client: IdentityClient) => unary((m, o, cb) => client.probe({}, m, o, cb))
export const getPluginInfo = (client: IdentityClient) => unary((m, o, cb) => client.getPluginInfo({}, m, o, cb))
export const getPluginCapabilities = (client: IdentityClient) =>
  unary((m, o, cb) => client.getPluginCapabilities({}, m, o, cb))

export const nodePublishVolume = (client: NodeClient, request: NodePublishVolumeRequest) =>
  unary((m, o, cb) => client.nodePublishVolume(request, m, o, cb))
export const nodeUnpublishVolume = (client: NodeClient, request: NodeUnpublishVolumeRequest) =>
  unary((m, o, cb) => client.nodeUnpublishVolume(request, m, o, cb))

/**
 * Milliseconds from the driver's spawn to its first Probe answered OK. Each attempt uses a new
 * client; a refused or missing socket is retried after 2 ms.
 */
export const millisToFirstProbe = async (driver: DriverProcess, giveUpAfterMs = 15_000): Promise<number> => {
  for (;;) {
    const client = connect(driver.socketPath)
    try {
      await probe(client)
      return performance.now() - driver.spawnedAt
    } catch (error) {
      if (performance.now() - driver.spawnedAt > giveUpAfterMs) {
        throw new Error(`the driver did not answer Probe within ${giveUpAfterMs} ms (${String(error)}); it wrote:\n${driver.recentOutput()}`)
      }
    } finally {
      client.close()
    }
    await sleep(2)
  }
}

/** Makes `total` calls, keeping `inFlight` of them outstanding at once; `callNumber` picks the call. */
export const callConcurrently = async (
  total: number,
  inFlight: number,
  callNumber: (n: number) => Promise<unknown>
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < total) await callNumber(next++)
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
}
