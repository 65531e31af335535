import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { SimulationFaults } from "../simulation/SimulationFaults.js"
import type { InstalledPackage } from "./dpkgStatus.js"
import { commandText } from "./hostCommands.js"
import { LustreClient, LustreClientFailed } from "./LustreClient.js"
import { freshNode, type ModelHost, modelLustreClient, modelRunner } from "./modelHost.js"

/** The simulated node's interface, as LnetProbeSimulation names it (192.0.2.0/24 is never routed). */
const SIMULATED_INTERFACE = "sim0"

const simulatedNode = (packages: ReadonlyArray<InstalledPackage>): ModelHost => {
  const node = freshNode()
  return {
    ...node,
    packages,
    links: node.links.map((link) => (link.name === "eth0" ? { ...link, name: SIMULATED_INTERFACE } : link)),
    routeDevices: ["azv1a2b3c4d5e6", SIMULATED_INTERFACE, "vxlan.calico"],
    addresses: new Map([[SIMULATED_INTERFACE, "192.0.2.10"]])
  }
}

const failure = (argv: ReadonlyArray<string>, output: string) =>
  new LustreClientFailed({
    operation: commandText(argv),
    message: `${commandText(argv)}: exit status 100: ${output.split("\n").at(-1) ?? ""}`,
    output,
    notInstalled: false
  })

/**
 * The node setup in `azurelustre-csi sim`: an Ubuntu 22.04 node (kernel 5.15.0-1079-azure) whose
 * AMLFS repository offers the jammy and noble clients for its kernel. What dpkg installed is kept
 * in `<state-dir>/host/dpkg-status.json`, so a restarted simulation finds the client installed
 * (and installs nothing); modules and LNet start unloaded, as after a reboot. Fault files, read at
 * every command:
 *
 *   lustre-client-install-fails         apt-get install fails as dpkg does (the text, if any, is its error)
 *   lustre-client-no-package            the repository has no client package for the kernel
 *   lustre-client-repository-unreachable apt-get update cannot fetch the AMLFS repository
 *   lustre-client-dpkg-interrupted      dpkg is left interrupted (a cut install) once: apt-get refuses until `dpkg --configure -a`
 */
export const LustreClientSimulation = {
  layer: (stateDir: string) =>
    Layer.effect(
      LustreClient,
      Effect.gen(function*() {
        const faults = yield* SimulationFaults
        const statusFile = Path.join(stateDir, "host", "dpkg-status.json")
        const saved = yield* Effect.promise(() =>
          Fs.readFile(statusFile, "utf8").then((text) => JSON.parse(text) as ReadonlyArray<InstalledPackage>, () => [])
        )
        const node = yield* Ref.make(simulatedNode(saved))
        const switchedOn = (fault: string) => faults.read(fault)
        let interruptedOnce = false
        const before = (argv: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            if (argv[0] !== "apt-get" || argv[1] !== "install") return
            if (!interruptedOnce && Option.isSome(yield* switchedOn("lustre-client-dpkg-interrupted"))) {
              interruptedOnce = true
              yield* Ref.update(node, (host) => ({ ...host, dpkgInterrupted: true }))
            }
            const wanted = argv.at(-1) ?? ""
            const [name, version] = wanted.split("=")
            if (Option.isSome(yield* switchedOn("lustre-client-no-package"))) {
              return yield* failure(argv, `E: Version '${version}' for '${name}' was not found`)
            }
            const fails = yield* switchedOn("lustre-client-install-fails")
            if (Option.isSome(fails)) {
              return yield* failure(
                argv,
                fails.value === ""
                  ? `dpkg: error processing archive /var/cache/apt/archives/${name}_${version}_amd64.deb (--unpack):\n` +
                    " unable to make backup link of './usr/sbin/lctl' before installing new version: Input/output error (simulated)\n" +
                    "E: Sub-process /usr/bin/dpkg returned an error code (1)"
                  : fails.value
              )
            }
          })
        const save = Effect.flatMap(Ref.get(node), (host) =>
          Effect.promise(async () => {
            await Fs.mkdir(Path.dirname(statusFile), { recursive: true })
            await Fs.writeFile(statusFile, JSON.stringify(host.packages))
          }))
        const model = modelLustreClient(node, modelRunner(node, before))
        return LustreClient.of({
          ...model,
          installPackage: (name, version) => Effect.andThen(model.installPackage(name, version), save),
          removePackages: (names) => Effect.andThen(model.removePackages(names), save),
          updatePackageLists: Effect.gen(function*() {
            const output = yield* model.updatePackageLists
            const repository = (yield* Ref.get(node)).repository
            if (Option.isNone(yield* switchedOn("lustre-client-repository-unreachable")) || repository === undefined) return output
            const host = new URL(repository.url).host
            return {
              stdout: `${output.stdout}Err:1 ${repository.url.replace(/\/$/, "")} jammy InRelease\n  Could not resolve '${host}' (simulated)\n`,
              stderr: `W: Failed to fetch ${repository.url}dists/jammy/InRelease  Could not resolve '${host}' (simulated)\n` +
                "W: Some index files failed to download. They have been ignored, or old ones used instead.\n"
            }
          })
        })
      })
    )
} as const
