/** Reading parsed Kubernetes objects in tests: each accessor fails loudly on a shape it did not expect. */
import type { Value } from "./goTemplate.js"
import type { KubeObject } from "./deployFiles.js"

export const isMap = (value: Value | undefined): value is KubeObject =>
  value !== undefined && value !== null && typeof value === "object" && !Array.isArray(value)

export const map = (value: Value | undefined, what: string): KubeObject => {
  if (!isMap(value)) throw new Error(`${what}: expected a map, got ${JSON.stringify(value)}`)
  return value
}

export const list = (value: Value | undefined, what: string): ReadonlyArray<Value> => {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${JSON.stringify(value)}`)
  return value
}

export const text = (value: Value | undefined, what: string): string => {
  if (typeof value !== "string") throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`)
  return value
}

export const maps = (value: Value | undefined, what: string): ReadonlyArray<KubeObject> =>
  list(value, what).map((item, index) => map(item, `${what}[${index}]`))

export const texts = (value: Value | undefined, what: string): ReadonlyArray<string> =>
  list(value, what).map((item, index) => text(item, `${what}[${index}]`))

/** The value at a dotted path, or undefined where the path ends early. */
export const at = (value: Value | undefined, path: string): Value | undefined => {
  let current = value
  for (const key of path.split(".")) {
    if (!isMap(current)) return undefined
    current = current[key]
  }
  return current
}

export const kindOf = (object: KubeObject): string => text(object["kind"], "kind")
export const nameOf = (object: KubeObject): string => text(at(object, "metadata.name"), "metadata.name")
export const namespaceOf = (object: KubeObject): string | undefined => {
  const namespace = at(object, "metadata.namespace")
  return namespace === undefined ? undefined : text(namespace, "metadata.namespace")
}

/** A stable identity for comparing sets of objects. */
export const keyOf = (object: KubeObject): string => `${kindOf(object)}/${namespaceOf(object) ?? ""}/${nameOf(object)}`

export const only = (objects: ReadonlyArray<KubeObject>, kind: string, name?: string): KubeObject => {
  const found = objects.filter((object) => kindOf(object) === kind && (name === undefined || nameOf(object) === name))
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? "" : ` ${name}`}, found ${found.length}`)
  return found[0]!
}

export const ofKind = (objects: ReadonlyArray<KubeObject>, kind: string): ReadonlyArray<KubeObject> =>
  objects.filter((object) => kindOf(object) === kind)

/** The pod spec of a Pod, Deployment or DaemonSet. */
export const podSpecOf = (object: KubeObject): KubeObject =>
  kindOf(object) === "Pod" ? map(object["spec"], "spec") : map(at(object, "spec.template.spec"), "spec.template.spec")

export const containersOf = (object: KubeObject): ReadonlyArray<KubeObject> => {
  const spec = podSpecOf(object)
  return [...maps(spec["initContainers"] ?? [], "initContainers"), ...maps(spec["containers"], "containers")]
}

export const container = (object: KubeObject, name: string): KubeObject => {
  const found = containersOf(object).find((c) => c["name"] === name)
  if (found === undefined) throw new Error(`${nameOf(object)} has no container ${name}`)
  return found
}

export const argsOf = (c: KubeObject): ReadonlyArray<string> => texts(c["args"] ?? [], "args")

/** The value of `--name=value` (or true for a bare `--name`), undefined when absent. */
export const flag = (c: KubeObject, name: string): string | true | undefined => {
  for (const arg of argsOf(c)) {
    if (arg === `--${name}`) return true
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3)
  }
  return undefined
}

export const envOf = (c: KubeObject, name: string): KubeObject | undefined =>
  maps(c["env"] ?? [], "env").find((e) => e["name"] === name)

export const volumeMount = (c: KubeObject, volume: string): KubeObject => {
  const found = maps(c["volumeMounts"] ?? [], "volumeMounts").find((m) => m["name"] === volume)
  if (found === undefined) throw new Error(`container ${String(c["name"])} does not mount ${volume}`)
  return found
}

export const volume = (object: KubeObject, name: string): KubeObject => {
  const found = maps(podSpecOf(object)["volumes"] ?? [], "volumes").find((v) => v["name"] === name)
  if (found === undefined) throw new Error(`${nameOf(object)} has no volume ${name}`)
  return found
}

/** The container port a probe's httpGet names (by name or number). */
export const probePort = (c: KubeObject, probe: string): number => {
  const port = at(c, `${probe}.httpGet.port`)
  if (typeof port === "number") return port
  const named = maps(c["ports"] ?? [], "ports").find((p) => p["name"] === port)
  if (named === undefined) throw new Error(`${probe} names port ${JSON.stringify(port)}, which ${String(c["name"])} does not declare`)
  const number = named["containerPort"]
  if (typeof number !== "number") throw new Error("containerPort is not a number")
  return number
}

/** "16Ti" etc. in bytes (binary suffixes only, which is all the examples use). */
export const quantityBytes = (quantity: string): bigint => {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|Pi)?$/.exec(quantity)
  if (match === null) throw new Error(`unsupported quantity ${quantity}`)
  const power = { Ki: 1n, Mi: 2n, Gi: 3n, Ti: 4n, Pi: 5n }[match[2] as "Ki" | "Mi" | "Gi" | "Ti" | "Pi"] ?? 0n
  return BigInt(match[1]!) * 1024n ** power
}
