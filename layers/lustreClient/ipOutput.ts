/**
 * What `ip -o link show` and `ip route show` (iproute2) print, and which interfaces LNet's tcp
 * network gets: the Go driver's rule (pkg/azurelustreplugin/entrypoint.sh, `add_net_interfaces`).
 * Samples of real output, and where each comes from, are in test/fixtures/lustreClient/.
 *
 *   ip -o link show, one interface a line (`\` stands for the line breaks of the long form):
 *     4: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc pfifo_fast state UP mode DEFAULT
 *        group default qlen 1000\    link/ether 02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff
 *     7: azv3f2@if2: <...> ... state UP ...\    link/ether ... link-netnsid 0
 *   ip route show, one route a line, the interface after `dev`:
 *     default via 10.224.0.1 dev eth0 proto dhcp src 10.224.0.4 metric 100
 */
export interface IpLink {
  readonly name: string
  /** The flags between `<` and `>`: BROADCAST, UP, SLAVE, ... */
  readonly flags: ReadonlyArray<string>
  /** `state`: UP, DOWN, UNKNOWN, ... (undefined when not printed). */
  readonly state: string | undefined
  /** What follows `link/`: ether, loopback, none, ... */
  readonly linkType: string | undefined
  /** The peer is in another network namespace (`link-netns <name>` or `link-netnsid <id>`). */
  readonly otherNamespace: boolean
}

const LINK_LINE = /^\d+:\s+([^\s:@]+)(?:@\S*)?:\s+<([^>]*)>(.*)$/

/** The interfaces `ip -o link show` lists; lines that are not an interface are skipped. */
export const parseIpLinks = (text: string): ReadonlyArray<IpLink> =>
  text.split("\n").flatMap((line) => {
    const [, name, flags = "", tail = ""] = LINK_LINE.exec(line.trim()) ?? []
    if (name === undefined) return []
    const rest = tail.split(/[\s\\]+/).filter((word) => word !== "")
    const after = (word: string) => {
      const at = rest.indexOf(word)
      return at < 0 ? undefined : rest[at + 1]
    }
    const linkWord = rest.find((word) => word.startsWith("link/"))
    return [{
      name,
      flags: flags.split(",").filter((flag) => flag !== ""),
      state: after("state"),
      linkType: linkWord?.slice("link/".length),
      otherNamespace: rest.some((word) => word === "link-netns" || word === "link-netnsid")
    }]
  })

/**
 * The interfaces routes go through, each once, sorted (the Go driver's
 * `ip route show | sed -n 's/.*\s\+dev\s\+\([^ ]\+\).*\/\1/p' | sort -u`; multipath `nexthop` lines count too).
 */
export const parseRouteDevices = (text: string): ReadonlyArray<string> =>
  [...new Set(text.split("\n").flatMap((line) => {
    const device = /.*\sdev\s+(\S+)/.exec(` ${line}`)?.[1]
    return device === undefined ? [] : [device]
  }))].sort()

/** Why an interface of the routing table is left out of LNet's tcp network. */
export type LeftOut =
  | "bonded slave"
  | "in another network namespace"
  | "state UNKNOWN"
  | "not ethernet"
  | "not listed by ip link"

export type InterfaceChoice =
  | { readonly name: string; readonly included: true }
  | { readonly name: string; readonly included: false; readonly why: LeftOut }

const leftOutBecause = (link: IpLink | undefined): LeftOut | undefined => {
  if (link === undefined) return "not listed by ip link"
  if (link.flags.includes("SLAVE")) return "bonded slave"
  if (link.otherNamespace) return "in another network namespace"
  if (link.state === "UNKNOWN") return "state UNKNOWN"
  if (link.linkType !== "ether") return "not ethernet"
  return undefined
}

/**
 * Every ethernet interface of the routing table, as the Go driver chooses them, in its order:
 * a bonded slave (SLAVE: its master carries the traffic; on Azure, the accelerated-networking VF
 * under eth0), an interface whose peer is in another network namespace (a pod's veth), and one
 * in state UNKNOWN (tunnels, VXLAN, dummies) are left out; of the rest, those with `link/ether`.
 */
export const chooseLnetInterfaces = (
  links: ReadonlyArray<IpLink>,
  routeDevices: ReadonlyArray<string>
): ReadonlyArray<InterfaceChoice> => {
  const byName = new Map(links.map((link) => [link.name, link]))
  return routeDevices.map((name): InterfaceChoice => {
    const why = leftOutBecause(byName.get(name))
    return why === undefined ? { name, included: true } : { name, included: false, why }
  })
}

/** The names chosen. */
export const includedInterfaces = (choices: ReadonlyArray<InterfaceChoice>): ReadonlyArray<string> =>
  choices.flatMap((choice) => (choice.included ? [choice.name] : []))
