import { BinaryReader } from "@bufbuild/protobuf/wire"
import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import { isUtf8 } from "node:buffer"
import { bounded } from "../domain/BoundedText.js"
import * as Csi from "../gen/csi.js"
import { InvalidArgument } from "./errors.js"
import { firstIllFormedField } from "./illFormedText.js"
import type { Program } from "./unary.js"

// A leading U+FEFF in a protobuf string is text, not a byte-order mark.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })

/**
 * A lone surrogate: what a string field that is not valid UTF-8 decodes to. Valid UTF-8 never
 * decodes to one, so `firstIllFormedField` finds exactly the fields that were invalid, where the
 * default decoder would have replaced the bad bytes with U+FFFD and let the request through.
 */
export const INVALID_UTF8 = "\uD800"

const decodeUtf8MarkingInvalid = (bytes: Uint8Array): string => (isUtf8(bytes) ? utf8.decode(bytes) : INVALID_UTF8)

/** Bytes that are not the method's request message at all. */
export class UndecodableRequest {
  constructor(readonly messageName: string, readonly reason: string) {}
}

interface RequestCodec {
  readonly decode: (input: BinaryReader) => unknown
}

const isRequestCodec = (u: unknown): u is RequestCodec => Predicate.hasProperty(u, "decode") && Predicate.isFunction(u.decode)

const messages: Readonly<Record<string, unknown>> = Csi

/** CSI names every request after its RPC: `/csi.v1.Node/NodePublishVolume` takes a NodePublishVolumeRequest. */
const requestMessageOf = (path: string): { readonly name: string; readonly codec: RequestCodec } => {
  const name = `${path.slice(path.lastIndexOf("/") + 1)}Request`
  const codec = messages[name]
  if (!isRequestCodec(codec)) throw new Error(`src/gen/csi.ts has no message ${name} for ${path}`)
  return { name, codec }
}

/**
 * The service definition with every request decoded strictly: invalid UTF-8 is marked instead of
 * replaced, and bytes that are no message become an UndecodableRequest instead of grpc-js's
 * INTERNAL. `refusingBadRequests` answers both INVALID_ARGUMENT.
 */
export const decodingStrictly = (definition: grpc.ServiceDefinition): grpc.ServiceDefinition =>
  Object.fromEntries(Object.entries(definition).map(([key, method]) => {
    const { codec, name } = requestMessageOf(method.path)
    const requestDeserialize = (bytes: Buffer): unknown =>
      Result.getOrElse(
        Result.try(() => codec.decode(new BinaryReader(bytes, decodeUtf8MarkingInvalid))),
        (error) => new UndecodableRequest(name, error instanceof Error ? error.message : String(error))
      )
    return [key, { ...method, requestDeserialize }]
  }))

/** The program, run only on a request that decoded and whose every string is valid UTF-8. */
export const refusingBadRequests = <Req, Res, R>(program: Program<Req, Res, R>): Program<Req, Res, R> => (request) => {
  if (request instanceof UndecodableRequest) {
    return Effect.fail(new InvalidArgument({
      message: `the request is not a csi.v1.${request.messageName} (${bounded(request.reason)}); ` +
        "send the message protobuf-encoded, as the CSI spec defines it"
    }))
  }
  const field = firstIllFormedField(request)
  return field === undefined
    ? program(request)
    : Effect.fail(new InvalidArgument({ message: `${field} is not valid UTF-8; send the text UTF-8 encoded` }))
}
