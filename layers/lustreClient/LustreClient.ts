import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { LocalNi } from "../lnet/LnetProbe.js"
import type { InstalledPackage } from "./dpkgStatus.js"
import type { HostRelease } from "./hostRelease.js"
import type { IpLink } from "./ipOutput.js"
import type { PackageRepository } from "./packageRepository.js"
import type { LoadedModules } from "./procModules.js"

/** A host command failed (exit status, or could not start), or a host file could not be read or written. */
export class LustreClientFailed extends Schema.TaggedError<LustreClientFailed>()("LustreClientFailed", {
  /** What was tried: the command line (`apt-get install -y …`) or `read /etc/os-release`. */
  operation: Schema.String,
  /** Why, in one line. */
  message: Schema.String,
  /** The command's stdout and stderr (clipped), for the program to read apt's or lnetctl's words. */
  output: Schema.String,
  /** The command could not be started: it is not installed on the host. */
  notInstalled: Schema.Boolean,
  /** The operation was cut at its time limit, its command killed (with whatever it had started). */
  cutAtBound: Schema.optionalKey(Schema.Boolean)
}) {}

/** What the node is: its release, its kernel and its machine. */
export interface HostFacts {
  readonly release: HostRelease
  /** `uname -r`, e.g. `5.15.0-1079-azure`. */
  readonly kernelRelease: string
  /** `uname -m`, e.g. `x86_64`. */
  readonly machine: string
}

/** The kernel modules loaded, with Lustre's own version when the module says it. */
export interface ClientModules extends LoadedModules {
  /** `/sys/module/lustre/version` (`2.15.7_33_g79ddf99`); undefined when lustre is not loaded or says none. */
  readonly lustreVersion: string | undefined
}

/** What apt-get update printed when it succeeded: its fetch failures are warnings, in here. */
export interface AptOutput {
  readonly stdout: string
  readonly stderr: string
}

/**
 * The node's side of installing and starting the AMLFS Lustre client: the host's own package
 * manager, kernel modules and LNet, one operation each, so that the node setup program
 * (src/node/setup) decides, retries, times and reports every step. Nothing here retries or
 * waits on its own; callers bound each call with a timeout (interrupting one stops its command).
 */
export class LustreClient extends Context.Service<LustreClient, {
  /** The host's /etc/os-release, `uname -r` and `uname -m`. */
  readonly host: Effect.Effect<HostFacts, LustreClientFailed>
  /** The Lustre client packages dpkg knows (`*lustre-client*`), read from its database, no process. */
  readonly installedClientPackages: Effect.Effect<ReadonlyArray<InstalledPackage>, LustreClientFailed>
  /** The kernel modules loaded (/proc/modules) and the lustre module's version. */
  readonly loadedModules: Effect.Effect<ClientModules, LustreClientFailed>
  /** Makes apt know the repository (its list file, and its key when missing); true when anything changed. */
  readonly addRepository: (repository: PackageRepository) => Effect.Effect<boolean, LustreClientFailed>
  /** `apt-get update`. */
  readonly updatePackageLists: Effect.Effect<AptOutput, LustreClientFailed>
  /** `apt-get install -y --reinstall --no-install-recommends … <name>=<version>`, non-interactive, keeping existing configuration files. */
  readonly installPackage: (name: string, version: string) => Effect.Effect<void, LustreClientFailed>
  /** `apt-get remove --purge -y <names…>`. */
  readonly removePackages: (names: ReadonlyArray<string>) => Effect.Effect<void, LustreClientFailed>
  /** `dpkg --configure -a`: finishes the work an apt-get or dpkg cut before its end left half done. */
  readonly configurePendingPackages: Effect.Effect<void, LustreClientFailed>
  /** `lustre_rmmod`: unloads the Lustre client and LNet modules (fails while Lustre is mounted). */
  readonly unloadModules: Effect.Effect<void, LustreClientFailed>
  /** `modprobe -v <module> [parameters…]`. */
  readonly loadModule: (module: string, parameters: ReadonlyArray<string>) => Effect.Effect<void, LustreClientFailed>
  /** `lnetctl lnet configure`. */
  readonly configureLnet: Effect.Effect<void, LustreClientFailed>
  /** LNet's local NIs (`lnetctl net show`), loopback included. */
  readonly lnetNis: Effect.Effect<ReadonlyArray<LocalNi>, LustreClientFailed>
  /** `lnetctl net add --net tcp --if <interface>`. */
  readonly addTcpInterface: (networkInterface: string) => Effect.Effect<void, LustreClientFailed>
  /** `lnetctl net del --net tcp`. */
  readonly deleteTcpNet: Effect.Effect<void, LustreClientFailed>
  /** `ip -o link show` and `ip route show`: the interfaces, and those the routing table uses. */
  readonly networkInterfaces: Effect.Effect<
    { readonly links: ReadonlyArray<IpLink>; readonly routeDevices: ReadonlyArray<string> },
    LustreClientFailed
  >
}>()("azurelustre/lustreClient/LustreClient") {}
