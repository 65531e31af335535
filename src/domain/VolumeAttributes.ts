import * as Result from "effect/Result"
import { quote } from "./BoundedText.js"
import { compatibilityParameterNames, dynamicProvisioningParameterNames } from "./DynamicVolumeParameters.js"
import { KUBERNETES_KEY_PREFIX } from "./KubernetesKeys.js"
import { hsmHydrationAliases, isHsmHydrationAlias } from "./MountOptions.js"
import { staticParameterNames } from "./StaticVolumeParameters.js"

/** What the csi-provisioner adds to every volume context it hands on. */
const PROVISIONER_IDENTITY_KEY = "storage.kubernetes.io/csiProvisionerIdentity"

/**
 * The keys a volume context (a PV's volumeAttributes) may hold: the static parameters (with the
 * HSM hydration settings), the StorageClass parameters (the Go driver copies them all into the
 * PVs it creates), and what Kubernetes and its sidecars add.
 */
const knownKeys: ReadonlySet<string> = new Set([
  ...staticParameterNames,
  ...dynamicProvisioningParameterNames,
  ...compatibilityParameterNames,
  PROVISIONER_IDENTITY_KEY
])

const isKnown = (key: string) => knownKeys.has(key) || key.startsWith(KUBERNETES_KEY_PREFIX)

/** Levenshtein distance, giving up past `limit`: enough to catch a typo like "sub-dri". */
const distance = (a: string, b: string, limit: number): number => {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] ?? limit + 1
}

const suggestionFor = (key: string): string => {
  if (isHsmHydrationAlias(key)) {
    return ` (a mount option: put it in the PV's mountOptions, or set "hsm-hydrate": "${hsmHydrationAliases[key]}")`
  }
  const close = [...knownKeys].find((known) => distance(key, known, 2) <= 2)
  return close === undefined ? "" : ` (did you mean ${quote(close)}?)`
}

/**
 * Refuses a volume context with a key this driver does not know: a misspelled `sub-dir` would
 * otherwise be ignored and the pod handed the whole filesystem. The failure names each unknown
 * key, a likely intended one, and the keys there are.
 */
export const checkVolumeAttributeKeys = (context: Readonly<Record<string, string>>): Result.Result<void, string> => {
  const unknown = Object.keys(context).filter((key) => !isKnown(key)).sort()
  if (unknown.length === 0) return Result.void
  return Result.fail(
    `volume_context (the PV's volumeAttributes) has unknown key(s) ${unknown.map((key) => `${quote(key)}${suggestionFor(key)}`).join(", ")}; ` +
      `the keys are ${staticParameterNames.join(", ")}, the StorageClass parameters of dynamic provisioning and ` +
      `${KUBERNETES_KEY_PREFIX}* from Kubernetes: fix the PV's spec.csi.volumeAttributes`
  )
}
