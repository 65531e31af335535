import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DriverConfig, servesController, servesNode } from "../config/DriverConfig.js"
import { type ControllerServices, controllerPrograms } from "../controller/programs.js"
import { ControllerService, IdentityService, NodeService } from "../gen/csi.js"
import type { Readiness } from "../health/Readiness.js"
import { identityPrograms } from "../identity/programs.js"
import { type NodeServices, nodePrograms } from "../node/programs.js"
import { implement } from "./implement.js"
import { claimSocketPath, removeSocketFile, SocketUnavailable } from "./socketFile.js"
import { makeUnary } from "./unary.js"

/** Every service the CSI programs may use. */
export type CsiServices = DriverConfig | Readiness | ControllerServices | NodeServices

const bind = (server: grpc.Server, socketPath: string) =>
  Effect.callback<void, SocketUnavailable>((resume) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) =>
      resume(
        error
          ? Effect.fail(new SocketUnavailable({ message: `cannot listen on ${socketPath}: ${error.message}` }))
          : Effect.void
      ))
  })

/** Stop taking calls, let the ones in flight finish (up to the drain timeout), then cancel the rest. */
const drain = (server: grpc.Server, socketPath: string, config: DriverConfig["Service"]) =>
  Effect.logInfo("draining in-flight CSI calls").pipe(
    Effect.andThen(Effect.callback<void>((resume) => server.tryShutdown(() => resume(Effect.void)))),
    Effect.timeoutOrElse({
      duration: config.drainTimeout,
      orElse: () =>
        Effect.logWarning("in-flight CSI calls outlived the drain timeout; cancelling them").pipe(
          Effect.andThen(Effect.sync(() => server.forceShutdown()))
        )
    }),
    Effect.andThen(removeSocketFile(socketPath)),
    Effect.andThen(Effect.logInfo("CSI server stopped"))
  )

/**
 * The CSI gRPC server on a unix socket: Identity always, Controller and Node as the mode says.
 * Closing the layer (SIGTERM, SIGINT) drains in-flight calls and removes the socket.
 */
export const CsiServerLive = (socketPath: string) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const config = yield* DriverConfig
    const unary = makeUnary(yield* Effect.context<CsiServices>())
    const server = new grpc.Server()
    server.addService(IdentityService, implement(IdentityService, unary, identityPrograms))
    if (servesController(config.mode)) {
      server.addService(ControllerService, implement(ControllerService, unary, controllerPrograms))
    }
    if (servesNode(config.mode)) server.addService(NodeService, implement(NodeService, unary, nodePrograms))

    yield* claimSocketPath(socketPath)
    yield* Effect.acquireRelease(bind(server, socketPath), () => drain(server, socketPath, config))
    yield* Effect.logInfo("serving CSI").pipe(
      Effect.annotateLogs({
        endpoint: `unix://${socketPath}`,
        driverName: config.driverName,
        version: config.vendorVersion,
        mode: config.mode
      })
    )
  }))
