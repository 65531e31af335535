import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type { LocalNi } from "../lnet/LnetProbe.js"
import { isLustreClientPackage, moduleVersionOf, parseClientPackageName } from "./clientPackage.js"
import type { InstalledPackage } from "./dpkgStatus.js"
import { commandText, hostCommands } from "./hostCommands.js"
import type { IpLink } from "./ipOutput.js"
import { type HostFacts, LustreClient, LustreClientFailed } from "./LustreClient.js"
import type { PackageRepository } from "./packageRepository.js"

/**
 * A node as the fake and the simulation model it: what its repository offers, what dpkg has
 * installed, which modules are loaded (with use counts) and LNet's NIs. The operations below
 * change it as apt, dpkg, modprobe, lustre_rmmod and lnetctl would, and fail with their words.
 */
export interface ModelHost {
  readonly host: HostFacts
  /** What the configured repository offers: package name to the kernels it is built for. */
  readonly available: ReadonlyMap<string, ReadonlyArray<string>>
  readonly packages: ReadonlyArray<InstalledPackage>
  /** Loaded modules and their use counts (`lustre`: one per mounted filesystem). */
  readonly modules: ReadonlyMap<string, number>
  readonly lustreModuleVersion: string | undefined
  readonly lnetConfigured: boolean
  /** LNet's NIs besides 0@lo. */
  readonly nis: ReadonlyArray<LocalNi>
  readonly links: ReadonlyArray<IpLink>
  readonly routeDevices: ReadonlyArray<string>
  /** The address each interface holds, for the NID LNet gives it. */
  readonly addresses: ReadonlyMap<string, string>
  readonly repository: PackageRepository | undefined
  /** Two client versions ship the same files: installing one over another fails as dpkg does. */
  readonly clientsConflict: boolean
  /** An apt-get or dpkg was cut before its end: apt refuses to install or remove until `dpkg --configure -a`. */
  readonly dpkgInterrupted: boolean
}

export const ubuntuJammy: HostFacts = {
  release: { id: "ubuntu", versionId: "22.04", codename: "jammy", prettyName: "Ubuntu 22.04.5 LTS" },
  kernelRelease: "5.15.0-1079-azure",
  machine: "x86_64"
}

const ether = (name: string, extra: Partial<IpLink> = {}): IpLink => ({
  name,
  flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
  state: "UP",
  linkType: "ether",
  otherNamespace: false,
  ...extra
})

/** An AKS node with Azure CNI: eth0, a pod's veth, Calico's VXLAN device; nothing of Lustre yet. */
export const freshNode = (host: HostFacts = ubuntuJammy): ModelHost => ({
  host,
  available: new Map([
    ["amlfs-lustre-client-2.15.7-33-g79ddf99", [host.kernelRelease]],
    ["amlfs-lustre-client-2.16.1-14-gbc76088", [host.kernelRelease]]
  ]),
  packages: [],
  modules: new Map(),
  lustreModuleVersion: undefined,
  lnetConfigured: false,
  nis: [],
  links: [
    ether("eth0"),
    ether("azv1a2b3c4d5e6", { otherNamespace: true }),
    ether("vxlan.calico", { state: "UNKNOWN" })
  ],
  routeDevices: ["azv1a2b3c4d5e6", "eth0", "vxlan.calico"],
  addresses: new Map([["eth0", "10.224.0.4"]]),
  repository: undefined,
  clientsConflict: true,
  dpkgInterrupted: false
})

const DPKG_INTERRUPTED = "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."

const CLIENT_MODULES = ["lustre", "mgc", "lnet", "ksocklnd", "libcfs", "obdclass", "ptlrpc", "osc", "mdc", "lov", "lmv", "fid", "fld"]

/** Runs one modelled command: records it, then changes the model or fails as the tool would. */
export interface ModelRunner {
  readonly run: <A>(
    argv: ReadonlyArray<string>,
    act: (host: ModelHost) => { readonly host?: ModelHost; readonly result?: A; readonly output?: string; readonly failure?: string }
  ) => Effect.Effect<A, LustreClientFailed>
}

/** A runner over a Ref: `before` may fail or hang a command first (the fake's scripts, the simulation's faults). */
export const modelRunner = (
  state: Ref.Ref<ModelHost>,
  before: (argv: ReadonlyArray<string>) => Effect.Effect<void, LustreClientFailed>
): ModelRunner => ({
  run: <A>(
    argv: ReadonlyArray<string>,
    act: (host: ModelHost) => { readonly host?: ModelHost; readonly result?: A; readonly output?: string; readonly failure?: string }
  ) =>
    Effect.gen(function*() {
      yield* before(argv)
      const outcome = yield* Ref.modify(state, (host) => {
        const done = act(host)
        return [done, done.failure === undefined && done.host !== undefined ? done.host : host] as const
      })
      const operation = commandText(argv)
      if (outcome.failure !== undefined) {
        return yield* new LustreClientFailed({
          operation,
          message: `${operation}: ${outcome.failure.split("\n").at(-1)}`,
          output: outcome.output ?? outcome.failure,
          notInstalled: false
        })
      }
      return outcome.result as A
    })
})

const installedClientOf = (host: ModelHost) =>
  host.packages.find((found) => found.state === "installed" && isLustreClientPackage(found.name) && found.version === host.host.kernelRelease)

/** The LustreClient of a modelled node. */
export const modelLustreClient = (state: Ref.Ref<ModelHost>, runner: ModelRunner): LustreClient["Service"] => {
  const run = runner.run
  const nisOf = (host: ModelHost): ReadonlyArray<LocalNi> => [{ nid: "0@lo", status: "up", interfaces: [] }, ...host.nis]
  return LustreClient.of({
    host: Effect.map(Ref.get(state), (host) => host.host),
    installedClientPackages: Effect.map(Ref.get(state), (host) => host.packages.filter((found) => isLustreClientPackage(found.name))),
    loadedModules: Effect.map(Ref.get(state), (host) => ({
      names: new Set(host.modules.keys()),
      useCounts: host.modules,
      lustreVersion: host.modules.has("lustre") ? host.lustreModuleVersion : undefined
    })),
    addRepository: (repository) =>
      Ref.modify(state, (host) => {
        const changed = host.repository?.sourceLine !== repository.sourceLine
        return [changed, { ...host, repository }] as const
      }),
    updatePackageLists: run(hostCommands.updatePackageLists, () => ({ result: { stdout: "Reading package lists...\n", stderr: "" } })),
    installPackage: (name, version) =>
      run(hostCommands.installPackage(name, version), (host) => {
        if (host.dpkgInterrupted) return { failure: DPKG_INTERRUPTED }
        const versions = host.available.get(name)
        if (versions === undefined) return { failure: `E: Unable to locate package ${name}` }
        if (!versions.includes(version)) return { failure: `E: Version '${version}' for '${name}' was not found` }
        if (host.packages.some((found) => found.name === name && found.version === version && found.state === "installed")) {
          return { result: undefined }
        }
        const other = host.packages.find((found) => found.state === "installed" && isLustreClientPackage(found.name) && found.name !== name)
        if (other !== undefined && host.clientsConflict) {
          return {
            failure: `dpkg: error processing archive /var/cache/apt/archives/${name}_${version}_amd64.deb (--unpack):\n` +
              ` trying to overwrite '/usr/sbin/lctl', which is also in package ${other.name} ${other.version}\n` +
              "E: Sub-process /usr/bin/dpkg returned an error code (1)"
          }
        }
        return { host: { ...host, packages: [...host.packages.filter((found) => found.name !== name), { name, version, state: "installed" }] } }
      }),
    removePackages: (names) =>
      run(hostCommands.removePackages(names), (host) =>
        host.dpkgInterrupted
          ? { failure: DPKG_INTERRUPTED }
          : { host: { ...host, packages: host.packages.filter((found) => !names.includes(found.name)) } }),
    configurePendingPackages: run(hostCommands.configurePendingPackages, (host) => ({ host: { ...host, dpkgInterrupted: false } })),
    unloadModules: run(hostCommands.unloadModules, (host) => {
      if ((host.modules.get("lustre") ?? 0) > 0) return { failure: "rmmod: ERROR: Module lustre is in use" }
      const modules = new Map([...host.modules].filter(([name]) => !CLIENT_MODULES.includes(name)))
      return { host: { ...host, modules, lustreModuleVersion: undefined, lnetConfigured: false, nis: [] } }
    }),
    loadModule: (module, parameters) =>
      run(hostCommands.loadModule(module, parameters), (host) => {
        const client = installedClientOf(host)
        if (host.modules.has(module)) return { result: undefined }
        if (client === undefined) {
          return { failure: `modprobe: FATAL: Module ${module} not found in directory /lib/modules/${host.host.kernelRelease}` }
        }
        const version = parseClientPackageName(client.name)
        const modules = new Map(host.modules)
        for (const needed of module === "lustre" ? ["libcfs", "lnet", "lustre"] : module === "mgc" ? ["libcfs", "lnet", "mgc"] : ["libcfs", module]) {
          if (!modules.has(needed)) modules.set(needed, 0)
        }
        return {
          host: {
            ...host,
            modules,
            lustreModuleVersion: module === "lustre" && version !== undefined ? moduleVersionOf(version) : host.lustreModuleVersion
          }
        }
      }),
    configureLnet: run(hostCommands.configureLnet, (host) =>
      host.modules.has("lnet")
        ? { host: { ...host, lnetConfigured: true } }
        : { failure: "configure:\n    - lnet:\n          errno: -19\n          descr: \"LNet configure error: No such device\"" }),
    lnetNis: run(hostCommands.lnetNis, (host) =>
      host.lnetConfigured
        ? { result: nisOf(host) }
        : { failure: "show:\n    - net:\n          errno: -100\n          descr: \"cannot get networks: Network is down\"" }),
    addTcpInterface: (networkInterface) =>
      run(hostCommands.addTcpInterface(networkInterface), (host) => {
        if (!host.lnetConfigured) return { failure: "add:\n    - net:\n          errno: -100\n          descr: \"cannot add network: Network is down\"" }
        const tcp = host.nis.find((ni) => ni.nid.endsWith("@tcp"))
        const nis = tcp === undefined
          ? [...host.nis, { nid: `${host.addresses.get(networkInterface) ?? "10.0.0.4"}@tcp`, status: "up", interfaces: [networkInterface] }]
          : host.nis.map((ni) => (ni === tcp ? { ...ni, interfaces: [...ni.interfaces, networkInterface] } : ni))
        return { host: { ...host, nis } }
      }),
    deleteTcpNet: run(hostCommands.deleteTcpNet, (host) => ({ host: { ...host, nis: host.nis.filter((ni) => !ni.nid.endsWith("@tcp")) } })),
    networkInterfaces: Effect.gen(function*() {
      yield* run(hostCommands.links, () => ({}))
      yield* run(hostCommands.routes, () => ({}))
      const host = yield* Ref.get(state)
      return { links: host.links, routeDevices: host.routeDevices }
    })
  })
}
