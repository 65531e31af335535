import * as Predicate from "effect/Predicate"
import { quote } from "../domain/BoundedText.js"

/** Every map field of CSI v1.12, camelCased as ts-proto names them; all are map<string, string>. */
export const CSI_MAP_FIELDS: ReadonlySet<string> = new Set([
  "manifest",
  "mutableParameters",
  "parameters",
  "publishContext",
  "secrets",
  "segments",
  "volumeContext"
])

const snakeCase = (field: string): string => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

const joined = (path: string, field: string): string => (path === "" ? field : `${path}.${field}`)

/** A map's first bad key or value; a secret's key is not echoed, even bounded. */
const illFormedEntry = (map: object, path: string, isSecret: boolean): string | undefined => {
  for (const [key, value] of Object.entries(map)) {
    if (!key.isWellFormed()) return `a key of ${path}`
    if (Predicate.isString(value) && !value.isWellFormed()) return isSecret ? `a value of ${path}` : `${path}[${quote(key)}]`
  }
  return undefined
}

/** A oneof as ts-proto writes it, `{ $case, value }`: the proto names the member, not the oneof. */
const oneofMemberOf = (field: unknown): { readonly name: string; readonly value: unknown } | undefined =>
  Predicate.hasProperty(field, "$case") && Predicate.isString(field.$case) && Predicate.hasProperty(field, "value")
    ? { name: field.$case, value: field.value }
    : undefined

const illFormedIn = (value: unknown, path: string): string | undefined => {
  if (Predicate.isString(value)) return value.isWellFormed() ? undefined : path
  if (Array.isArray(value)) {
    for (const [index, element] of value.entries()) {
      const found = illFormedIn(element, `${path}[${index}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (!Predicate.isObject(value)) return undefined
  for (const [key, field] of Object.entries(value)) {
    const member = oneofMemberOf(field)
    const found = member !== undefined
      ? illFormedIn(member.value, joined(path, snakeCase(member.name)))
      : CSI_MAP_FIELDS.has(key) && Predicate.isObject(field)
      ? illFormedEntry(field, joined(path, snakeCase(key)), key === "secrets")
      : illFormedIn(field, joined(path, snakeCase(key)))
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * The first string field of a decoded CSI message that is not well-formed Unicode, named as the
 * proto spells it (`target_path`, `volume_capabilities[0].mount.mount_flags[1]`,
 * `parameters["sub-dir"]`); undefined when every string is well-formed.
 */
export const firstIllFormedField = (message: unknown): string | undefined => illFormedIn(message, "")
