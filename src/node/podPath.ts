import * as Effect from "effect/Effect"
import { InvalidArgument } from "../csi/errors.js"
import { invalidArgumentUnless, requireField } from "../csi/requireValid.js"
import { bounded } from "../domain/BoundedText.js"
import { canonicalAbsolutePath, componentsBelow } from "../domain/NodePath.js"
import { NodeConfig } from "./NodeConfig.js"

export interface PodPath {
  /** Canonical: as the kernel's mount table spells it. */
  readonly path: string
  /** Its components below kubelet's pods directory. */
  readonly components: ReadonlyArray<string>
  /** The path cut for messages and logs (a path may be 4 KiB long). */
  readonly shown: string
  /**
   * The pod's folder (the first component below the pods directory): the lock of every publish
   * and unpublish there, so two targets that could nest are never worked on at once.
   */
  readonly podFolder: string
}

/**
 * A target_path or volume_path: required, canonical (`//`, `/./` and a trailing `/` normalised,
 * `..` refused) and below kubelet's pods directory, the only place a CO publishes volumes.
 */
export const requirePodPath = Effect.fnUntraced(function*(field: string, value: string) {
  const path = yield* invalidArgumentUnless(canonicalAbsolutePath(field, yield* requireField(value, field)))
  const { podsDir } = yield* NodeConfig
  const components = componentsBelow(podsDir, path)
  if (components === undefined) {
    return yield* new InvalidArgument({
      message: `${field} ${bounded(path)} is not below kubelet's pods directory ${podsDir}; this node plugin publishes only ` +
        "into pods (if kubelet runs with another --root-dir, start the plugin with the same --kubelet-dir)"
    })
  }
  return { path, components, shown: bounded(path), podFolder: `${podsDir}/${components[0]}` } satisfies PodPath
})
