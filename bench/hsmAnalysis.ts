/**
 * bench/hsm.ts's reading of the two request logs: the ARM emulator's (`/emulator/counters`) and
 * the bench's Kubernetes API server's. Pure functions of the logs and the times the benchmark
 * noted.
 */
import type { KubeRequestKind, KubeRequestRecord } from "./kubeApiServer.js"

export interface ArmRequest {
  readonly method: string
  readonly path: string
  readonly statusCode: number
  readonly at: number
}

/** The path without its query, lower case (ARM's paths are case-insensitive). */
const plainPath = (path: string) => path.replace(/\?.*$/, "").toLowerCase()

/** Whether the request is about this cluster (its resource or anything below it). */
export const isAboutCluster = (request: ArmRequest, cluster: string): boolean => {
  const path = plainPath(request.path)
  const at = path.indexOf(`/amlfilesystems/${cluster.toLowerCase()}`)
  if (at < 0) return false
  const next = path[at + `/amlfilesystems/${cluster}`.length]
  return next === undefined || next === "/"
}

/** `GET amlFilesystem`, `GET importJobs (list)`, `PUT importJobs/{job}`, `POST archive`, ...: what a request did, without names. */
export const armKindOf = (request: ArmRequest): string => {
  const path = plainPath(request.path)
  const below = /\/amlfilesystems\/[^/]+(\/.*)?$/.exec(path)
  if (below === null) {
    const general = path
      .replace(/^\/subscriptions\/[^/]+/, "")
      .replace(/\/resourcegroups\/[^/]+/, "/resourceGroups/{rg}")
      .replace(/\/storageaccounts\/[^/]+/, "/storageAccounts/{account}")
      .replace(/\/containers\/[^/]+/, "/containers/{container}")
      .replace(/\/ascoperations\/[^/]+/, "/ascOperations/{id}")
    return `${request.method} ${general}`
  }
  const rest = below[1] ?? ""
  if (rest === "") return `${request.method} amlFilesystem`
  const [, kind, job] = rest.split("/")
  const named = kind === "importjobs" ? "importJobs" : kind === "autoexportjobs" ? "autoExportJobs" : kind === "autoimportjobs" ? "autoImportJobs" : kind
  return job === undefined ? `${request.method} ${named}${request.method === "GET" ? " (list)" : ""}` : `${request.method} ${named}/{job}`
}

/** Requests by method, as `{GET: n, PUT: n, POST: n}` (methods not seen are 0). */
export const byMethod = (requests: ReadonlyArray<ArmRequest>): { readonly GET: number; readonly PUT: number; readonly POST: number; readonly other: number } => ({
  GET: requests.filter((r) => r.method === "GET").length,
  PUT: requests.filter((r) => r.method === "PUT").length,
  POST: requests.filter((r) => r.method === "POST").length,
  other: requests.filter((r) => !["GET", "PUT", "POST"].includes(r.method)).length
})

/** The cluster's requests answered from `from` to `to` (inclusive). */
export const clusterRequestsBetween = (log: ReadonlyArray<ArmRequest>, cluster: string, from: number, to: number) =>
  log.filter((request) => request.at >= from && request.at <= to && isAboutCluster(request, cluster))

export const countBy = <A>(items: ReadonlyArray<A>, key: (item: A) => string): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1
  return counts
}

const LEASE_KINDS: ReadonlyArray<KubeRequestKind> = ["get lease", "create lease", "update lease"]
export const isLeaseRequest = (request: KubeRequestRecord) => LEASE_KINDS.includes(request.kind)

/**
 * One resync of the HSM loop as the logs show it: it begins with the list of PVs (each round
 * lists PVs, then PVCs) and lasts until the next one. Its Kubernetes requests (the Lease's, on
 * their own 5 s schedule, left out) and the ARM requests answered meanwhile.
 */
export interface Resync {
  readonly at: number
  readonly kube: Readonly<Record<string, number>>
  readonly kubeTotal: number
  readonly arm: Readonly<Record<string, number>>
  readonly armTotal: number
}

export const resyncsOf = (
  kube: ReadonlyArray<KubeRequestRecord>,
  arm: ReadonlyArray<ArmRequest>,
  since: number
): ReadonlyArray<Resync> => {
  const starts = kube.filter((r) => r.kind === "list persistentvolumes" && r.at >= since).map((r) => r.at)
  return starts.map((at, n) => {
    const end = starts[n + 1] ?? Number.POSITIVE_INFINITY
    // The PV list is answered before the round's other requests; take it with them.
    const kubeIn = kube.filter((r) => r.at >= at && r.at < end && !isLeaseRequest(r))
    const armIn = arm.filter((r) => r.at >= at && r.at < end)
    return { at, kube: countBy(kubeIn, (r) => r.kind), kubeTotal: kubeIn.length, arm: countBy(armIn, armKindOf), armTotal: armIn.length }
  })
}

/** The first PATCH of the PVC that wrote `key` with this request id and state, and when. */
export const stateWrittenAt = (
  kube: ReadonlyArray<KubeRequestRecord>,
  pvcPath: string,
  key: string,
  request: string,
  states: ReadonlyArray<string>
): number | undefined =>
  kube.find((r) => {
    if (r.kind !== "patch persistentvolumeclaim" || r.path !== pvcPath || r.statusCode !== 200) return false
    const written = r.annotations?.[key]
    if (written === undefined || written === null) return false
    const state = JSON.parse(written) as { readonly request?: string; readonly state?: string }
    return state.request === request && states.includes(state.state ?? "")
  })?.at

export const mean = (values: ReadonlyArray<number>) => (values.length === 0 ? Number.NaN : values.reduce((sum, n) => sum + n, 0) / values.length)
export const maxOf = (values: ReadonlyArray<number>) => (values.length === 0 ? Number.NaN : Math.max(...values))
