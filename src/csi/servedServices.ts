import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { implement, type Programs } from "./implement.js"
import { decodingStrictly } from "./strictRequests.js"
import { makeUnary } from "./unary.js"

/** A CSI service ready for grpc-js: its definition and handlers running its programs. */
export interface ServedService {
  readonly definition: grpc.ServiceDefinition
  readonly implementation: grpc.UntypedServiceImplementation
}

export const serve = <D extends grpc.ServiceDefinition, R>(definition: D, programs: Programs<D, R>) => {
  const strictDefinition = decodingStrictly(definition)
  return Effect.map(Effect.context<R>(), (services): ServedService => ({
    definition: strictDefinition,
    implementation: implement(definition, makeUnary(services), programs)
  }))
}
