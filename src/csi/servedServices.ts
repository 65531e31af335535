import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import type { DriverConfig } from "../config/DriverConfig.js"
import { type ControllerServices, controllerPrograms } from "../controller/programs.js"
import { ControllerService, IdentityService, NodeService } from "../gen/csi.js"
import type { Readiness } from "../health/Readiness.js"
import { identityPrograms } from "../identity/programs.js"
import { type NodeServices, nodePrograms } from "../node/programs.js"
import { implement, type Programs } from "./implement.js"
import { decodingStrictly } from "./strictRequests.js"
import { makeUnary } from "./unary.js"

/** A CSI service ready for grpc-js: its definition and handlers running its programs. */
export interface ServedService {
  readonly definition: grpc.ServiceDefinition
  readonly implementation: grpc.UntypedServiceImplementation
}

const serve = <D extends grpc.ServiceDefinition, R>(definition: D, programs: Programs<D, R>) => {
  const strictDefinition = decodingStrictly(definition)
  return Effect.map(Effect.context<R>(), (services): ServedService => ({
    definition: strictDefinition,
    implementation: implement(definition, makeUnary(services), programs)
  }))
}

export const identityService = serve<typeof IdentityService, DriverConfig | Readiness>(IdentityService, identityPrograms)
export const controllerService = serve<typeof ControllerService, ControllerServices>(ControllerService, controllerPrograms)
export const nodeService = serve<typeof NodeService, NodeServices>(NodeService, nodePrograms)
