import * as grpc from "@grpc/grpc-js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DriverConfig } from "../config/DriverConfig.js"
import type { ServedService } from "./servedServices.js"
import { claimSocketPath, removeSocketFile, SocketUnavailable } from "./socketFile.js"
import { ServerShutdown, type ServerShutdownState } from "./unary.js"

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
const drain = (
  server: grpc.Server,
  socketPath: string,
  config: DriverConfig["Service"],
  shutdown: ServerShutdownState
) =>
  Effect.logInfo("draining in-flight CSI calls").pipe(
    Effect.andThen(Effect.callback<void>((resume) => server.tryShutdown(() => resume(Effect.void)))),
    Effect.timeoutOrElse({
      duration: config.drainTimeout,
      orElse: () =>
        Effect.logWarning("in-flight CSI calls outlived the drain timeout; cancelling them").pipe(
          Effect.andThen(Effect.sync(() => {
            shutdown.cutReason = `cut by the driver's shutdown: the call was still running when its ${
              Duration.format(config.drainTimeout)
            } drain timeout ended; the CO retries it`
            server.forceShutdown()
          }))
        )
    }),
    Effect.andThen(removeSocketFile(socketPath)),
    Effect.andThen(Effect.logInfo("CSI server stopped"))
  )

/**
 * The CSI gRPC server on a unix socket, serving what the mode builds (Identity always). Closing
 * the layer (SIGTERM, SIGINT) drains in-flight calls and removes the socket.
 */
export const CsiServerLive = <R>(socketPath: string, services: Effect.Effect<ReadonlyArray<ServedService>, never, R>) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const config = yield* DriverConfig
    // Channelz stays on, though nothing reads it and its bookkeeping is ~3.5 % of what a call
    // allocates: grpc-js's forceShutdown cancels only the sessions channelz tracks (1.14), and the
    // drain's cut relies on it.
    const server = new grpc.Server()
    const shutdown: ServerShutdownState = { cutReason: undefined }
    for (const service of yield* Effect.provideService(services, ServerShutdown, shutdown)) {
      server.addService(service.definition, service.implementation)
    }

    yield* claimSocketPath(socketPath)
    yield* Effect.acquireRelease(bind(server, socketPath), () => drain(server, socketPath, config, shutdown))
    yield* Effect.logInfo("serving CSI").pipe(
      Effect.annotateLogs({
        endpoint: `unix://${socketPath}`,
        driverName: config.driverName,
        version: config.vendorVersion,
        mode: config.mode
      })
    )
  }))
