import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import { ControllerService, IdentityService, NodeService } from "../../src/gen/csi.js"
import { between, mostly } from "./choices.js"
import { type Corruption, corrupt, corruption } from "./corruptBytes.js"
import * as Requests from "./csiRequestArbitraries.js"
import type { FuzzWorld } from "./fuzzWorld.js"

interface UnaryMethod<Req> {
  readonly path: string
  readonly requestSerialize: (value: Req) => Buffer
}

/** One RPC the fuzz calls: its requests, and how many of them reach the server corrupted. */
interface FuzzRpc<Req> {
  readonly name: string
  readonly service: "Node" | "Identity" | "Controller"
  readonly method: UnaryMethod<Req>
  readonly request: Arbitrary.Arbitrary<Req>
  readonly corruptedPercent: number
}

/** One call: the request as generated, and the bytes sent (corrupted, when `corruption` says so). */
export interface FuzzCase {
  readonly rpc: string
  readonly service: FuzzRpc<unknown>["service"]
  /** Its place among the RPC's cases: with the seed, it names the case. */
  readonly index: number
  readonly path: string
  readonly request: unknown
  readonly corruption: Corruption | undefined
  readonly bytes: Uint8Array
  /** Where it goes in the run: the cases of all RPCs are interleaved by this. */
  readonly order: number
}

/** An RPC as the run sees it: its name, its service, and its cases for a count and a seed. */
export interface FuzzedRpc {
  readonly name: string
  readonly service: FuzzRpc<unknown>["service"]
  readonly cases: (count: number, seed: string) => Effect.Effect<ReadonlyArray<FuzzCase>, Arbitrary.SampleError>
}

const rpc = <Req>(spec: FuzzRpc<Req>): FuzzedRpc => ({
  name: spec.name,
  service: spec.service,
  cases: (count, seed) => casesOf(spec, count, seed)
})

export const fuzzRpcs = (world: FuzzWorld) => [
  rpc({ name: "NodePublishVolume", service: "Node", method: NodeService.nodePublishVolume, request: Requests.nodePublishVolumeRequest(world), corruptedPercent: 5 }),
  rpc({ name: "NodeUnpublishVolume", service: "Node", method: NodeService.nodeUnpublishVolume, request: Requests.nodeUnpublishVolumeRequest(world), corruptedPercent: 5 }),
  rpc({ name: "NodeGetVolumeStats", service: "Node", method: NodeService.nodeGetVolumeStats, request: Requests.nodeGetVolumeStatsRequest(world), corruptedPercent: 5 }),
  rpc({ name: "NodeGetInfo", service: "Node", method: NodeService.nodeGetInfo, request: Requests.emptyRequest, corruptedPercent: 50 }),
  rpc({ name: "NodeGetCapabilities", service: "Node", method: NodeService.nodeGetCapabilities, request: Requests.emptyRequest, corruptedPercent: 50 }),
  rpc({ name: "GetPluginInfo", service: "Identity", method: IdentityService.getPluginInfo, request: Requests.emptyRequest, corruptedPercent: 50 }),
  rpc({ name: "GetPluginCapabilities", service: "Identity", method: IdentityService.getPluginCapabilities, request: Requests.emptyRequest, corruptedPercent: 50 }),
  rpc({ name: "Probe", service: "Identity", method: IdentityService.probe, request: Requests.emptyRequest, corruptedPercent: 50 }),
  rpc({ name: "CreateVolume", service: "Controller", method: ControllerService.createVolume, request: Requests.createVolumeRequest, corruptedPercent: 10 }),
  rpc({ name: "DeleteVolume", service: "Controller", method: ControllerService.deleteVolume, request: Requests.deleteVolumeRequest, corruptedPercent: 10 }),
  rpc({
    name: "ValidateVolumeCapabilities", service: "Controller", method: ControllerService.validateVolumeCapabilities,
    request: Requests.validateVolumeCapabilitiesRequest, corruptedPercent: 10
  }),
  rpc({ name: "ControllerGetCapabilities", service: "Controller", method: ControllerService.controllerGetCapabilities, request: Requests.emptyRequest, corruptedPercent: 50 }),
  rpc({
    name: "ControllerExpandVolume", service: "Controller", method: ControllerService.controllerExpandVolume,
    request: Requests.controllerExpandVolumeRequest, corruptedPercent: 10
  })
] satisfies ReadonlyArray<FuzzedRpc>

/** `count` cases of `spec`, the same ones for the same seed. */
const casesOf = <Req>(spec: FuzzRpc<Req>, count: number, seed: string): Effect.Effect<ReadonlyArray<FuzzCase>, Arbitrary.SampleError> =>
  Arbitrary.sampleEffect(
    Arbitrary.all([spec.request, mostly<Corruption | undefined>(100 - spec.corruptedPercent, Arbitrary.Constant(undefined), corruption), between(0, 2 ** 31 - 1)]),
    { count, seed: `${seed}/${spec.name}` }
  ).pipe(
    Effect.map((samples) =>
      samples.map(([request, corruptedBy, order], index): FuzzCase => {
        const bytes = spec.method.requestSerialize(request)
        return {
          rpc: spec.name,
          service: spec.service,
          index,
          path: spec.method.path,
          request,
          corruption: corruptedBy,
          bytes: corruptedBy === undefined ? bytes : corrupt(bytes, corruptedBy),
          order
        }
      })
    )
  )

/** A case as a reader (and a replaying test) needs it: long strings cut, bytes in hex when they were corrupted. */
export const describeCase = (fuzzCase: FuzzCase): string =>
  JSON.stringify({
    rpc: fuzzCase.rpc,
    case: fuzzCase.index,
    request: fuzzCase.request,
    ...(fuzzCase.corruption === undefined ? {} : { corruption: fuzzCase.corruption, bytes: Buffer.from(fuzzCase.bytes).toString("hex") })
  }, (_key, value: unknown) =>
    typeof value === "bigint"
      ? `${value}n`
      : typeof value === "string" && value.length > 300
      ? `${value.slice(0, 80)}...(${value.length} characters)`
      : value)
