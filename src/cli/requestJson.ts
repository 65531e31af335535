import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"

/** A generated message's JSON side (ts-proto): `fromJSON` reads the fields it knows and ignores the rest. */
export interface JsonMessageCodec {
  readonly fromJSON: (json: unknown) => unknown
  readonly toJSON: (message: never) => unknown
}

/** The keys a message's `fromJSON` read from one JSON object; `listed` when it read them all (a map field). */
interface Reads {
  readonly keys: Set<string>
  listed: boolean
}

/**
 * `value`, with every object in it watched: which keys `fromJSON` reads from each is noted in
 * `reads`. The generated code has no field tables, but what it reads is exactly what it knows.
 */
const watched = (value: unknown, reads: WeakMap<object, Reads>, proxies: WeakMap<object, object>): unknown => {
  if (!Predicate.isObject(value)) return value
  const known = proxies.get(value)
  if (known !== undefined) return known
  const noted: Reads = { keys: new Set(), listed: false }
  reads.set(value, noted)
  const proxy = new Proxy(value, {
    get: (target, key, receiver) => {
      if (typeof key === "string") noted.keys.add(key)
      return watched(Reflect.get(target, key, receiver), reads, proxies)
    },
    ownKeys: (target) => {
      noted.listed = true
      return Reflect.ownKeys(target)
    }
  })
  proxies.set(value, proxy)
  return proxy
}

const fieldNames = (reads: Reads) => [...reads.keys].filter((key) => !key.includes("_")).sort()

/** Where in the JSON `fromJSON` passed over a key it does not know, with the keys known there. */
const unknownKeys = (json: unknown, path: string, reads: WeakMap<object, Reads>): ReadonlyArray<string> => {
  if (Array.isArray(json)) return json.flatMap((item, i) => unknownKeys(item, `${path}[${i}]`, reads))
  if (!Predicate.isObject(json)) return []
  const noted = reads.get(json)
  if (noted === undefined || noted.listed) return []
  return Object.keys(json).flatMap((key) => {
    const at = path === "" ? key : `${path}.${key}`
    return noted.keys.has(key)
      ? unknownKeys((json as Record<string, unknown>)[key], at, reads)
      : [`${at} (the fields there: ${fieldNames(noted).join(", ") || "none"})`]
  })
}

/** Enum values the message did not recognise: `toJSON` writes them as UNRECOGNIZED. */
const unrecognisedValues = (json: unknown, decoded: unknown, path: string): ReadonlyArray<string> => {
  if (decoded === "UNRECOGNIZED" && json !== "UNRECOGNIZED") return [`${path} ${JSON.stringify(json)}`]
  if (Array.isArray(decoded)) {
    return decoded.flatMap((item, i) => unrecognisedValues(Array.isArray(json) ? json[i] : undefined, item, `${path}[${i}]`))
  }
  if (!Predicate.isObject(decoded) || !Predicate.isObject(json)) return []
  const given = json as Record<string, unknown>
  return Object.entries(decoded).flatMap(([key, value]) => {
    const snakeCase = key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)
    return unrecognisedValues(given[key] ?? given[snakeCase], value, path === "" ? key : `${path}.${key}`)
  })
}

/**
 * A request from its protobuf JSON, refusing what `fromJSON` would silently drop: a field the
 * message does not have (a typo would otherwise send the field empty) and an enum value it does
 * not know. The failure says which, and where.
 */
export const decodeStrictly = (codec: JsonMessageCodec, messageName: string, json: unknown): Result.Result<unknown, string> => {
  if (!Predicate.isObject(json) || Array.isArray(json)) return Result.fail(`the request must be a JSON object (a ${messageName})`)
  const reads = new WeakMap<object, Reads>()
  const decoded = Result.try({
    try: () => codec.fromJSON(watched(json, reads, new WeakMap())),
    catch: (error) => `the request is not a ${messageName}: ${error instanceof Error ? error.message : String(error)}`
  })
  if (Result.isFailure(decoded)) return decoded
  const unknown = unknownKeys(json, "", reads)
  if (unknown.length > 0) return Result.fail(`${messageName} has no field ${unknown.join("; no field ")}`)
  const unrecognised = unrecognisedValues(json, codec.toJSON(decoded.success as never), "")
  if (unrecognised.length > 0) return Result.fail(`${messageName} has no value ${unrecognised.join(", ")}`)
  return decoded
}
