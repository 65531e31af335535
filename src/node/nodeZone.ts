import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { KubeError } from "../../layers/kube/Kube.js"
import { KubeNode } from "../../layers/kube/KubeNode.js"

/** The well-known label the cloud provider sets to the node's availability zone. */
export const ZONE_LABEL = "topology.kubernetes.io/zone"

/**
 * Reading the node's labels again: 0.5 s, 1 s, 2 s, 4 s, 8 s (at most 5 retries, about 15 s in
 * all), and only while the failure may heal (no answer, throttling, a server error); a refusal
 * such as 403 or 404 is reported at once.
 */
export const nodeLabelRetry = Schedule.exponential("500 millis").pipe(
  Schedule.upTo({ times: 5 }),
  Schedule.setInputType<KubeError>(),
  Schedule.while(({ input }) => input.retryable)
)

/**
 * The zone this node reports as its accessible topology. A zone given by flag wins; otherwise
 * the node's `topology.kubernetes.io/zone` label. A node whose labels cannot be read still
 * serves mounts: it logs why and reports no zone.
 */
export const resolveNodeZone = Effect.fnUntraced(function*(flagZone: string | undefined, nodeName: string) {
  if (flagZone !== undefined && flagZone !== "") return flagZone
  const kube = yield* KubeNode
  return yield* kube.readNodeLabels(nodeName).pipe(
    Effect.retry(nodeLabelRetry),
    Effect.map((labels): string | undefined => {
      const zone = labels[ZONE_LABEL]
      return zone === undefined || zone === "" ? undefined : zone
    }),
    Effect.catch((failed) =>
      Effect.logWarning("cannot read the node's zone label; reporting no zone").pipe(
        Effect.annotateLogs({ nodeName, label: ZONE_LABEL, status: failed.status, reason: failed.message }),
        Effect.as(undefined)
      )
    )
  )
})
