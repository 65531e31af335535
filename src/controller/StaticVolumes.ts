import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** What CreateVolume answered for a name, to tell a retry from a conflicting request. */
export interface StaticVolumeRecord {
  readonly volumeId: string
  readonly capacityBytes: bigint
}

/**
 * The static volumes this controller has minted, by CreateVolume name. Memory only: a static
 * volume is nothing in Azure, so after a restart the controller knows none, and a create that
 * conflicts with one made before the restart is answered as a new one (README: static volumes).
 */
export class StaticVolumes extends Context.Service<StaticVolumes, {
  /** Records `record` under `name` unless one is there; answers what is recorded now. */
  readonly remember: (name: string, record: StaticVolumeRecord) => Effect.Effect<StaticVolumeRecord>
  readonly forget: (volumeId: string) => Effect.Effect<void>
}>()("azurelustre/controller/StaticVolumes") {
  static readonly layer = Layer.sync(StaticVolumes, () => {
    const byName = new Map<string, StaticVolumeRecord>()
    return StaticVolumes.of({
      remember: (name, record) =>
        Effect.sync(() => {
          const known = byName.get(name)
          if (known !== undefined) return known
          byName.set(name, record)
          return record
        }),
      forget: (volumeId) =>
        Effect.sync(() => {
          for (const [name, record] of byName) if (record.volumeId === volumeId) byName.delete(name)
        })
    })
  })
}
