import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import type { AmlfsApi } from "../../../layers/azure/AmlfsApi.js"
import type { Kube } from "../../../layers/kube/Kube.js"
import { runHsmLoop } from "./HsmReconciler.js"

/** The Lease the controller's replicas elect the HSM loop's leader with. */
export const HSM_LEASE_NAME = "azurelustre-csi-hsm"

/** Where a pod's service account says which namespace it runs in. */
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/** The controller's namespace: $POD_NAMESPACE, else its service account's, else kube-system (the manifests'). */
const controllerNamespace: Effect.Effect<string> = Effect.gen(function*() {
  const given = process.env["POD_NAMESPACE"]
  if (given !== undefined && given !== "") return given
  const read = yield* Effect.tryPromise(() => Fs.readFile(SERVICE_ACCOUNT_NAMESPACE, "utf8")).pipe(
    Effect.map((text) => text.trim()),
    Effect.orElseSucceed(() => "")
  )
  return read === "" ? "kube-system" : read
})

/** This replica's name in the Lease: the pod's (POD_NAME), else the host's. */
const replicaIdentity = (): string => {
  const pod = process.env["POD_NAME"]
  return pod !== undefined && pod !== "" ? pod : Os.hostname()
}

export interface HsmLoopLayerOptions {
  readonly driverName: string
  /** Default: the controller's namespace. */
  readonly namespace?: string
  /** Default: the pod's name. */
  readonly identity?: string
  /** Default: HSM_RESYNC (30 s). */
  readonly resync?: Duration.Duration
}

/**
 * The controller's HSM loop in the background for as long as the controller runs: on-demand
 * import and archive from PVC annotations (see HsmAnnotations.ts), on the Lease's leader only.
 */
export const HsmLoopLayer = (options: HsmLoopLayerOptions): Layer.Layer<never, never, Kube | AmlfsApi> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const namespace = options.namespace ?? (yield* controllerNamespace)
    const identity = options.identity ?? replicaIdentity()
    yield* Effect.logInfo("the HSM loop runs, on the replica that holds its Lease").pipe(
      Effect.annotateLogs({ lease: `${namespace}/${HSM_LEASE_NAME}`, identity })
    )
    yield* Effect.forkScoped(runHsmLoop({
      driverName: options.driverName,
      lease: { namespace, name: HSM_LEASE_NAME, identity },
      ...(options.resync === undefined ? {} : { resync: options.resync })
    }))
  }))
