import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { Unimplemented } from "./errors.js"
import { refusingBadRequests } from "./strictRequests.js"
import type { Program, UnaryAdapter } from "./unary.js"

interface UnaryMethodDefinition {
  readonly path: string
  readonly requestDeserialize: (value: Buffer) => unknown
}

export type RequestOf<M> = M extends { readonly requestDeserialize: (value: Buffer) => infer Req } ? Req : never
export type ResponseOf<M> = M extends { readonly responseSerialize: (value: infer Res) => Buffer } ? Res : never

/** The programs a driver has built for one CSI service, keyed like the generated definition. */
export type Programs<D, R> = { readonly [K in keyof D]?: Program<RequestOf<D[K]>, ResponseOf<D[K]>, R> }

const notImplemented = (method: string): Program<unknown, never, never> => () =>
  Effect.fail(new Unimplemented({ message: `${method} is not implemented by this driver` }))

/**
 * grpc-js handlers for every method of `definition`; methods without a program answer
 * UNIMPLEMENTED. A request that did not decode, or has text that is not UTF-8, reaches no program.
 */
export const implement = <D extends Record<string, UnaryMethodDefinition>, R>(
  definition: D,
  unary: UnaryAdapter<R>,
  programs: Programs<D, R>
): grpc.UntypedServiceImplementation => {
  // Keyed by the definition, so each program meets the codec of its own method.
  const built = programs as Partial<Record<string, Program<unknown, unknown, R>>>
  const handlers: grpc.UntypedServiceImplementation = {}
  for (const [key, method] of Object.entries(definition)) {
    const name = method.path.slice(method.path.lastIndexOf("/") + 1)
    handlers[key] = unary(name, refusingBadRequests(built[key] ?? notImplemented(name)))
  }
  return handlers
}
