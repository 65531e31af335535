import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { classifyAptFailure, repositoryFetchFailures } from "../../../layers/lustreClient/aptOutput.js"
import {
  clientPackageName,
  compareClientVersions,
  debianArchitectureOf,
  isModuleOf,
  moduleVersionOf,
  parseClientPackageName
} from "../../../layers/lustreClient/clientPackage.js"
import { isInstalled, parseDpkgStatus } from "../../../layers/lustreClient/dpkgStatus.js"
import { parseOsRelease } from "../../../layers/lustreClient/hostRelease.js"
import { chooseLnetInterfaces, type IpLink, parseIpLinks, parseRouteDevices } from "../../../layers/lustreClient/ipOutput.js"
import { lustreInUse, parseModuleUse } from "../../../layers/lustreClient/procModules.js"

const fixture = (name: string) => Fs.readFileSync(Path.resolve(import.meta.dirname, "../../fixtures/lustreClient", name), "utf8")
const lnetFixture = (name: string) => Fs.readFileSync(Path.resolve(import.meta.dirname, "../../fixtures/lnet", name), "utf8")

const choose = (links: string, routes: string) => chooseLnetInterfaces(parseIpLinks(fixture(links)), parseRouteDevices(fixture(routes)))

describe("ip -o link show / ip route show: the interfaces LNet gets (fixtures)", () => {
  it("an AKS-like node: eth0; a pod's veth, Calico's VXLAN, an empty bridge and a tunnel left out, each saying why", () => {
    assert.deepStrictEqual(choose("ip-link-aks-like.txt", "ip-route-aks-like.txt"), [
      { name: "azv1a2b3c4d5e6", included: false, why: "in another network namespace" },
      { name: "cbr0", included: false, why: "state UNKNOWN" },
      { name: "eth0", included: true },
      { name: "tun0", included: false, why: "not ethernet" },
      { name: "vxlan.calico", included: false, why: "state UNKNOWN" }
    ])
  })

  it("this development machine: eth0", () => {
    assert.deepStrictEqual(choose("ip-link-dev-machine.txt", "ip-route-dev-machine.txt"), [{ name: "eth0", included: true }])
  })

  it("accelerated networking (derived): the VF enslaved to eth0 is left out", () => {
    assert.deepStrictEqual(choose("ip-link-accelerated-networking.derived.txt", "ip-route-accelerated-networking.derived.txt"), [
      { name: "enP30832s1", included: false, why: "bonded slave" },
      { name: "eth0", included: true }
    ])
  })

  it("reads names without their @peer, flags, state, link type and the peer's namespace", () => {
    const links = parseIpLinks(fixture("ip-link-aks-like.txt"))
    assert.deepStrictEqual(links.map((link) => link.name), ["lo", "eth0-peer", "eth0", "azv1a2b3c4d5e6", "vxlan.calico", "tun0", "cbr0"])
    assert.deepStrictEqual(links.find((link) => link.name === "azv1a2b3c4d5e6"), {
      name: "azv1a2b3c4d5e6",
      flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
      state: "UP",
      linkType: "ether",
      otherNamespace: true
    })
    assert.deepStrictEqual(links.find((link) => link.name === "tun0")?.linkType, "none")
  })

  it("a route device ip link does not list (gone in between) is left out", () => {
    assert.deepStrictEqual(chooseLnetInterfaces([], ["eth9"]), [{ name: "eth9", included: false, why: "not listed by ip link" }])
  })
})

// Interfaces as iproute2 prints them, one `ip -o link show` line each.
const Name = Schema.Literals(["eth0", "eth1", "enP30832s1", "azv0a1b2c3d4e5", "vxlan.calico", "cbr0", "tun0", "bond0"])
const Link = Schema.Struct({
  name: Name,
  slave: Schema.Boolean,
  state: Schema.Literals(["UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN"]),
  linkType: Schema.Literals(["ether", "none", "loopback", "ipip"]),
  netns: Schema.Literals(["", "link-netnsid 0", "link-netns cni-1234"]),
  peer: Schema.Literals(["", "@if4", "@eth0-peer"])
})
type GeneratedLink = typeof Link.Type

const ipLine = (index: number, link: GeneratedLink) =>
  `${index + 1}: ${link.name}${link.peer}: <BROADCAST,MULTICAST${link.slave ? ",SLAVE" : ""},UP,LOWER_UP> mtu 1500 qdisc mq ` +
  `${link.slave ? "master eth0 " : ""}state ${link.state} mode DEFAULT group default qlen 1000\\    link/${link.linkType} ` +
  `02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff${link.netns === "" ? "" : ` ${link.netns}`}`

/** The last line of each name wins, as a map would keep it. */
const uniqueByName = (links: ReadonlyArray<GeneratedLink>) => [...new Map(links.map((link) => [link.name, link])).values()]

describe("interface selection (properties)", () => {
  it.prop("an interface is chosen exactly when the Go driver's rule keeps it; the routes' order is sorted, each once", [
    Schema.Array(Link),
    Schema.Array(Name)
  ], ([generated, routed]) => {
    const links = uniqueByName(generated)
    const text = links.map((link, index) => ipLine(index, link)).join("\n")
    const routes = routed.map((name, index) => `10.${index}.0.0/24 dev ${name} proto kernel scope link src 10.${index}.0.1 `).join("\n")
    const choices = chooseLnetInterfaces(parseIpLinks(text), parseRouteDevices(routes))
    assert.deepStrictEqual(choices.map((choice) => choice.name), [...new Set(routed)].sort())
    for (const choice of choices) {
      const link = links.find((candidate) => candidate.name === choice.name)
      const kept = link !== undefined && !link.slave && link.netns === "" && link.state !== "UNKNOWN" && link.linkType === "ether"
      assert.strictEqual(choice.included, kept, choice.name)
    }
  })

  it.prop("parsing a printed line gives the interface back", [Link], ([link]) => {
    const [parsed] = parseIpLinks(ipLine(0, link))
    assert.deepStrictEqual(parsed, {
      name: link.name,
      flags: ["BROADCAST", "MULTICAST", ...(link.slave ? ["SLAVE"] : []), "UP", "LOWER_UP"],
      state: link.state,
      linkType: link.linkType,
      otherNamespace: link.netns !== ""
    } satisfies IpLink)
  })
})

describe("package names and versions", () => {
  const Digits = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 40 }))
  const Version = Schema.Struct({
    parts: Schema.Tuple([Digits, Digits, Digits]),
    commits: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 999 })),
    hash: Schema.String.check(Schema.isPattern(/^[0-9a-f]{7}$/))
  })
  const clientVersion = (v: typeof Version.Type) => ({ lustreVersion: v.parts.join("."), shaSuffix: `${v.commits}-g${v.hash}` })

  it("the Go driver's pins", () => {
    assert.strictEqual(clientPackageName({ lustreVersion: "2.15.7", shaSuffix: "33-g79ddf99" }), "amlfs-lustre-client-2.15.7-33-g79ddf99")
    assert.strictEqual(moduleVersionOf({ lustreVersion: "2.16.1", shaSuffix: "14-gbc76088" }), "2.16.1_14_gbc76088")
    assert.strictEqual(parseClientPackageName("amlfs-lustre-client-utils"), undefined)
    assert.strictEqual(parseClientPackageName("lustre-client-modules-5.15.0"), undefined)
    assert.deepStrictEqual([debianArchitectureOf("x86_64"), debianArchitectureOf("aarch64"), debianArchitectureOf("riscv64")], ["amd64", "arm64", undefined])
  })

  it.prop("a package name gives its version back; the module's spelling matches it and no other", [Version, Version], ([a, b]) => {
    const version = clientVersion(a)
    assert.deepStrictEqual(parseClientPackageName(clientPackageName(version)), version)
    assert.isTrue(isModuleOf(moduleVersionOf(version), version))
    assert.isTrue(isModuleOf(`${moduleVersionOf(version)}\n`, version))
    const other = clientVersion(b)
    assert.strictEqual(isModuleOf(moduleVersionOf(other), version), compareClientVersions(other, version) === 0)
  })

  it.prop("versions are ordered: by Lustre version number by number, then by commits; a total order", [Version, Version, Version], ([a, b, c]) => {
    const [x, y, z] = [clientVersion(a), clientVersion(b), clientVersion(c)]
    assert.strictEqual(compareClientVersions(x, x), 0)
    assert.strictEqual(compareClientVersions(x, y), -compareClientVersions(y, x))
    if (compareClientVersions(x, y) <= 0 && compareClientVersions(y, z) <= 0) assert.isAtMost(compareClientVersions(x, z), 0)
    const byNumbers = a.parts.map((n, i) => n - (b.parts[i] ?? 0)).find((d) => d !== 0) ?? a.commits - b.commits
    if (byNumbers !== 0) assert.strictEqual(compareClientVersions(x, y), Math.sign(byNumbers))
  })

  it("2.15.10 is newer than 2.15.9 (numbers, not text)", () => {
    assert.strictEqual(compareClientVersions({ lustreVersion: "2.15.10", shaSuffix: "1-gaaaaaaa" }, { lustreVersion: "2.15.9", shaSuffix: "90-gbbbbbbb" }), 1)
  })
})

describe("/var/lib/dpkg/status", () => {
  const Package = Schema.Struct({
    name: Schema.Literals(["amlfs-lustre-client-2.15.7-33-g79ddf99", "amlfs-lustre-client-2.15.5-10-gabcdef0", "lustre-client-utils", "apt", "libc6"]),
    version: Schema.Literals(["5.15.0-1079-azure", "6.8.0-1021-azure", "2.6.1", "1:2.36-9+deb12u10"]),
    state: Schema.Literals(["installed", "config-files", "not-installed", "half-configured"]),
    description: Schema.Literals(["one line", "two\n lines", "with\n .\n a paragraph"])
  })

  it.prop("every stanza's package, version and state, whatever the other fields", [Schema.Array(Package)], ([packages]) => {
    const text = packages.map((p) =>
      `Package: ${p.name}\nStatus: ${p.state === "not-installed" ? "install ok" : "install ok"} ${p.state}\nPriority: optional\n` +
      `Architecture: amd64\nVersion: ${p.version}\nDescription: ${p.description}\n`
    ).join("\n")
    assert.deepStrictEqual(parseDpkgStatus(text), packages.map((p) => ({ name: p.name, version: p.version, state: p.state })))
    for (const p of packages) {
      const installed = packages.some((q) => q.name === p.name && q.version === p.version && q.state === "installed")
      assert.strictEqual(isInstalled(parseDpkgStatus(text), p.name, p.version), installed)
    }
  })
})

describe("/etc/os-release (fixtures)", () => {
  it.each([
    ["os-release-ubuntu-22.04.txt", { id: "ubuntu", versionId: "22.04", codename: "jammy", prettyName: "Ubuntu 22.04.5 LTS" }],
    ["os-release-ubuntu-24.04.txt", { id: "ubuntu", versionId: "24.04", codename: "noble", prettyName: "Ubuntu 24.04.2 LTS" }],
    ["os-release-azurelinux-3.0.txt", { id: "azurelinux", versionId: "3.0", codename: "", prettyName: "Microsoft Azure Linux 3.0" }],
    ["os-release-debian-12.txt", { id: "debian", versionId: "12", codename: "bookworm", prettyName: "Debian GNU/Linux 12 (bookworm)" }]
  ])("%s", (file, release) => {
    assert.deepStrictEqual(parseOsRelease(fixture(file)), release)
  })

  it("quotes and escapes as os-release(5) writes them; UBUNTU_CODENAME when VERSION_CODENAME is missing", () => {
    assert.deepStrictEqual(parseOsRelease("ID='ubuntu'\nPRETTY_NAME=\"Ubuntu \\\"LTS\\\"\"\nUBUNTU_CODENAME=focal\n# comment\n"), {
      id: "ubuntu",
      versionId: "",
      codename: "focal",
      prettyName: "Ubuntu \"LTS\""
    })
  })
})

describe("apt-get's failures (fixtures captured from apt 2.6 in a chroot)", () => {
  it("no version for the kernel, no such package, a file another client owns, the repository unreachable, an interrupted dpkg", () => {
    assert.deepStrictEqual(classifyAptFailure(fixture("apt-get-install-no-version.stderr.txt")), {
      _tag: "NoVersion",
      detail: "E: Version '5.15.0-1080-azure' for 'amlfs-lustre-client-2.15.7-33-g79ddf99' was not found"
    })
    assert.deepStrictEqual(classifyAptFailure(fixture("apt-get-install-no-package.stderr.txt")), {
      _tag: "NoPackage",
      detail: "E: Unable to locate package amlfs-lustre-client-2.16.1-14-gbc76088"
    })
    const conflict = classifyAptFailure(fixture("apt-get-install-file-conflict.stderr.txt"))
    assert.strictEqual(conflict._tag, "Other")
    assert.include(conflict.detail, "trying to overwrite '/lib/modules/5.15.0-1079-azure/updates/lustre.ko', which is also in package amlfs-lustre-client-2.15.5-10-gabcdef0")
    assert.notInclude(conflict.detail, "Can not write log")
    const update = `${fixture("apt-get-update-unreachable.stdout.txt")}${fixture("apt-get-update-unreachable.stderr.txt")}`
    assert.strictEqual(classifyAptFailure(update)._tag, "Unreachable")
    assert.strictEqual(classifyAptFailure("E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (unattended-upgr)")._tag, "Busy")
    assert.deepStrictEqual(classifyAptFailure(fixture("apt-get-install-dpkg-interrupted.stderr.txt")), {
      _tag: "Interrupted",
      detail: "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."
    })
  })

  it("apt-get update's fetch failures of one repository, not the others'", () => {
    const update = `${fixture("apt-get-update-unreachable.stdout.txt")}${fixture("apt-get-update-unreachable.stderr.txt")}`
    assert.deepStrictEqual(repositoryFetchFailures(update, "http://packages.microsoft.com/repos/amlfs-jammy/"), [
      "Err:4 http://packages.microsoft.com/repos/amlfs-jammy jammy InRelease: Could not resolve 'packages.microsoft.com'",
      "W: Failed to fetch http://packages.microsoft.com/repos/amlfs-jammy/dists/jammy/InRelease  Could not resolve 'packages.microsoft.com'"
    ])
    assert.deepStrictEqual(repositoryFetchFailures(update, "http://packages.microsoft.com/repos/amlfs-noble/"), [])
    assert.deepStrictEqual(repositoryFetchFailures(fixture("apt-get-update-unreachable.stdout.txt").replace(/Err:[^\n]*\n[^\n]*\n/, ""), "file:/srv/amlfs"), [])
  })
})

describe("/proc/modules use counts", () => {
  it("the Lustre client's modules (fixture): loaded, lustre not in use; in use once a filesystem is mounted", () => {
    const modules = parseModuleUse(lnetFixture("proc-modules-lustre-client.txt"))
    assert.isTrue(modules.names.has("lnet") && modules.names.has("lustre"))
    assert.strictEqual(modules.useCounts.get("lnet"), 6)
    assert.isFalse(lustreInUse(modules))
    assert.isTrue(lustreInUse(parseModuleUse(lnetFixture("proc-modules-lustre-client.txt").replace(/^lustre (\d+) 0 /m, "lustre $1 2 "))))
  })
})
