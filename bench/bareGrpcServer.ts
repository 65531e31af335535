/**
 * The transport's floor: a grpc-js server with the driver's own generated codecs, answering
 * Identity and Node calls with constants on a unix socket (argv[2]). The footprint benchmark runs
 * it next to the node plugin, so that what the driver adds per call can be told from what grpc-js
 * and protobuf decoding cost on Node.
 */
import * as grpc from "@grpc/grpc-js"
import { IdentityService, NodeService, NodeServiceCapability_RPC_Type } from "../src/gen/csi.js"

const socketPath = process.argv[2]
if (socketPath === undefined) throw new Error("usage: bareGrpcServer.js <socket path>")

type Handler = (call: unknown, callback: (error: null, response: unknown) => void) => void
const answer = (response: unknown): Handler => (_call, callback) => callback(null, response)
const unimplemented: Handler = (_call, callback) =>
  (callback as unknown as (error: grpc.ServiceError) => void)(
    Object.assign(new Error("unimplemented"), { code: grpc.status.UNIMPLEMENTED, details: "", metadata: new grpc.Metadata() })
  )

const handlersOf = (service: Record<string, unknown>, answers: Record<string, Handler>) =>
  Object.fromEntries(Object.keys(service).map((method) => [method, answers[method] ?? unimplemented]))

const server = new grpc.Server()
server.addService(IdentityService as unknown as grpc.ServiceDefinition, handlersOf(IdentityService, {
  probe: answer({ ready: true }),
  getPluginInfo: answer({ name: "azurelustre.csi.azure.com", vendorVersion: "bare", manifest: {} }),
  getPluginCapabilities: answer({ capabilities: [] })
}) as grpc.UntypedServiceImplementation)
server.addService(NodeService as unknown as grpc.ServiceDefinition, handlersOf(NodeService, {
  nodeGetCapabilities: answer({
    capabilities: [
      { rpc: { type: NodeServiceCapability_RPC_Type.GET_VOLUME_STATS } },
      { rpc: { type: NodeServiceCapability_RPC_Type.SINGLE_NODE_MULTI_WRITER } }
    ]
  }),
  nodeGetInfo: answer({ nodeId: "bench", maxVolumesPerNode: 0n, accessibleTopology: undefined })
}) as grpc.UntypedServiceImplementation)
server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) throw error
})
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)))
