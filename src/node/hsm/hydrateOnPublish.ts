import * as Effect from "effect/Effect"
import type { MountEntry } from "../../../layers/lustre/LustreShell.js"
import { Unavailable } from "../../csi/errors.js"
import { bounded } from "../../domain/BoundedText.js"
import type { HydrationPlan } from "../../domain/HsmHydration.js"
import type { PublishedVolume } from "../publishedVolume.js"
import { eventSubjectOf } from "./HydrationEvents.js"
import { hydrationKeyOf, Hydrations } from "./Hydrations.js"

/**
 * After the volume is bound at the target (`published`: its mount, read under the publish's
 * lock), and holding no lock: starts (or joins) its hydration. `before-start` answers only once
 * every released file under the plan's paths is back; a kubelet deadline cuts the wait, not the
 * restores, and the retried publish joins them.
 */
export const hydrateOnPublish = Effect.fnUntraced(function*(
  volumeId: string,
  volume: PublishedVolume,
  plan: HydrationPlan,
  published: MountEntry,
  volumeContext: Readonly<Record<string, string>>
) {
  if (plan.mode === "off") return
  const hydrations = yield* Hydrations
  const key = hydrationKeyOf(published)
  yield* hydrations.start({
    key,
    volumeId,
    filesystem: volume.filesystem,
    subDirComponents: volume.subDirComponents,
    plan,
    subject: eventSubjectOf(volumeContext)
  })
  if (plan.mode === "background") return
  yield* hydrations.awaitDone(key).pipe(
    Effect.mapError((failed) =>
      new Unavailable({
        message: `volume ${bounded(volumeId)} is mounted but its hydration before start failed: ${failed.message}; ` +
          "kubelet retries the mount, and the restores go on from where they stopped"
      })
    )
  )
})
