import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ChildProcessSpawner } from "effect/process"
import { makeRunCommand } from "../lustre/command.js"
import { LnetProbe, MgsUnreachable } from "./LnetProbe.js"

const layer = Layer.effect(
  LnetProbe,
  Effect.gen(function*() {
    const run = makeRunCommand(yield* ChildProcessSpawner.ChildProcessSpawner)
    const pingMgs = Effect.fn("LnetProbe.pingMgs")(function*(mgsAddress: string) {
      yield* run("lctl", ["ping", `${mgsAddress}@tcp`]).pipe(
        Effect.mapError((failed) => new MgsUnreachable({ mgsAddress, message: failed.message }))
      )
    })
    return LnetProbe.of({ pingMgs })
  })
)

/** LNet as lctl(8) sees it on a real node. */
export const LnetProbeLive = {
  /** Needs a ChildProcessSpawner. */
  layer,
  /** With Node's ChildProcessSpawner. */
  layerNode: layer.pipe(Layer.provide(NodeServices.layer))
} as const
