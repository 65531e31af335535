import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import {
  Kube,
  KubeError,
  type KubeEvent,
  type KubeLease,
  type KubePersistentVolume,
  type KubePersistentVolumeClaim,
  refusalMessage,
  truncateNote
} from "./Kube.js"

/** One call the fake saw. */
export type KubeCall =
  | { readonly _tag: "RecordEvent"; readonly event: KubeEvent }
  | { readonly _tag: "ReadSecret"; readonly namespace: string; readonly name: string }
  | { readonly _tag: "ListPersistentVolumes" }
  | { readonly _tag: "ListPersistentVolumeClaims" }
  | { readonly _tag: "WatchPersistentVolumeClaims" }
  | {
    readonly _tag: "PatchPersistentVolumeClaimAnnotations"
    readonly namespace: string
    readonly name: string
    readonly annotations: Readonly<Record<string, string | null>>
  }
  | { readonly _tag: "ReadLease"; readonly namespace: string; readonly name: string }
  | { readonly _tag: "CreateLease"; readonly lease: KubeLease }
  | { readonly _tag: "ReplaceLease"; readonly lease: KubeLease }

/** The key of a Secret in `KubeFake.secrets`: `<namespace>/<name>`. */
export const secretKey = (namespace: string, name: string): string => `${namespace}/${name}`

/** The key of a Lease in `KubeFake.leases` (and of a PVC): `<namespace>/<name>`. */
export const objectKey = secretKey

/**
 * A deterministic Kube for tests. `secrets` maps `<namespace>/<name>` to a Secret's (decoded)
 * data; `events` lists every Event recorded, in order, with its note cut as the live layer cuts
 * it. Every call first takes the next error queued in `failures`, if any, and fails with it:
 * queue three errors and the fourth call succeeds; `failNext` aims an error at the next call of
 * one kind only (a PVC patch, say), which takes it before `failures`. All are Refs the test may
 * change mid-test; `calls` lists every call, in order. A watch of PVCs sends every PVC there is,
 * then each one a patch changes and each one `editClaim` changes (a user's `kubectl annotate`);
 * a PVC changed through `claims` directly is not sent, as if the watch had missed it.
 */
export class KubeFake extends Context.Service<KubeFake, {
  readonly secrets: Ref.Ref<ReadonlyMap<string, Readonly<Record<string, string>>>>
  readonly events: Ref.Ref<ReadonlyArray<KubeEvent>>
  readonly failures: Ref.Ref<ReadonlyArray<KubeError>>
  /** Errors aimed at the next call of a kind (`KubeCall["_tag"]`), in order. */
  readonly failuresByCall: Ref.Ref<ReadonlyArray<{ readonly call: KubeCall["_tag"]; readonly error: KubeError }>>
  /** The next call of kind `call` fails with `error`. */
  readonly failNext: (call: KubeCall["_tag"], error: KubeError) => Effect.Effect<void>
  readonly calls: Ref.Ref<ReadonlyArray<KubeCall>>
  /** The PersistentVolumes the API server holds. */
  readonly volumes: Ref.Ref<ReadonlyArray<KubePersistentVolume>>
  /** The PersistentVolumeClaims; annotation patches change them here. */
  readonly claims: Ref.Ref<ReadonlyArray<KubePersistentVolumeClaim>>
  /** What the watch of PVCs sends after its first PVCs. */
  readonly claimChanges: PubSub.PubSub<KubePersistentVolumeClaim>
  /** Sets annotations of PVC `namespace/name` as a user would (`null` removes one), and tells its watchers. */
  readonly editClaim: (namespace: string, name: string, annotations: Readonly<Record<string, string | null>>) => Effect.Effect<void>
  /** Leases by `<namespace>/<name>`; each write gives a new resourceVersion. */
  readonly leases: Ref.Ref<ReadonlyMap<string, KubeLease>>
}>()("azurelustre/kube/KubeFake") {
  static readonly layer = (
    options: {
      /** Secrets by `<namespace>/<name>` (see `secretKey`), each its decoded data. */
      readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>
      readonly failures?: ReadonlyArray<KubeError>
      readonly volumes?: ReadonlyArray<KubePersistentVolume>
      readonly claims?: ReadonlyArray<KubePersistentVolumeClaim>
    } = {}
  ): Layer.Layer<Kube | KubeFake> =>
    Layer.effect(
      Kube,
      Effect.gen(function*() {
        const state = yield* KubeFake
        const record = (call: KubeCall) => Ref.update(state.calls, (calls) => [...calls, call])
        type AimedFailure = { readonly call: KubeCall["_tag"]; readonly error: KubeError }
        const nextFailure = (call: KubeCall): Effect.Effect<KubeError | undefined> =>
          Effect.flatMap(
            Ref.modify(state.failuresByCall, (queued): readonly [KubeError | undefined, ReadonlyArray<AimedFailure>] => {
              const at = queued.findIndex((aimed) => aimed.call === call._tag)
              return at < 0 ? [undefined, queued] : [queued[at]?.error, [...queued.slice(0, at), ...queued.slice(at + 1)]]
            }),
            (aimed) =>
              aimed === undefined
                ? Ref.modify(state.failures, (queued): readonly [KubeError | undefined, ReadonlyArray<KubeError>] => [queued[0], queued.slice(1)])
                : Effect.succeed(aimed)
          )

        const recordEvent = Effect.fn("KubeFake.recordEvent")(function*(event: KubeEvent) {
          const call: KubeCall = { _tag: "RecordEvent", event }
          yield* record(call)
          const failure = yield* nextFailure(call)
          if (failure !== undefined) return yield* failure
          yield* Ref.update(state.events, (events) => [...events, { ...event, note: truncateNote(event.note) }])
        })

        const readSecret = Effect.fn("KubeFake.readSecret")(function*(namespace: string, name: string) {
          const call: KubeCall = { _tag: "ReadSecret", namespace, name }
          yield* record(call)
          const failure = yield* nextFailure(call)
          if (failure !== undefined) return yield* failure
          return Option.fromUndefinedOr((yield* Ref.get(state.secrets)).get(secretKey(namespace, name)))
        })

        /** Records the call, then answers with the next queued failure, if any. */
        const begin = (call: KubeCall) =>
          Effect.gen(function*() {
            yield* record(call)
            const failure = yield* nextFailure(call)
            if (failure !== undefined) return yield* failure
          })

        const listPersistentVolumes = begin({ _tag: "ListPersistentVolumes" }).pipe(Effect.andThen(Ref.get(state.volumes)))
        const listPersistentVolumeClaims = begin({ _tag: "ListPersistentVolumeClaims" }).pipe(
          Effect.andThen(Ref.get(state.claims))
        )

        const watchPersistentVolumeClaims = Stream.unwrap(Effect.gen(function*() {
          yield* begin({ _tag: "WatchPersistentVolumeClaims" })
          const changes = yield* PubSub.subscribe(state.claimChanges)
          return Stream.concat(Stream.fromIterable(yield* Ref.get(state.claims)), Stream.fromSubscription(changes))
        }))

        const patchPersistentVolumeClaimAnnotations = Effect.fn("KubeFake.patchPersistentVolumeClaimAnnotations")(function*(
          namespace: string,
          name: string,
          annotations: Readonly<Record<string, string | null>>
        ) {
          yield* begin({ _tag: "PatchPersistentVolumeClaimAnnotations", namespace, name, annotations })
          const claims = yield* Ref.get(state.claims)
          const found = claims.find((claim) => claim.namespace === namespace && claim.name === name)
          const subject = `persistentvolumeclaim ${namespace}/${name}`
          if (found === undefined) {
            return yield* new KubeError({ operation: "patchPersistentVolumeClaim", status: 404, message: refusalMessage("patchPersistentVolumeClaim", 404, subject, undefined) })
          }
          yield* state.editClaim(namespace, name, annotations)
        })

        const readLease = Effect.fn("KubeFake.readLease")(function*(namespace: string, name: string) {
          yield* begin({ _tag: "ReadLease", namespace, name })
          return Option.fromUndefinedOr((yield* Ref.get(state.leases)).get(objectKey(namespace, name)))
        })

        const conflict = (operation: string, lease: KubeLease, why: string) =>
          new KubeError({ operation, status: 409, message: refusalMessage(operation, 409, `lease ${lease.namespace}/${lease.name}`, why) })

        const writeLease = (lease: KubeLease) =>
          Ref.modify(state.leases, (leases) => {
            const version = String(Number(leases.get(objectKey(lease.namespace, lease.name))?.resourceVersion ?? "0") + 1)
            const written = { ...lease, resourceVersion: version }
            return [written, new Map([...leases, [objectKey(lease.namespace, lease.name), written]])] as const
          })

        const createLease = Effect.fn("KubeFake.createLease")(function*(lease: KubeLease) {
          yield* begin({ _tag: "CreateLease", lease })
          if ((yield* Ref.get(state.leases)).has(objectKey(lease.namespace, lease.name))) {
            return yield* conflict("createLease", lease, "it already exists")
          }
          return yield* writeLease(lease)
        })

        const replaceLease = Effect.fn("KubeFake.replaceLease")(function*(lease: KubeLease) {
          yield* begin({ _tag: "ReplaceLease", lease })
          const current = (yield* Ref.get(state.leases)).get(objectKey(lease.namespace, lease.name))
          if (current === undefined) {
            return yield* new KubeError({ operation: "replaceLease", status: 404, message: refusalMessage("replaceLease", 404, `lease ${lease.namespace}/${lease.name}`, undefined) })
          }
          if (current.resourceVersion !== lease.resourceVersion) {
            return yield* conflict("replaceLease", lease, "the object has been modified; please apply your changes to the latest version")
          }
          return yield* writeLease(lease)
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
    ).pipe(Layer.provideMerge(Layer.effect(
      KubeFake,
      Effect.gen(function*() {
        const failuresByCall = yield* Ref.make<ReadonlyArray<{ readonly call: KubeCall["_tag"]; readonly error: KubeError }>>([])
        const claims = yield* Ref.make<ReadonlyArray<KubePersistentVolumeClaim>>(options.claims ?? [])
        const claimChanges = yield* PubSub.unbounded<KubePersistentVolumeClaim>()
        const editClaim = (namespace: string, name: string, annotations: Readonly<Record<string, string | null>>) =>
          Effect.gen(function*() {
            const edited = yield* Ref.modify(claims, (all): readonly [KubePersistentVolumeClaim | undefined, ReadonlyArray<KubePersistentVolumeClaim>] => {
              const found = all.find((claim) => claim.namespace === namespace && claim.name === name)
              if (found === undefined) return [undefined, all]
              const merged: Record<string, string> = { ...found.annotations }
              for (const [key, value] of Object.entries(annotations)) {
                if (value === null) delete merged[key]
                else merged[key] = value
              }
              const changed = { ...found, annotations: merged }
              return [changed, all.map((claim) => (claim === found ? changed : claim))]
            })
            if (edited !== undefined) yield* PubSub.publish(claimChanges, edited)
          })
        return KubeFake.of({
          secrets: yield* Ref.make<ReadonlyMap<string, Readonly<Record<string, string>>>>(
            new Map(Object.entries(options.secrets ?? {}))
          ),
          events: yield* Ref.make<ReadonlyArray<KubeEvent>>([]),
          failures: yield* Ref.make<ReadonlyArray<KubeError>>(options.failures ?? []),
          failuresByCall,
          failNext: (call, error) => Ref.update(failuresByCall, (queued) => [...queued, { call, error }]),
          calls: yield* Ref.make<ReadonlyArray<KubeCall>>([]),
          volumes: yield* Ref.make<ReadonlyArray<KubePersistentVolume>>(options.volumes ?? []),
          claims,
          claimChanges,
          editClaim,
          leases: yield* Ref.make<ReadonlyMap<string, KubeLease>>(new Map())
        })
      })
    )))
}
