import type { KubePersistentVolumeClaim } from "../../../layers/kube/Kube.js"
import { hasOpenRequest, hsmAnnotations } from "./HsmAnnotations.js"

/** The annotations only users write: an import or archive request, and their cancels. */
const REQUEST_KEYS = [hsmAnnotations.import, hsmAnnotations.importCancel, hsmAnnotations.archive, hsmAnnotations.archiveCancel]

const requestsOf = (claim: KubePersistentVolumeClaim): string =>
  REQUEST_KEYS.map((key) => claim.annotations[key] ?? "").join("\n")

const NO_REQUESTS = REQUEST_KEYS.map(() => "").join("\n")

/**
 * Whether `claim`, as a watch of PVCs sends it, is a user's edit of HSM requests the HSM loop
 * should act on before its next resync: its requests differ from the last ones seen and one is
 * open. The loop's own writes (the states) change no request, so they wake nothing; nor does a
 * watch resumed from the start, which sends every PVC again. `seen` holds the requests of each
 * PVC that has any, by `<namespace>/<name>`.
 */
export const isRequestEdit = (seen: Map<string, string>, claim: KubePersistentVolumeClaim): boolean => {
  const key = `${claim.namespace}/${claim.name}`
  const requests = requestsOf(claim)
  if (requests === NO_REQUESTS) {
    seen.delete(key)
    return false
  }
  if (seen.get(key) === requests) return false
  seen.set(key, requests)
  return hasOpenRequest(claim.annotations)
}
