import * as grpc from "@grpc/grpc-js"
import { ControllerClient, IdentityClient, NodeClient } from "../../src/gen/csi.js"

export type Answer<Res> =
  | { readonly ok: true; readonly value: Res }
  | { readonly ok: false; readonly code: grpc.status; readonly details: string }

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void
) => grpc.ClientUnaryCall

/** A real CSI client over the unix socket: the generated grpc-js clients for all three services. */
export const csiClient = (socketPath: string) => {
  const address = `unix://${socketPath}`
  const credentials = grpc.credentials.createInsecure()
  const clients = {
    identity: new IdentityClient(address, credentials),
    controller: new ControllerClient(address, credentials),
    node: new NodeClient(address, credentials)
  }
  return {
    ...clients,
    close: () => Object.values(clients).forEach((client) => client.close())
  }
}

/** Calls one unary method and settles with its answer, whether OK or a gRPC status. */
export const ask = <Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { readonly deadlineMs?: number; readonly metadata?: grpc.Metadata } = {}
): Promise<Answer<Res>> =>
  new Promise((resolve) => {
    const callOptions: Partial<grpc.CallOptions> = options.deadlineMs === undefined
      ? {}
      : { deadline: Date.now() + options.deadlineMs }
    method.call(client, request, options.metadata ?? new grpc.Metadata(), callOptions, (error, response) =>
      resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, value: response }))
  })
