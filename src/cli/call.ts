import * as grpc from "@grpc/grpc-js"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Net from "node:net"
import * as csi from "../gen/csi.js"
import { type CallOptions, UsageError } from "./options.js"
import { decodeStrictly } from "./requestJson.js"

/** The call was sent and failed, or could not be sent: the message is what to print (exit code 1). */
export class CallFailed extends Schema.TaggedError<CallFailed>()("CallFailed", { message: Schema.String }) {}

interface JsonCodec {
  readonly fromJSON: (json: unknown) => unknown
  readonly toJSON: (message: never) => unknown
  readonly encode: (message: never) => { finish(): Uint8Array }
  readonly decode: (bytes: Uint8Array) => unknown
}

const isJsonCodec = (u: unknown): u is JsonCodec =>
  Predicate.hasProperty(u, "fromJSON") && Predicate.hasProperty(u, "toJSON") &&
  Predicate.hasProperty(u, "encode") && Predicate.hasProperty(u, "decode")

const services = [csi.IdentityService, csi.ControllerService, csi.NodeService]
const generated: Record<string, unknown> = csi

/** The gRPC path and the request/response codecs of a CSI method, by its name (e.g. `NodePublishVolume`). */
const methodNamed = (name: string) => {
  const path = services.flatMap((service) => Object.values(service).map((m) => m.path)).find((p) => p.endsWith(`/${name}`))
  const request = generated[`${name}Request`]
  const response = generated[`${name}Response`]
  return path !== undefined && isJsonCodec(request) && isJsonCodec(response) ? { path, request, response } : undefined
}

const knownMethods = () =>
  services.flatMap((service) => Object.values(service).map((m) => m.path.slice(m.path.lastIndexOf("/") + 1))).join(", ")

/** Why nothing answers on the socket, if nothing does: no file there, or a file nobody listens on. */
const nobodyListening = (socketPath: string): Effect.Effect<string | undefined> =>
  Effect.callback<string | undefined>((resume) => {
    const probe = Net.connect({ path: socketPath })
    probe.once("connect", () => {
      probe.destroy()
      resume(Effect.succeed(undefined))
    })
    probe.once("error", (error: NodeJS.ErrnoException) =>
      resume(Effect.succeed(
        error.code === "ENOENT" || error.code === "ECONNREFUSED" || error.code === "ENOTSOCK" ? error.code : undefined
      )))
    return Effect.sync(() => probe.destroy())
  })

/** Sends one CSI call over the socket and prints the answer as JSON (int64 fields as strings). */
export const call = (options: CallOptions) =>
  Effect.gen(function*() {
    const method = methodNamed(options.method)
    if (method === undefined) {
      return yield* new UsageError({ message: `unknown CSI method ${options.method}; the methods are ${knownMethods()}` })
    }
    const json = yield* Effect.try({
      try: () => JSON.parse(options.requestJson) as unknown,
      catch: (error) => new UsageError({ message: `the request is not JSON: ${error instanceof Error ? error.message : String(error)}` })
    })
    const decoded = decodeStrictly(method.request, `${options.method}Request`, json)
    if (Result.isFailure(decoded)) return yield* new UsageError({ message: decoded.failure })
    const why = yield* nobodyListening(options.socketPath)
    if (why !== undefined) {
      return yield* new CallFailed({
        message: `no driver is listening on unix://${options.socketPath} (${why}), is \`npm start\` running? ` +
          "(or name the driver's socket with --endpoint)"
      })
    }
    const client = new grpc.Client(`unix://${options.socketPath}`, grpc.credentials.createInsecure())
    const response = yield* Effect.callback<unknown, CallFailed>((resume) => {
      client.makeUnaryRequest(
        method.path,
        (message: never) => Buffer.from(method.request.encode(message).finish()),
        (bytes: Buffer) => method.response.decode(bytes),
        decoded.success as never,
        new grpc.Metadata(),
        { deadline: Date.now() + options.timeoutSeconds * 1000 },
        (error, value) =>
          resume(
            error
              ? Effect.fail(new CallFailed({ message: `${grpc.status[error.code]}: ${error.details}` }))
              : Effect.succeed(value)
          )
      )
    }).pipe(Effect.ensuring(Effect.sync(() => client.close())))
    yield* Console.log(JSON.stringify(method.response.toJSON(response as never), null, 2))
  })
