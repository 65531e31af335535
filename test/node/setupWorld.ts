import { Effect, Layer, Ref } from "effect"
import { LustreClientFake } from "../../layers/lustreClient/LustreClientFake.js"
import { freshNode, type ModelHost } from "../../layers/lustreClient/modelHost.js"
import { isPackageManagerCommand } from "../../layers/lustreClient/hostCommands.js"
import { NodeSetup } from "../../src/node/setup/NodeSetup.js"
import { type NodeSetupEvent, NodeSetupEvents } from "../../src/node/setup/NodeSetupEvents.js"
import { defaultNodeSetupSettings, type NodeSetupSettings } from "../../src/node/setup/NodeSetupSettings.js"

/** The package-manager commands among the fake's calls. */
export const packageManagerCalls = (calls: ReadonlyArray<string>) => calls.filter((call) => isPackageManagerCommand(call.split(" ")))

/**
 * A node plugin's setup on a modelled node: the NodeSetup service over LustreClientFake, its
 * Events recorded. The setup starts when the layer is built, in the test's scope.
 */
export const setupWorld = (node: ModelHost = freshNode(), settings: Partial<NodeSetupSettings> = {}) => {
  const events = Ref.makeUnsafe<ReadonlyArray<NodeSetupEvent>>([])
  const fake = LustreClientFake.layer(node)
  const layer = NodeSetup.layer({ ...defaultNodeSetupSettings, ...settings }).pipe(
    Layer.provideMerge(Layer.merge(fake, NodeSetupEvents.layerRecording(events)))
  )
  return { events, layer }
}

export const fakeCalls = Effect.gen(function*() {
  return yield* Ref.get((yield* LustreClientFake).calls)
})
export const fakeNode = Effect.gen(function*() {
  return yield* Ref.get((yield* LustreClientFake).node)
})
