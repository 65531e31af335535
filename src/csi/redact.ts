import * as Predicate from "effect/Predicate"

export const REDACTED = "<redacted>"

/**
 * A copy of a CSI message fit for a log line. Every field the spec marks `csi_secret` is named
 * `secrets` in CSI v1.12 (19 fields, all maps), so redacting by that name at any depth is exact.
 * bigint (int64 fields) becomes a decimal string so the result serialises as JSON.
 */
export const redactSecrets = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (!Predicate.isObject(value)) return value
  // fromEntries, not assignment: a key named "__proto__" must stay a plain field.
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [key, key === "secrets" ? REDACTED : redactSecrets(field)])
  )
}
