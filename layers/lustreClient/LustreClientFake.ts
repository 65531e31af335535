import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { commandText } from "./hostCommands.js"
import { LustreClient, LustreClientFailed } from "./LustreClient.js"
import { freshNode, type ModelHost, modelLustreClient, modelRunner } from "./modelHost.js"

/** A command the test makes fail once: the next one whose text starts with `command`. */
export interface ScriptedFailure {
  readonly command: string
  readonly output: string
}

/**
 * A deterministic LustreClient for tests: a modelled node (modelHost.ts; `freshNode()` unless
 * given) that apt, dpkg, modprobe, lustre_rmmod and lnetctl change as they would. `calls` lists
 * every host command run, as the live layer runs it (hostCommands.ts), in order; file reads are
 * not commands. `failures` makes the next command starting with a text fail with that output
 * (each taken once); `stuck` makes commands starting with a text never answer until interrupted.
 * All are Refs the test may change mid-test.
 */
export class LustreClientFake extends Context.Service<LustreClientFake, {
  readonly node: Ref.Ref<ModelHost>
  readonly calls: Ref.Ref<ReadonlyArray<string>>
  readonly failures: Ref.Ref<ReadonlyArray<ScriptedFailure>>
  readonly stuck: Ref.Ref<ReadonlySet<string>>
}>()("azurelustre/lustreClient/LustreClientFake") {
  static readonly layer = (node: ModelHost = freshNode()): Layer.Layer<LustreClient | LustreClientFake> =>
    Layer.effect(
      LustreClient,
      Effect.gen(function*() {
        const fake = yield* LustreClientFake
        const before = (argv: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            const text = commandText(argv)
            yield* Ref.update(fake.calls, (calls) => [...calls, text])
            if ([...(yield* Ref.get(fake.stuck))].some((prefix) => text.startsWith(prefix))) return yield* Effect.never
            const scripted = yield* Ref.modify(fake.failures, (queued) => {
              const at = queued.findIndex((failure) => text.startsWith(failure.command))
              return at < 0 ? [undefined, queued] : [queued[at], [...queued.slice(0, at), ...queued.slice(at + 1)]]
            })
            if (scripted !== undefined) {
              return yield* new LustreClientFailed({
                operation: text,
                message: `${text}: exit status 100: ${scripted.output.trim().split("\n").at(-1) ?? ""}`,
                output: scripted.output,
                notInstalled: false
              })
            }
          })
        return modelLustreClient(fake.node, modelRunner(fake.node, before))
      })
    ).pipe(Layer.provideMerge(Layer.effect(
      LustreClientFake,
      Effect.gen(function*() {
        return LustreClientFake.of({
          node: yield* Ref.make(node),
          calls: yield* Ref.make<ReadonlyArray<string>>([]),
          failures: yield* Ref.make<ReadonlyArray<ScriptedFailure>>([]),
          stuck: yield* Ref.make<ReadonlySet<string>>(new Set())
        })
      })
    )))
}
