import type * as K8s from "@kubernetes/client-node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Os from "node:os"
import {
  decodeStatusBody,
  Kube,
  KubeError,
  type KubeEvent,
  type KubeLease,
  type KubePersistentVolume,
  type KubePersistentVolumeClaim,
  refusalMessage,
  REPORTING_CONTROLLER,
  withinRequestTimeout
} from "./Kube.js"
import { eventsV1Body, eventSubject } from "./eventsV1.js"

/**
 * A kubeconfig given as values (what `KubeConfig.loadFromOptions` takes), e.g. a test's API
 * server on loopback. `@kubernetes/client-node` 2.x refuses a plain `http://` server unless the
 * cluster has `skipTLSVerify: true`.
 */
export interface KubeConfigOptions {
  readonly clusters: ReadonlyArray<K8s.Cluster>
  readonly users: ReadonlyArray<K8s.User>
  readonly contexts: ReadonlyArray<K8s.Context>
  readonly currentContext: string
}

export interface KubeLiveOptions {
  /** Each API call gives up after this long, as a KubeError with status 0 (default 10 s). */
  readonly requestTimeout?: Duration.Input
  /** The `reportingInstance` of Events: default $POD_NAME, else the hostname. */
  readonly reportingInstance?: string
  /** The `reportingController` of Events: the driver's name (`--driver-name`), default azurelustre.csi.azure.com. */
  readonly reportingController?: string
}

type Source =
  | { readonly _tag: "Environment" }
  | { readonly _tag: "Options"; readonly options: KubeConfigOptions }

const defaultRequestTimeout = Duration.seconds(10)

const reasonOf = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  // undici's fetch fails with "fetch failed" and puts the reason (ECONNREFUSED, ...) in `cause`.
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${cause.message}${inner}`
}

/** Who reports Events: the pod (POD_NAME, from the downward API), else the host. */
const defaultReportingInstance = (): string => {
  const pod = process.env["POD_NAME"]
  return pod !== undefined && pod !== "" ? pod : Os.hostname()
}

/** Base64 Secret data as text (UTF-8). */
const decodeSecretData = (data: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]))

const persistentVolumeOf = (volume: K8s.V1PersistentVolume): KubePersistentVolume => {
  const claim = volume.spec?.claimRef
  return {
    name: volume.metadata?.name ?? "",
    driver: volume.spec?.csi?.driver,
    volumeHandle: volume.spec?.csi?.volumeHandle,
    claim: claim?.name === undefined
      ? undefined
      : { namespace: claim.namespace ?? "", name: claim.name, uid: claim.uid }
  }
}

const persistentVolumeClaimOf = (claim: K8s.V1PersistentVolumeClaim): KubePersistentVolumeClaim => ({
  namespace: claim.metadata?.namespace ?? "",
  name: claim.metadata?.name ?? "",
  uid: claim.metadata?.uid,
  volumeName: claim.spec?.volumeName,
  annotations: claim.metadata?.annotations ?? {}
})

const leaseOf = (lease: K8s.V1Lease): KubeLease => ({
  namespace: lease.metadata?.namespace ?? "",
  name: lease.metadata?.name ?? "",
  holderIdentity: lease.spec?.holderIdentity,
  leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
  acquireTime: lease.spec?.acquireTime === undefined ? undefined : new Date(lease.spec.acquireTime),
  renewTime: lease.spec?.renewTime === undefined ? undefined : new Date(lease.spec.renewTime),
  leaseTransitions: lease.spec?.leaseTransitions,
  resourceVersion: lease.metadata?.resourceVersion
})

/** The Lease's body; `microTime` makes the V1MicroTime the API server requires (6 fraction digits). */
const leaseBody = (lease: KubeLease, microTime: (date: Date) => K8s.V1MicroTime): K8s.V1Lease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: {
    name: lease.name,
    namespace: lease.namespace,
    ...(lease.resourceVersion === undefined ? {} : { resourceVersion: lease.resourceVersion })
  },
  spec: {
    ...(lease.holderIdentity === undefined ? {} : { holderIdentity: lease.holderIdentity }),
    ...(lease.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: lease.leaseDurationSeconds }),
    ...(lease.acquireTime === undefined ? {} : { acquireTime: microTime(lease.acquireTime) }),
    ...(lease.renewTime === undefined ? {} : { renewTime: microTime(lease.renewTime) }),
    ...(lease.leaseTransitions === undefined ? {} : { leaseTransitions: lease.leaseTransitions })
  }
})

const make = (source: Source, options: KubeLiveOptions) =>
  Effect.gen(function*() {
    // Loaded here, not at the top of the module: a process that never builds this layer (the
    // node plugin, which has KubeNodeLive; the simulation) never pays for the client.
    const k8s = yield* Effect.tryPromise({
      try: () => import("@kubernetes/client-node"),
      catch: (cause) =>
        new KubeError({ operation: "loadClient", status: 0, message: `cannot load @kubernetes/client-node: ${reasonOf(cause)}` })
    })
    const kc = new k8s.KubeConfig()
    const { core, events, coordination, server } = yield* Effect.try({
      try: () => {
        if (source._tag === "Options") kc.loadFromOptions(source.options)
        else if (process.env["KUBERNETES_SERVICE_HOST"]) kc.loadFromCluster()
        else kc.loadFromDefault()
        return {
          core: kc.makeApiClient(k8s.CoreV1Api),
          events: kc.makeApiClient(k8s.EventsV1Api),
          coordination: kc.makeApiClient(k8s.CoordinationV1Api),
          server: kc.getCurrentCluster()?.server ?? "(none)"
        }
      },
      catch: (cause) =>
        new KubeError({
          operation: "loadConfig",
          status: 0,
          message: `cannot configure the Kubernetes client (in-cluster config, $KUBECONFIG or ~/.kube/config): ${reasonOf(cause)}`
        })
    })
    const requestTimeout = options.requestTimeout === undefined
      ? defaultRequestTimeout
      : Duration.fromInputUnsafe(options.requestTimeout)
    // The default HTTP library, with the fiber's AbortSignal set on each request, so that an
    // interrupted or timed-out call cancels its HTTP request instead of leaving it running.
    const fetchLibrary = k8s.createConfiguration().httpApi
    const withSignal = (signal: AbortSignal): K8s.ConfigurationOptions => ({
      httpApi: {
        send: (request) => {
          request.setSignal(signal)
          return fetchLibrary.send(request)
        }
      }
    })

    const toKubeError = (operation: string, subject: string) => (cause: unknown): KubeError => {
      if (cause instanceof k8s.ApiException) {
        const status = typeof cause.code === "number" ? cause.code : 0
        const detail = Option.getOrUndefined(decodeStatusBody(cause.body))?.message
        return new KubeError({ operation, status, message: refusalMessage(operation, status, subject, detail) })
      }
      // A watch's refusal: an Error with the HTTP status, without the API server's Status body.
      if (cause instanceof Error && "statusCode" in cause && typeof cause.statusCode === "number") {
        return new KubeError({ operation, status: cause.statusCode, message: refusalMessage(operation, cause.statusCode, subject, undefined) })
      }
      return new KubeError({
        operation,
        status: 0,
        message: `${operation} ${subject}: cannot reach the Kubernetes API server at ${server}: ${reasonOf(cause)}`
      })
    }

    /** One API call: bounded by the request timeout, cancelled when interrupted. */
    const call = <A>(
      operation: string,
      subject: string,
      send: (options: K8s.ConfigurationOptions) => Promise<A>
    ): Effect.Effect<A, KubeError> =>
      Effect.tryPromise({
        try: (signal) => send(withSignal(signal)),
        catch: toKubeError(operation, subject)
      }).pipe(withinRequestTimeout(operation, subject, server, requestTimeout))

    const reporter = {
      reportingInstance: options.reportingInstance ?? defaultReportingInstance(),
      reportingController: options.reportingController ?? REPORTING_CONTROLLER
    }

    /** The PVC's uid, which `kubectl describe pvc` matches Events on; undefined when it cannot be read. */
    const uidOf = (namespace: string, name: string) =>
      call(
        "readPersistentVolumeClaim",
        `persistentvolumeclaim ${namespace}/${name}`,
        (options) => core.readNamespacedPersistentVolumeClaim({ namespace, name }, options)
      ).pipe(
        Effect.map((claim) => claim.metadata?.uid),
        Effect.orElseSucceed(() => undefined)
      )

    const recordEvent = Effect.fn("Kube.recordEvent")(function*(event: KubeEvent) {
      const { kind, namespace, name } = event.regarding
      // The controller reads PVCs only (its ClusterRole has no pods): a Pod's Event goes without a uid.
      const uid = event.regarding.uid ?? (kind === "PersistentVolumeClaim" ? yield* uidOf(namespace, name) : undefined)
      // V1MicroTime, not Date: it serialises with the microseconds the API server requires.
      const body: K8s.EventsV1Event = eventsV1Body(event, reporter, new k8s.V1MicroTime(), uid)
      yield* call(
        "createEvent",
        eventSubject(event.regarding),
        (options) => events.createNamespacedEvent({ namespace, body }, options)
      )
    })

    const readSecret = Effect.fn("Kube.readSecret")(function*(namespace: string, name: string) {
      const secret = yield* call(
        "readSecret",
        `secret ${namespace}/${name}`,
        (options) => core.readNamespacedSecret({ namespace, name }, options)
      ).pipe(
        Effect.map(Option.some),
        Effect.catchIf((error) => error.status === 404, () => Effect.succeed(Option.none()))
      )
      return Option.map(secret, (found) => decodeSecretData(found.data))
    })

    const listPersistentVolumes = call(
      "listPersistentVolumes",
      "persistentvolumes",
      (options) => core.listPersistentVolume({}, options)
    ).pipe(Effect.map((list) => list.items.map(persistentVolumeOf)), Effect.withSpan("Kube.listPersistentVolumes"))

    const listPersistentVolumeClaims = call(
      "listPersistentVolumeClaims",
      "persistentvolumeclaims",
      (options) => core.listPersistentVolumeClaimForAllNamespaces({}, options)
    ).pipe(Effect.map((list) => list.items.map(persistentVolumeClaimOf)), Effect.withSpan("Kube.listPersistentVolumeClaims"))

    const watcher = new k8s.Watch(kc)
    /**
     * One watch from `from` (every PVC first when undefined): its PVCs onto `queue`, the last
     * resourceVersion seen into `position`. Ends "closed" when the API server or the client
     * (after 30 s without news) closes it, "expired" when the API server no longer has `from` (410).
     */
    const watchOnce = (queue: Queue.Enqueue<KubePersistentVolumeClaim>, from: string | undefined, position: { resourceVersion: string | undefined }) =>
      Effect.callback<"closed" | "expired", KubeError>((resume) => {
        let expired = false
        const failed = (error: unknown) => resume(Effect.fail(toKubeError("watchPersistentVolumeClaims", "persistentvolumeclaims")(error)))
        const started = watcher.watch(
          "/api/v1/persistentvolumeclaims",
          { resourceVersion: from, allowWatchBookmarks: true },
          (type: string, object: K8s.V1PersistentVolumeClaim & { readonly code?: number }) => {
            if (type === "ERROR") {
              expired ||= object.code === 410
              return
            }
            position.resourceVersion = object.metadata?.resourceVersion ?? position.resourceVersion
            if (type === "ADDED" || type === "MODIFIED") Queue.offerUnsafe(queue, persistentVolumeClaimOf(object))
          },
          (error: unknown) => {
            if (expired) resume(Effect.succeed("expired"))
            else if (error === null || error === undefined || (error instanceof Error && error.name === "TimeoutError")) resume(Effect.succeed("closed"))
            else failed(error)
          }
        )
        // It rejects, without calling back, when the request cannot even be made (no cluster, a refused configuration).
        started.catch(failed)
        return Effect.promise(() => started.then((controller) => controller.abort(), () => undefined))
      })

    const watchPersistentVolumeClaims = Stream.callback<KubePersistentVolumeClaim, KubeError>((queue) =>
      Effect.gen(function*() {
        const position: { resourceVersion: string | undefined } = { resourceVersion: undefined }
        let from: string | undefined
        while (true) {
          const ended = yield* watchOnce(queue, from, position)
          from = ended === "expired" ? undefined : position.resourceVersion
        }
      })
    )

    const patchPersistentVolumeClaimAnnotations = Effect.fn("Kube.patchPersistentVolumeClaimAnnotations")(function*(
      namespace: string,
      name: string,
      annotations: Readonly<Record<string, string | null>>
    ) {
      yield* call(
        "patchPersistentVolumeClaim",
        `persistentvolumeclaim ${namespace}/${name}`,
        (options) =>
          core.patchNamespacedPersistentVolumeClaim(
            { namespace, name, body: { metadata: { annotations } } },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch, options)
          )
      )
    })

    const readLease = Effect.fn("Kube.readLease")(function*(namespace: string, name: string) {
      return yield* call("readLease", `lease ${namespace}/${name}`, (options) => coordination.readNamespacedLease({ namespace, name }, options))
        .pipe(
          Effect.map((lease) => Option.some(leaseOf(lease))),
          Effect.catchIf((error) => error.status === 404, () => Effect.succeed(Option.none()))
        )
    })

    const createLease = Effect.fn("Kube.createLease")(function*(lease: KubeLease) {
      const body = leaseBody(lease, (date) => new k8s.V1MicroTime(date.getTime()))
      return leaseOf(
        yield* call(
          "createLease",
          `lease ${lease.namespace}/${lease.name}`,
          (options) => coordination.createNamespacedLease({ namespace: lease.namespace, body }, options)
        )
      )
    })

    const replaceLease = Effect.fn("Kube.replaceLease")(function*(lease: KubeLease) {
      const body = leaseBody(lease, (date) => new k8s.V1MicroTime(date.getTime()))
      return leaseOf(
        yield* call(
          "replaceLease",
          `lease ${lease.namespace}/${lease.name}`,
          (options) => coordination.replaceNamespacedLease({ namespace: lease.namespace, name: lease.name, body }, options)
        )
      )
    })

    return Kube.of({
      recordEvent,
      readSecret,
      listPersistentVolumes,
      listPersistentVolumeClaims,
      watchPersistentVolumeClaims,
      patchPersistentVolumeClaimAnnotations,
      readLease,
      createLease,
      replaceLease
    })
  })

/** The Kubernetes API through @kubernetes/client-node, loaded when the layer is built. */
export const KubeLive = {
  /**
   * In a pod (KUBERNETES_SERVICE_HOST set): the service account's token and CA. Elsewhere:
   * $KUBECONFIG, then ~/.kube/config. Fails with a KubeError when no configuration loads.
   */
  layer: Layer.effect(Kube, make({ _tag: "Environment" }, {})) satisfies Layer.Layer<Kube, KubeError>,
  /** `layer` with options, e.g. Events reported by the driver's own name. */
  layerWith: (options: KubeLiveOptions): Layer.Layer<Kube, KubeError> => Layer.effect(Kube, make({ _tag: "Environment" }, options)),
  /** A kubeconfig given as values, e.g. a test's fake API server. */
  layerFromConfig: (config: KubeConfigOptions, options: KubeLiveOptions = {}): Layer.Layer<Kube, KubeError> =>
    Layer.effect(Kube, make({ _tag: "Options", options: config }, options))
} as const
