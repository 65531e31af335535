import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { ArmError } from "../../../layers/azure/AmlfsApi.js"

/**
 * A failed ARM request is tried again while the failure may heal (throttling, server errors, no
 * answer): after 1, 2, 4, 8 and 16 s (jittered), or after ARM's Retry-After when it asks for longer.
 */
export const armRetry = Schedule.exponential("1 second").pipe(
  Schedule.jittered,
  Schedule.setInputType<ArmError>(),
  Schedule.while(({ input }) => input.retryable),
  Schedule.modifyDelay(({ duration, input }) =>
    Effect.succeed(
      input.retryAfterMillis === undefined ? duration : Duration.max(duration, Duration.millis(input.retryAfterMillis))
    )
  ),
  Schedule.upTo({ times: 5 })
)

/** How the controller reads a cluster (or an expansion job) while ARM changes it. */
export interface PollingPlan {
  /** When the operation started (ARM's createdAt, or when the driver started it). */
  readonly startedAt: number
  /** No reads until this long after the start: AMLFS creation takes 10 to 20 minutes. */
  readonly quietPeriod: Duration.Duration
  /** Then one read every interval: completion is seen within it. */
  readonly interval: Duration.Duration
  /**
   * When set, the reads after the quiet period start this soon and double up to `interval`
   * (1, 2, 4, 8, 10, 10 ... s): an operation that ARM ends in a second is seen in a second or two,
   * at the cost of a few reads more for a long one.
   */
  readonly firstRead?: Duration.Duration | undefined
}

/**
 * The reads of a cluster in transition: none during the quiet period, then one per interval
 * (ramping up from `firstRead` when the plan has one). With a 7.5-minute quiet period and 10 s
 * reads, creations of 10 to 20 minutes (AMLFS's range) cost 1.8 to 3.9 reads a minute, and
 * completion is seen within 10 s.
 */
export const armPolling = (plan: PollingPlan) => {
  const pace: Schedule.Schedule<unknown> = plan.firstRead === undefined
    ? Schedule.spaced(plan.interval)
    : Schedule.exponential(plan.firstRead).pipe(
      Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, plan.interval)))
    )
  return pace.pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        Duration.max(duration, Duration.millis(plan.startedAt + Duration.toMillis(plan.quietPeriod) - now))
      )
    )
  )
}
