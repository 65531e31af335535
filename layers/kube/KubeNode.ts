import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { KubeError, KubeEvent } from "./Kube.js"

/** An Event about the node itself (the Go driver's and kubelet's Node Events): no subject to name. */
export type NodeEvent = Omit<KubeEvent, "regarding">

/** A taint on a Node (`spec.taints[]`). */
export interface NodeTaint {
  readonly key: string
  readonly value?: string
  readonly effect: string
}

/**
 * What the node plugin asks of the Kubernetes API: about its own Node, and Events about the PVCs
 * and Pods it mounts for. Kept apart from `Kube` (the controller's) so that the node plugin,
 * which runs on every node, can use a small client (KubeNodeLive) instead of loading
 * @kubernetes/client-node. A KubeError's `operation` is `readNode`, `readCSINode`, `patchNode`
 * or `createEvent` (RBAC: get nodes, get csinodes, patch nodes, create events.k8s.io events;
 * and get persistentvolumeclaims and pods, for an Event's uid).
 */
export class KubeNode extends Context.Service<KubeNode, {
  /** The labels of Node `nodeName` (`GET /api/v1/nodes/<name>`); `{}` when it has none. */
  readonly readNodeLabels: (nodeName: string) => Effect.Effect<Readonly<Record<string, string>>, KubeError>
  /**
   * The drivers kubelet has registered on `nodeName`: the names in its CSINode's `spec.drivers`
   * (`GET /apis/storage.k8s.io/v1/csinodes/<name>`); `[]` when there is no CSINode yet (404).
   */
  readonly readCsiNodeDrivers: (nodeName: string) => Effect.Effect<ReadonlyArray<string>, KubeError>
  /**
   * Removes every taint whose key is `key` (any effect) from Node `nodeName`, and tells which it
   * removed (`[]`: there was none, nothing was sent). The JSON patch `test`s the taints it read,
   * so a concurrent change to them fails the patch (a KubeError with status 422, retryable by
   * reading again) instead of being overwritten.
   */
  readonly removeNodeTaint: (nodeName: string, key: string) => Effect.Effect<ReadonlyArray<NodeTaint>, KubeError>
  /**
   * Records an Event (`POST /apis/events.k8s.io/v1/namespaces/<ns>/events`) about a PVC or a Pod,
   * reported by the driver's name from this node. Without `regarding.uid` it reads the object for
   * it first; when that read fails the Event goes without a uid rather than not at all.
   */
  readonly recordEvent: (event: KubeEvent) => Effect.Effect<void, KubeError>
  /**
   * Records an Event about Node `nodeName` (in namespace `default`, where kubelet records its
   * own), with the Node's uid when it can be read, so `kubectl describe node` shows it.
   */
  readonly recordNodeEvent: (nodeName: string, event: NodeEvent) => Effect.Effect<void, KubeError>
}>()("azurelustre/kube/KubeNode") {}
