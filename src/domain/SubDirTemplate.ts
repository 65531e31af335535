import * as Result from "effect/Result"
import { quote } from "./BoundedText.js"

/**
 * `sub-dir`: the directory inside the Lustre filesystem a volume is, written as a template whose
 * placeholders are filled from the volume context (the PVC/PV details the csi-provisioner adds
 * with --extra-create-metadata, and the pod details kubelet adds when the CSIDriver has
 * podInfoOnMount: true). The result is always a normalized path RELATIVE to the filesystem
 * root: it never begins with "/", never has a ".." segment and never holds a NUL byte, so it
 * cannot escape the filesystem ("" is the root itself).
 */

/** The longest `sub-dir` accepted, template or result (Linux PATH_MAX). */
export const SUB_DIR_MAX_LENGTH = 4096

type Source = "pvc" | "pod"

interface Placeholder {
  /** The volume context keys that hold the value, tried in order. */
  readonly keys: readonly [string, ...Array<string>]
  readonly source: Source
}

/**
 * The placeholders `sub-dir` understands and the volume context keys they read.
 * `${serviceAccount.metadata.name}` is the Go driver's spelling. Kubelet writes the service
 * account under `csi.storage.k8s.io/serviceAccount.name`; the Go driver reads the lower-case
 * `csi.storage.k8s.io/serviceaccount.name`, so both are accepted, kubelet's first.
 */
export const subDirPlaceholders: Readonly<Record<string, Placeholder>> = {
  "pvc.metadata.name": { keys: ["csi.storage.k8s.io/pvc/name"], source: "pvc" },
  "pvc.metadata.namespace": { keys: ["csi.storage.k8s.io/pvc/namespace"], source: "pvc" },
  "pv.metadata.name": { keys: ["csi.storage.k8s.io/pv/name"], source: "pvc" },
  "pod.metadata.name": { keys: ["csi.storage.k8s.io/pod.name"], source: "pod" },
  "pod.metadata.namespace": { keys: ["csi.storage.k8s.io/pod.namespace"], source: "pod" },
  "pod.metadata.uid": { keys: ["csi.storage.k8s.io/pod.uid"], source: "pod" },
  "serviceAccount.name": {
    keys: ["csi.storage.k8s.io/serviceAccount.name", "csi.storage.k8s.io/serviceaccount.name"],
    source: "pod"
  },
  "serviceAccount.metadata.name": {
    keys: ["csi.storage.k8s.io/serviceAccount.name", "csi.storage.k8s.io/serviceaccount.name"],
    source: "pod"
  }
}

const knownPlaceholders = Object.keys(subDirPlaceholders).map((name) => "${" + name + "}").join(", ")

type Part =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Placeholder"; readonly name: string; readonly placeholder: Placeholder }

/** Splits a template into literal text and known placeholders; the failure is the user-facing message. */
const parse = (template: string): Result.Result<ReadonlyArray<Part>, string> => {
  if (template.length > SUB_DIR_MAX_LENGTH) {
    return Result.fail(
      `sub-dir is ${template.length} characters long; the limit is ${SUB_DIR_MAX_LENGTH}: use a shorter directory path`
    )
  }
  if (template.includes("\0")) {
    return Result.fail("sub-dir contains a NUL byte; remove it: a directory path cannot hold one")
  }
  if (template.startsWith("/")) {
    return Result.fail(
      `sub-dir ${quote(template)} is an absolute path; write it relative to the filesystem root, ` +
        `e.g. ${quote(template.replace(/^\/+/, ""))}`
    )
  }
  const parts: Array<Part> = []
  let rest = template
  while (rest.length > 0) {
    const open = rest.indexOf("${")
    if (open < 0) {
      parts.push({ _tag: "Text", text: rest })
      break
    }
    if (open > 0) parts.push({ _tag: "Text", text: rest.slice(0, open) })
    const close = rest.indexOf("}", open + 2)
    if (close < 0) {
      return Result.fail(
        `sub-dir ${quote(template)} has an unterminated placeholder ${quote(rest.slice(open))}: ` +
          `close it with "}"; the placeholders are ${knownPlaceholders}`
      )
    }
    const name = rest.slice(open + 2, close)
    const placeholder = subDirPlaceholders[name]
    if (placeholder === undefined || !Object.hasOwn(subDirPlaceholders, name)) {
      return Result.fail(
        `sub-dir ${quote(template)} has an unknown placeholder ${quote("${" + name + "}")}; ` +
          `the placeholders are ${knownPlaceholders}`
      )
    }
    parts.push({ _tag: "Placeholder", name, placeholder })
    rest = rest.slice(close + 1)
  }
  const dotDot = parts.some((part) =>
    part._tag === "Text" && part.text.split("/").some((segment, i, all) =>
      segment === ".." && (i > 0 || isSegmentStart(parts, part)) && (i < all.length - 1 || isSegmentEnd(parts, part))
    )
  )
  if (dotDot) return Result.fail(parentMessage(template))
  return Result.succeed(parts)
}

/** Whether a text part begins a path segment: it is first, or the part before it ends with "/". */
const isSegmentStart = (parts: ReadonlyArray<Part>, part: Part): boolean => {
  const before = parts[parts.indexOf(part) - 1]
  return before === undefined || (before._tag === "Text" && before.text.endsWith("/"))
}

/** Whether a text part ends a path segment: it is last, or the part after it begins with "/". */
const isSegmentEnd = (parts: ReadonlyArray<Part>, part: Part): boolean => {
  const after = parts[parts.indexOf(part) + 1]
  return after === undefined || (after._tag === "Text" && after.text.startsWith("/"))
}

const parentMessage = (template: string): string =>
  `sub-dir ${quote(template)} has a ".." segment; a volume must stay inside its filesystem: ` +
  `name the directory from the filesystem root without ".."`

/**
 * Checks a `sub-dir` template's syntax without filling it in (placeholders, NUL bytes, absolute
 * paths, ".." segments, length). Succeeds with the template unchanged.
 */
export const validateSubDirTemplate = (template: string): Result.Result<string, string> =>
  Result.map(parse(template), () => template)

const missingMessage = (template: string, name: string, placeholder: Placeholder): string =>
  `sub-dir ${quote(template)} uses ${quote("${" + name + "}")} but the volume context has no ` +
  `${placeholder.keys.map(quote).join(" or ")}; ` +
  (placeholder.source === "pod"
    ? "pod placeholders need the CSIDriver object to set podInfoOnMount: true"
    : "pvc and pv placeholders need the csi-provisioner sidecar to run with --extra-create-metadata")

/** A filled-in value must be one path segment: not empty, no "/", no NUL, no "..". */
const badValueMessage = (template: string, name: string, value: string): string | undefined => {
  const problem = value === ""
    ? "is empty"
    : value.includes("/")
    ? "contains \"/\""
    : value.includes("\0")
    ? "contains a NUL byte"
    : value === "." || value.includes("..")
    ? "is or contains a relative path component (\".\" or \"..\")"
    : undefined
  return problem === undefined
    ? undefined
    : `sub-dir ${quote(template)}: the value of ${quote("${" + name + "}")}, ${quote(value)}, ${problem}; ` +
      `a placeholder must fill in one plain directory name, so use a placeholder whose value is a Kubernetes name`
}

/**
 * Fills in a `sub-dir` template from the volume context and normalizes it: "." segments and
 * repeated or trailing "/" are dropped. The result is relative to the filesystem root ("" for
 * the root itself); the failure is the full user-facing message.
 */
export const resolveSubDir = (
  template: string,
  context: Readonly<Record<string, string>>
): Result.Result<string, string> => {
  const parsed = parse(template)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  let path = ""
  for (const part of parsed.success) {
    if (part._tag === "Text") {
      path += part.text
      continue
    }
    const key = part.placeholder.keys.find((k) => Object.hasOwn(context, k))
    const value = key === undefined ? undefined : context[key]
    if (value === undefined) return Result.fail(missingMessage(template, part.name, part.placeholder))
    const bad = badValueMessage(template, part.name, value)
    if (bad !== undefined) return Result.fail(bad)
    path += value
  }
  const segments = path.split("/").filter((segment) => segment !== "" && segment !== ".")
  if (segments.includes("..")) return Result.fail(parentMessage(template))
  const resolved = segments.join("/")
  if (resolved.length > SUB_DIR_MAX_LENGTH) {
    return Result.fail(
      `sub-dir ${quote(template)} fills in to ${resolved.length} characters; the limit is ` +
        `${SUB_DIR_MAX_LENGTH}: use a shorter directory path`
    )
  }
  return Result.succeed(resolved)
}
