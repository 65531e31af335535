import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Semaphore from "effect/Semaphore"
import { AmlfsApi, type AmlfsSku } from "../../../layers/azure/AmlfsApi.js"
import type { CsiError } from "../../csi/errors.js"
import { armCall } from "./armFailure.js"

const KEEP_FOR = Duration.minutes(10)

/** The AMLFS SKUs of a location, read from ARM at most once every ten minutes. */
export class SkuCatalog extends Context.Service<SkuCatalog, {
  readonly skusIn: (location: string) => Effect.Effect<ReadonlyArray<AmlfsSku>, CsiError>
}>()("azurelustre/controller/SkuCatalog") {
  static readonly layer = Layer.effect(
    SkuCatalog,
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const cache = new Map<string, { readonly skus: ReadonlyArray<AmlfsSku>; readonly readAt: number }>()
      // One read at a time: a burst of CreateVolume calls after a start shares one list.
      const reading = Semaphore.makeUnsafe(1)
      const cached = (key: string) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const entry = cache.get(key)
          return entry !== undefined && now - entry.readAt < Duration.toMillis(KEEP_FOR) ? entry.skus : undefined
        })
      return SkuCatalog.of({
        skusIn: (location) =>
          Effect.gen(function*() {
            const key = location.toLowerCase()
            const known = yield* cached(key)
            if (known !== undefined) return known
            return yield* reading.withPermit(Effect.gen(function*() {
              const readMeanwhile = yield* cached(key)
              if (readMeanwhile !== undefined) return readMeanwhile
              const skus = yield* armCall(api.listSkus(location), `listing the AMLFS SKUs of ${location}`)
              cache.set(key, { skus, readAt: yield* Clock.currentTimeMillis })
              return skus
            }))
          })
      })
    })
  )
}
