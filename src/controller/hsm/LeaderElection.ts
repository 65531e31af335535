import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { Kube, type KubeLease } from "../../../layers/kube/Kube.js"

/** client-go's usual numbers: a lease of 15 s, renewed every 5 s (retry period 2 s is folded in), given up 10 s after the last renewal. */
export const LEASE_DURATION = Duration.seconds(15)
export const RENEW_DEADLINE = Duration.seconds(10)
/** How often a replica tries to take or renew the Lease. */
export const leaseRenewal = Schedule.spaced(Duration.seconds(5))

export interface LeaderElectionOptions {
  readonly namespace: string
  readonly name: string
  /** This replica's name in the Lease (its pod name). */
  readonly identity: string
}

interface Leadership {
  readonly leading: boolean
  /** When this replica last wrote the Lease as its holder. */
  readonly renewedAtMillis: number
}

/**
 * One round of a coordination.k8s.io/v1 Lease election, as client-go's: take the Lease when none
 * exists or its holder let it expire, renew it when held; true when this replica holds it now.
 * A write that loses a race (409) means another replica holds it.
 */
export const tryAcquireOrRenew = Effect.fn("LeaderElection.tryAcquireOrRenew")(function*(options: LeaderElectionOptions) {
  const kube = yield* Kube
  const now = new Date(yield* Clock.currentTimeMillis)
  const seconds = Duration.toSeconds(LEASE_DURATION)
  const current = yield* kube.readLease(options.namespace, options.name)
  if (Option.isNone(current)) {
    const lease: KubeLease = {
      namespace: options.namespace,
      name: options.name,
      holderIdentity: options.identity,
      leaseDurationSeconds: seconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
      resourceVersion: undefined
    }
    return yield* kube.createLease(lease).pipe(
      Effect.as(true),
      Effect.catchIf((error) => error.status === 409, () => Effect.succeed(false))
    )
  }
  const lease = current.value
  const held = lease.holderIdentity === options.identity
  const expiresAt = (lease.renewTime?.getTime() ?? 0) + (lease.leaseDurationSeconds ?? seconds) * 1000
  const vacant = lease.holderIdentity === undefined || lease.holderIdentity === ""
  if (!held && !vacant && expiresAt > now.getTime()) return false
  const next: KubeLease = held
    ? { ...lease, renewTime: now, leaseDurationSeconds: seconds }
    : {
      ...lease,
      holderIdentity: options.identity,
      leaseDurationSeconds: seconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (lease.leaseTransitions ?? 0) + 1
    }
  return yield* kube.replaceLease(next).pipe(
    Effect.as(true),
    Effect.catchIf((error) => error.status === 409, () => Effect.succeed(false))
  )
})

/**
 * Runs the election forever on `leaseRenewal`, keeping `leading` true while this replica holds
 * the Lease. An API server that cannot be reached keeps a leader leading until RENEW_DEADLINE
 * after its last renewal, then it steps down (another replica may take over once the Lease expires).
 */
export const runLeaderElection = (options: LeaderElectionOptions, leading: Ref.Ref<boolean>) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<Leadership>({ leading: false, renewedAtMillis: 0 })
    const round = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const outcome = yield* Effect.result(tryAcquireOrRenew(options))
      const before = yield* Ref.get(state)
      const next: Leadership = outcome._tag === "Success"
        ? { leading: outcome.success, renewedAtMillis: outcome.success ? now : before.renewedAtMillis }
        : { ...before, leading: before.leading && now - before.renewedAtMillis < Duration.toMillis(RENEW_DEADLINE) }
      if (outcome._tag === "Failure") {
        yield* Effect.logWarning("cannot take or renew the HSM loop's Lease").pipe(
          Effect.annotateLogs({ lease: `${options.namespace}/${options.name}`, reason: outcome.failure.message })
        )
      }
      if (next.leading !== before.leading) {
        yield* Effect.logInfo(next.leading ? "leading the HSM loop" : "no longer leading the HSM loop").pipe(
          Effect.annotateLogs({ identity: options.identity })
        )
      }
      yield* Ref.set(state, next)
      yield* Ref.set(leading, next.leading)
    })
    return yield* Effect.repeat(round, leaseRenewal)
  })
