import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export class MgsUnreachable extends Schema.TaggedError<MgsUnreachable>()("MgsUnreachable", {
  mgsAddress: Schema.String,
  message: Schema.String
}) {}

/** What the node can tell about LNet, the network Lustre speaks. */
export class LnetProbe extends Context.Service<LnetProbe, {
  /** `lctl ping <mgs>@tcp`: the MGS answers over LNet. Callers bound it with a timeout. */
  readonly pingMgs: (mgsAddress: string) => Effect.Effect<void, MgsUnreachable>
}>()("azurelustre/lnet/LnetProbe") {}
