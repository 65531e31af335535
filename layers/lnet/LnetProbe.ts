import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"

export class MgsUnreachable extends Schema.TaggedError<MgsUnreachable>()("MgsUnreachable", {
  mgsAddress: Schema.String,
  message: Schema.String
}) {}

/** The probe could not look: a file could not be read, or lnetctl/lctl failed. */
export class LnetProbeFailed extends Schema.TaggedError<LnetProbeFailed>()("LnetProbeFailed", {
  /** What was tried, e.g. `lnetctl net show` or `read /proc/modules`. */
  operation: Schema.String,
  /** Why it failed, in the tool's words where it gave some (lnetctl's `descr`). */
  message: Schema.String,
  /** Neither lnetctl nor lctl could be started: the Lustre client utilities are missing. */
  notInstalled: Schema.Boolean
}) {}

/** A local network interface of LNet (an NI), as `lnetctl net show` lists it. */
export interface LocalNi {
  readonly nid: string
  /** "up" or "down" as lnetctl reports it; undefined when the source does not say (lctl list_nids). */
  readonly status: string | undefined
  /** The network interfaces the NI sends over; empty when LNet names none. */
  readonly interfaces: ReadonlyArray<string>
}

/** A network interface as /sys/class/net/<name> shows it. */
export interface InterfaceState {
  /** operstate (RFC 2863): up, down, lowerlayerdown, dormant, testing, notpresent or unknown. */
  readonly operstate: string
  /** IFF_UP from `flags` (`ip link set <name> up`); undefined when the flags could not be read. */
  readonly administrativelyUp: boolean | undefined
}

/** What the node can tell about LNet, the network Lustre speaks. Callers bound every call with a timeout. */
export class LnetProbe extends Context.Service<LnetProbe, {
  /** `lctl ping <mgs>@tcp`: the MGS answers over LNet. */
  readonly pingMgs: (mgsAddress: string) => Effect.Effect<void, MgsUnreachable>
  /** The names of the kernel modules loaded now (/proc/modules). */
  readonly loadedModules: Effect.Effect<ReadonlySet<string>, LnetProbeFailed>
  /** LNet's local NIs, loopback included. */
  readonly localNis: Effect.Effect<ReadonlyArray<LocalNi>, LnetProbeFailed>
  /** Pings a NID over LNet; succeeds when it answers. */
  readonly pingNid: (nid: string) => Effect.Effect<void, LnetProbeFailed>
  /** The state of a network interface; none when the node has no interface of that name. */
  readonly interfaceState: (name: string) => Effect.Effect<Option.Option<InterfaceState>, LnetProbeFailed>
  /** The interface that holds an IP address and is up; for NIs that name no interface. */
  readonly interfaceWithAddress: (address: string) => Effect.Effect<Option.Option<string>, LnetProbeFailed>
}>()("azurelustre/lnet/LnetProbe") {}
