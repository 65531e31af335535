import * as Predicate from "effect/Predicate"
import { bounded } from "../domain/BoundedText.js"

export const REDACTED = "<redacted>"

/**
 * A copy of a CSI message fit for a log line. Every field the spec marks `csi_secret` is named
 * `secrets` in CSI v1.12 (19 fields, all maps), so redacting by that name at any depth is exact.
 * Strings and map keys are bounded, so an oversized request makes an ordinary log line.
 * bigint (int64 fields) becomes a decimal string so the result serialises as JSON.
 */
export const loggableMessage = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (typeof value === "string") return bounded(value)
  if (Array.isArray(value)) return value.map(loggableMessage)
  if (!Predicate.isObject(value)) return value
  // fromEntries, not assignment: a key named "__proto__" must stay a plain field.
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [bounded(key), key === "secrets" ? REDACTED : loggableMessage(field)])
  )
}
