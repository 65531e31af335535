import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { NodeSetupFailed } from "./NodeSetupFailed.js"

/** How many times apt-get install is tried in one round (the Go driver's `tries=3`). */
export const INSTALL_TRIES = 3

/**
 * Between tries of `apt-get install`: `base`, then twice it (the Go driver's 15 s and 30 s), only
 * after a failure another try may mend (`retryable`: the repository or the dpkg lock, or an old
 * client removed in between), so three tries at most.
 */
export const lustreClientInstallRetry = (base: Duration.Input = "15 seconds") =>
  Schedule.exponential(base).pipe(
    Schedule.upTo({ times: INSTALL_TRIES - 1 }),
    Schedule.setInputType<{ readonly retryable: boolean }>(),
    Schedule.while(({ input }) => input.retryable)
  )

/**
 * Between rounds of the whole setup after one failed: 1 minute, doubling to at most `cap`, for
 * ever, unless the failure is permanent (the node's release or architecture): a repository that
 * comes back, a client published for a new kernel, or Lustre unmounted, and the node gets ready
 * without a restart; never a tight loop.
 */
export const nodeSetupRoundRetry = (first: Duration.Input = "1 minute", cap: Duration.Input = "30 minutes") =>
  Schedule.exponential(first).pipe(
    Schedule.setInputType<NodeSetupFailed>(),
    Schedule.while(({ input }) => !input.permanent),
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.fromInputUnsafe(cap))))
  )
