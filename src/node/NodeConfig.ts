import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import { defaultHydrationSettings, type HydrationSettings } from "./hsm/hydrate.js"

/** How the node plugin mounts: where its shared Lustre mounts live and how long each step may take. */
export class NodeConfig extends Context.Service<NodeConfig, {
  readonly nodeId: string
  /** The node's zone, reported as accessible topology (topology.kubernetes.io/zone). */
  readonly zone: string | undefined
  /**
   * Where the node's one Lustre client mount per filesystem lives. It must be under a path the
   * DaemonSet mounts with Bidirectional propagation, so the bind mounts into pods see it.
   * Canonical (see nodeDirectories.ts): mounts are matched by the kernel's spelling of paths.
   */
  readonly mountRoot: string
  /**
   * Kubelet's pods directory (`<kubelet-dir>/pods`), canonical: every target_path and
   * volume_path must be below it, so the plugin never mounts over, unmounts or reports on
   * anything else of the host.
   */
  readonly podsDir: string
  /** One attempt to mount Lustre (a client mount of an unreachable MGS can hang for minutes). */
  readonly mountTimeout: Duration.Duration
  /** Each step of an unmount: umount, then umount -f, then umount -l. */
  readonly unmountStepTimeout: Duration.Duration
  /** `lctl ping` of the MGS before mounting. */
  readonly mgsPingTimeout: Duration.Duration
  /** How long a call waits for another operation on the same target or filesystem. */
  readonly lockWait: Duration.Duration
  /** statfs of a published volume: a Lustre mount whose servers are gone does not answer. */
  readonly statsTimeout: Duration.Duration
  /** How HSM hydrations restore: files at once, per-file timeout, polling and retry Schedules. */
  readonly hydration: HydrationSettings
  /** How often a running hydration samples its released-files gauge and (before-start) records a progress Event. */
  readonly hydrationEventEvery: Duration.Duration
}>()("azurelustre/node/NodeConfig") {
  static readonly defaults = {
    mountTimeout: Duration.seconds(60),
    unmountStepTimeout: Duration.seconds(10),
    mgsPingTimeout: Duration.seconds(10),
    lockWait: Duration.seconds(30),
    statsTimeout: Duration.seconds(10),
    hydration: defaultHydrationSettings,
    hydrationEventEvery: Duration.minutes(1)
  }
}
