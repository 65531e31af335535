import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Result, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type CyamlMap, type CyamlValue, cyamlMap, cyamlSeq, formatCyaml, parseCyaml } from "../../layers/lnet/cyaml.js"
import { parseLctlPing, parseListNids } from "../../layers/lnet/lctlOutput.js"
import type { LocalNi } from "../../layers/lnet/LnetProbe.js"
import { parseLnetctlError, parseNetShow, parsePing } from "../../layers/lnet/lnetctlOutput.js"
import { interfaceCarries, OPERSTATES, parseAdministrativelyUp, parseOperstate } from "../../layers/lnet/netInterface.js"
import { ipAddressOf, isLoopbackNid, parseNid } from "../../layers/lnet/nid.js"
import { parseLoadedModules } from "../../layers/lnet/procModules.js"

const fixture = (name: string) => Fs.readFileSync(Path.join(import.meta.dirname, "..", "fixtures", "lnet", name), "utf8")

const success = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

describe("lnetctl net show", () => {
  it("reads tcp and o2ib NIs with their status and interfaces, loopback included", () => {
    assert.deepStrictEqual(success(parseNetShow(fixture("net-show-multi-net.yaml"))), [
      { nid: "0@lo", status: "up", interfaces: [] },
      { nid: "10.73.20.21@tcp", status: "up", interfaces: ["eth1", "eth2"] },
      { nid: "172.16.0.24@o2ib", status: "down", interfaces: ["ib0", "ib3"] },
      { nid: "172.16.0.28@o2ib", status: "up", interfaces: ["ib1", "ib4", "ib5"] }
    ])
  })

  it("reads an NI that names no interface (LNet configured without one)", () => {
    assert.deepStrictEqual(success(parseNetShow(fixture("net-show-no-interfaces.yaml"))), [
      { nid: "0@lo", status: "up", interfaces: [] },
      { nid: "192.168.234.2@tcp", status: "up", interfaces: [] }
    ])
  })

  it("reads -v output and ignores its statistics, tunables, empty `lnd tunables:` and quoted CPT", () => {
    assert.deepStrictEqual(success(parseNetShow(fixture("net-show-v-tcp.yaml"))), [
      { nid: "0@lo", status: "up", interfaces: [] },
      { nid: "10.73.20.11@tcp", status: "up", interfaces: ["eth1"] }
    ])
    assert.deepStrictEqual(success(parseNetShow(fixture("net-show-v-o2ib.yaml"))).map((ni) => [ni.nid, ni.interfaces]), [
      ["0@lo", []],
      ["172.16.0.24@o2ib", ["ib0"]],
      ["172.16.0.28@o2ib", ["ib1"]]
    ])
    assert.deepStrictEqual(success(parseNetShow(fixture("net-show-v-no-interfaces.yaml")))[1], {
      nid: "10.36.4.130@tcp",
      status: "up",
      interfaces: []
    })
  })

  it("keeps the verbose tree: the quotes lnetctl put around CPT go, the empty `lnd tunables:` is an empty map", () => {
    const document = success(parseCyaml(fixture("net-show-v-o2ib.yaml")))
    const net = document.entries[0]?.[1]
    assert.ok(typeof net === "object" && net._tag === "Seq")
    const o2ibNis = net.items[1]?.entries.find(([key]) => key === "local NI(s)")?.[1]
    assert.ok(typeof o2ibNis === "object" && o2ibNis._tag === "Seq")
    const ni = o2ibNis.items[0]
    assert.deepStrictEqual(ni?.entries.find(([key]) => key === "CPT"), ["CPT", "[0,1,2,3,4]"])
    assert.deepStrictEqual(ni?.entries.find(([key]) => key === "lnd tunables"), ["lnd tunables", cyamlMap([])])
    assert.deepStrictEqual(ni?.entries.find(([key]) => key === "health stats")?.[1], cyamlMap([
      ["fatal_error", "0"],
      ["health value", "1000"],
      ["interrupts", "0"],
      ["dropped", "0"],
      ["aborted", "0"],
      ["no route", "0"],
      ["timeouts", "0"],
      ["error", "0"]
    ]))
  })

  it("answers lnetctl's own error when LNet is down, and nothing for no output", () => {
    assert.deepStrictEqual(parseNetShow(fixture("net-show-network-down.stderr.yaml")), Result.fail("cannot get networks: Network is down"))
    assert.deepStrictEqual(parseLnetctlError(fixture("net-show-network-down.stderr.yaml")), {
      errno: -100,
      description: "cannot get networks: Network is down"
    })
    assert.deepStrictEqual(parseNetShow(""), Result.succeed([]))
  })

  it("refuses what is not lnetctl's YAML, saying where", () => {
    assert.deepStrictEqual(parseNetShow("net:\n    - nid 10.0.0.4@tcp\n"), Result.fail(
      "lnetctl net show printed what is not its YAML (line 2: \"nid 10.0.0.4@tcp\" is neither \"key: value\" nor \"key:\")"
    ))
    assert.deepStrictEqual(parseNetShow("net:\n        status: up\n    nid: x\n"), Result.fail(
      "lnetctl net show printed what is not its YAML (line 3: indented deeper than its block)"
    ))
    assert.deepStrictEqual(parseNetShow("    net:\n  nid: x\n"), Result.fail(
      "lnetctl net show printed what is not its YAML (line 2: indented less than the document)"
    ))
    assert.deepStrictEqual(parseNetShow("stats:\n    count: 1\n"), Result.fail("lnetctl net show printed no \"net\" list (keys: stats)"))
    assert.deepStrictEqual(
      parseNetShow("net:\n    - net type: tcp\n      local NI(s):\n        - status: up\n"),
      Result.fail("lnetctl net show printed a local NI without a nid")
    )
  })

  // NIs as lnetctl would list them, written out the way cYAML prints.
  const Address = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
  const Ni = Schema.Struct({
    address: Schema.Tuple([Address, Address, Address, Address]),
    status: Schema.Literals(["up", "down"]),
    interfaces: Schema.Array(Schema.Literals(["eth0", "eth1", "ib0", "enP12345s1", "br-ex", "bond0.57"])),
    verbose: Schema.Boolean
  })
  const Net = Schema.Struct({ type: Schema.Literals(["tcp", "tcp1", "o2ib"]), nis: Schema.Array(Ni) })

  it.prop("formatting NIs as lnetctl does and parsing them gives them back", [Schema.Array(Net)], ([nets]) => {
    const document = cyamlMap([["net", cyamlSeq([
      cyamlMap([["net type", "lo"], ["local NI(s)", cyamlSeq([cyamlMap([["nid", "0@lo"], ["status", "up"]])])]]),
      ...nets.map((net) =>
        cyamlMap([["net type", net.type], [
          "local NI(s)",
          cyamlSeq(net.nis.map((ni) =>
            cyamlMap([
              ["nid", `${ni.address.join(".")}@${net.type}`],
              ["status", ni.status],
              ...(ni.interfaces.length === 0 ? [] : [["interfaces", cyamlMap(ni.interfaces.map((name, index) => [String(index), name]))] as const]),
              ...(ni.verbose
                ? [["statistics", cyamlMap([["send_count", "3825"], ["drop_count", "30"]])] as const, ["CPT", "\"[0]\""] as const]
                : [])
            ])
          ))
        ]])
      )
    ])]])
    const expected: ReadonlyArray<LocalNi> = [
      { nid: "0@lo", status: "up", interfaces: [] },
      ...nets.flatMap((net) =>
        net.nis.map((ni) => ({ nid: `${ni.address.join(".")}@${net.type}`, status: ni.status, interfaces: ni.interfaces }))
      )
    ]
    assert.deepStrictEqual(parseNetShow(formatCyaml(document)), Result.succeed(expected))
  })
})

describe("cYAML", () => {
  const Key = Schema.Literals(["nid", "net type", "local NI(s)", "health value", "0", "CPT", "peer ni", "Multi-Rail", "descr"])
  const Scalar = Schema.Literals(["up", "10.0.0.4@tcp", "-100", "[0,1]", "failed to ping 10.0.0.4@tcp: Input/output error", "a\nb", "True"])
  type Tree = ReadonlyArray<readonly [string, CyamlValue]>
  const tree = (depth: number): Arbitrary.Arbitrary<Tree> => {
    const leaf = Arbitrary.all([Arbitrary.schema(Key), Arbitrary.schema(Scalar)])
    if (depth === 0) return Arbitrary.array(leaf, { maxLength: 4 })
    const map = Arbitrary.map(tree(depth - 1), (entries): CyamlValue => cyamlMap(entries))
    // An empty list prints as an empty map does, so lists here hold an item at least.
    const seq = Arbitrary.map(Arbitrary.array(tree(depth - 1), { minLength: 1, maxLength: 3 }), (items): CyamlValue =>
      cyamlSeq(items.map(cyamlMap)))
    const value = Arbitrary.flatMap(Arbitrary.schema(Schema.Literals(["leaf", "map", "seq"])), (kind) =>
      kind === "leaf" ? Arbitrary.schema(Scalar) : kind === "map" ? map : seq)
    return Arbitrary.array(Arbitrary.all([Arbitrary.schema(Key), value]), { maxLength: 4 })
  }

  it.prop("formatting a document as cYAML_print_tree does and parsing it gives it back", [tree(3)], ([entries]) => {
    const document: CyamlMap = cyamlMap(entries)
    assert.deepStrictEqual(parseCyaml(formatCyaml(document)), Result.succeed(document))
  })

  it("prints real lnetctl output back byte for byte (so the printer the properties use lays out as cYAML does)", () => {
    for (const name of ["net-show-multi-net.yaml", "net-show-no-interfaces.yaml", "ping.yaml"]) {
      assert.strictEqual(formatCyaml(success(parseCyaml(fixture(name)))), fixture(name), name)
    }
    // The verbose samples too, but for the quotes lnetctl put into CPT's value, which the parser drops.
    for (const name of ["net-show-v-tcp.yaml", "net-show-v-o2ib.yaml", "net-show-v-no-interfaces.yaml"]) {
      assert.strictEqual(formatCyaml(success(parseCyaml(fixture(name)))), fixture(name).replaceAll("\"", ""), name)
    }
  })

  it("reads the error block of a failed ping, whose description ends in a newline (a line of spaces)", () => {
    const text = fixture("ping-failure.stderr.yaml")
    assert.deepStrictEqual(parseCyaml(text), Result.succeed(cyamlMap([["manage", cyamlSeq([
      cyamlMap([["ping", cyamlMap([["errno", "-1"], ["descr", "failed to ping 10.0.0.5@tcp: Input/output error"]])]])
    ])]])))
    assert.deepStrictEqual(parseLnetctlError(text), { errno: -1, description: "failed to ping 10.0.0.5@tcp: Input/output error" })
  })
})

describe("lnetctl ping", () => {
  it("reads the reply: the primary NID and the NIDs it listed", () => {
    assert.deepStrictEqual(parsePing(fixture("ping.yaml")), Result.succeed({
      primaryNid: "192.168.234.10@tcp",
      peerNids: ["192.168.234.10@tcp"]
    }))
  })

  it("is not a reply when lnetctl printed its error block or nothing", () => {
    assert.deepStrictEqual(parsePing(fixture("ping-failure.stderr.yaml")), Result.fail("failed to ping 10.0.0.5@tcp: Input/output error"))
    assert.deepStrictEqual(parsePing(""), Result.fail("lnetctl ping printed no reply"))
  })
})

describe("lctl", () => {
  it("list_nids: one NID a line", () => {
    assert.deepStrictEqual(parseListNids(fixture("lctl-list-nids.txt")), ["10.106.9.50@tcp"])
    assert.deepStrictEqual(parseListNids(fixture("lctl-list-nids-network-down.stderr.txt")), [])
  })

  it("ping: the pid-nid lines of the reply", () => {
    assert.deepStrictEqual(parseLctlPing(fixture("lctl-ping.txt")), ["0@lo", "192.168.3.105@tcp", "192.168.3.109@tcp"])
    assert.deepStrictEqual(parseLctlPing("failed to ping 10.0.0.4@tcp: Input/output error\n"), [])
  })

  const Nid = Schema.Struct({
    address: Schema.Tuple([Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 })), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))]),
    net: Schema.Literals(["tcp", "tcp0", "o2ib1", "efa"])
  })
  it.prop("list_nids and ping give back the NIDs they list", [Schema.Array(Nid)], ([nids]) => {
    const texts = nids.map((nid) => `10.1.${nid.address.join(".")}@${nid.net}`)
    assert.deepStrictEqual(parseListNids(texts.map((nid) => `${nid}\n`).join("")), texts)
    assert.deepStrictEqual(parseLctlPing(texts.map((nid) => `12345-${nid}\n`).join("")), texts)
  })
})

describe("/proc/modules", () => {
  it("reads this Lustre client's modules, and the same table as lsmod prints it", () => {
    const fromProc = parseLoadedModules(fixture("proc-modules-lustre-client.txt"))
    assert.deepStrictEqual([...fromProc].sort(), ["libcfs", "lmv", "lnet", "lov", "lustre", "mdc", "obdclass", "ptlrpc"])
    assert.deepStrictEqual(parseLoadedModules(`Module                  Size  Used by\n${fixture("lsmod-lustre-client.txt")}`), fromProc)
  })

  it("reads a machine without Lustre, taint flags and [permanent] included", () => {
    const modules = parseLoadedModules(fixture("proc-modules-ubuntu.txt"))
    assert.deepStrictEqual([...modules], ["mei_pxp", "irqbypass", "nvidia", "vboxnetadp", "vboxdrv", "rpcsec_gss_krb5", "ipv6"])
    assert.isFalse(modules.has("lustre"))
  })

  const Module = Schema.Struct({
    name: Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9_]{0,15}$/)),
    size: Schema.Int.check(Schema.isBetween({ minimum: 4096, maximum: 99_999_999 })),
    users: Schema.Array(Schema.Literals(["lustre", "ptlrpc", "ksocklnd"])),
    state: Schema.Literals(["Live", "Loading", "Unloading"]),
    taint: Schema.Literals(["", " (OE)", " (PO)"])
  })
  it.prop("every module line's name is read, whatever its users, state and taint", [Schema.Array(Module)], ([modules]) => {
    const text = modules.map((module) =>
      `${module.name} ${module.size} ${module.users.length} ${module.users.length === 0 ? "-" : `${module.users.join(",")},`} ` +
      `${module.state} 0x0000000000000000${module.taint}\n`
    ).join("")
    assert.deepStrictEqual(parseLoadedModules(text), new Set(modules.map((module) => module.name)))
  })
})

describe("/sys/class/net", () => {
  it("reads operstate and IFF_UP from flags", () => {
    assert.strictEqual(parseOperstate("up\n"), "up")
    assert.strictEqual(parseOperstate("lowerlayerdown\n"), "lowerlayerdown")
    assert.strictEqual(parseOperstate("sideways\n"), undefined)
    assert.strictEqual(parseAdministrativelyUp("0x1003\n"), true)
    assert.strictEqual(parseAdministrativelyUp("0x1002\n"), false)
    assert.strictEqual(parseAdministrativelyUp("up\n"), undefined)
  })

  it.prop("an interface carries traffic when up, or unknown and not administratively down", [
    Schema.Literals(OPERSTATES),
    Schema.UndefinedOr(Schema.Boolean)
  ], ([operstate, administrativelyUp]) => {
    assert.strictEqual(
      interfaceCarries({ operstate, administrativelyUp }),
      operstate === "up" || (operstate === "unknown" && administrativelyUp !== false)
    )
  })
})

describe("NIDs", () => {
  it("parts, loopback and IP addresses", () => {
    assert.deepStrictEqual(parseNid("10.0.0.4@tcp0"), { address: "10.0.0.4", net: "tcp0", netType: "tcp" })
    assert.deepStrictEqual(parseNid("172.16.0.24@o2ib1"), { address: "172.16.0.24", net: "o2ib1", netType: "o2ib" })
    assert.isTrue(isLoopbackNid("0@lo"))
    assert.isFalse(isLoopbackNid("10.0.0.4@tcp"))
    assert.strictEqual(ipAddressOf("10.0.0.4@tcp"), "10.0.0.4")
    assert.strictEqual(ipAddressOf("2001:db8::1@tcp"), "2001:db8::1")
    assert.strictEqual(ipAddressOf("27@gni"), undefined)
    for (const bad of ["", "10.0.0.4", "@tcp", "10.0.0.4@", "10.0.0.4@TCP", "a b@tcp"]) assert.strictEqual(parseNid(bad), undefined)
  })

  const Octet = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
  it.prop("every IPv4 NID carries its address, on any net", [
    Schema.Tuple([Octet, Octet, Octet, Octet]),
    Schema.Literals(["tcp", "tcp0", "tcp12", "o2ib", "o2ib3"])
  ], ([octets, net]) => {
    const address = octets.join(".")
    assert.strictEqual(ipAddressOf(`${address}@${net}`), address)
    assert.isFalse(isLoopbackNid(`${address}@${net}`))
  })
})
