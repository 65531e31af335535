import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type LustreClient, LustreClientFailed } from "../../../layers/lustreClient/LustreClient.js"
import type { NodeSetupSettings } from "./NodeSetupSettings.js"

/** What every step of the setup works with. */
export interface SetupContext {
  readonly client: LustreClient["Service"]
  readonly settings: NodeSetupSettings
  /** Says what the setup is doing now: the readiness reason, and a log line. */
  readonly progress: (step: string) => Effect.Effect<void>
}

const format = (duration: Duration.Duration) => Duration.format(duration)

/**
 * One bounded host operation: cut after `timeout` (the live layer kills its command), failing as
 * the operation would have, with the bound in its message.
 */
export const bounded = <A>(operation: string, timeout: Duration.Duration, effect: Effect.Effect<A, LustreClientFailed>) =>
  effect.pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new LustreClientFailed({
            operation,
            message: `${operation} did not finish within ${format(timeout)}`,
            output: "",
            notInstalled: false,
            cutAtBound: true
          })
        )
    })
  )

/** A step the readiness reason names while it runs, then its bounded operation. */
export const step = <A>(
  context: SetupContext,
  says: string,
  operation: string,
  timeout: Duration.Duration,
  effect: Effect.Effect<A, LustreClientFailed>
) => Effect.andThen(context.progress(says), bounded(operation, timeout, effect))
