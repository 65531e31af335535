import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { resolveSubDir, SUB_DIR_MAX_LENGTH, validateSubDirTemplate } from "../../src/domain/SubDirTemplate.js"

/** A Kubernetes name: lowercase letters, digits, '-' and '.', no "..". */
const K8sName = Schema.String.check(Schema.isPattern(/^[a-z0-9]{1,8}(?:[.-][a-z0-9]{1,8}){0,4}$/))
const Literal = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,10}$/))
const Placeholder = Schema.Literals([
  "pvc.metadata.name", "pvc.metadata.namespace", "pv.metadata.name", "pod.metadata.name",
  "pod.metadata.namespace", "pod.metadata.uid", "serviceAccount.name", "serviceAccount.metadata.name"
])
const keyOf: Record<typeof Placeholder.Type, string> = {
  "pvc.metadata.name": "csi.storage.k8s.io/pvc/name",
  "pvc.metadata.namespace": "csi.storage.k8s.io/pvc/namespace",
  "pv.metadata.name": "csi.storage.k8s.io/pv/name",
  "pod.metadata.name": "csi.storage.k8s.io/pod.name",
  "pod.metadata.namespace": "csi.storage.k8s.io/pod.namespace",
  "pod.metadata.uid": "csi.storage.k8s.io/pod.uid",
  "serviceAccount.name": "csi.storage.k8s.io/serviceAccount.name",
  "serviceAccount.metadata.name": "csi.storage.k8s.io/serviceAccount.name"
}
/** One template segment: literal text, a placeholder, or both; or "." / "" (dropped by normalization). */
const Segment = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("text"), text: Literal }),
  Schema.Struct({ _tag: Schema.Literal("placeholder"), name: Placeholder, value: K8sName, prefix: Schema.Literals(["", "data-", "x_"]) }),
  Schema.Struct({ _tag: Schema.Literal("dot") }),
  Schema.Struct({ _tag: Schema.Literal("empty") })
])
/** Anything, including "..", "/", NUL, "${", "}". */
const Hostile = Schema.String.check(Schema.isPattern(/^(?:\.\.|\.|\/|\0|\$\{|\}|[a-z]|pod\.metadata\.name|-){0,12}$/))

const isSafe = (path: string): boolean =>
  !path.startsWith("/") && !path.includes("\0") && !path.split("/").includes("..") && !path.endsWith("/") &&
  !path.split("/").includes(".") && !path.includes("//")

describe("SubDirTemplate (sub-dir templates, always relative and inside the filesystem)", () => {
  it.prop("substituting Kubernetes names gives exactly the expected path", [Schema.Array(Segment)], ([segments]) => {
    const context: Record<string, string> = {}
    const joined = segments.map((segment) => {
      switch (segment._tag) {
        case "text": return segment.text
        case "dot": return "."
        case "empty": return ""
        case "placeholder": {
          context[keyOf[segment.name]] = segment.value
          return `${segment.prefix}\${${segment.name}}`
        }
      }
    }).join("/")
    // a leading empty segment would make the template absolute, which is refused
    const template = joined.startsWith("/") ? `.${joined}` : joined
    // the last value written for a key wins, so compute the expectation from the context
    const expected = segments.flatMap((segment) => {
      switch (segment._tag) {
        case "text": return [segment.text]
        case "dot": case "empty": return []
        case "placeholder": return [`${segment.prefix}${context[keyOf[segment.name]] ?? ""}`]
      }
    }).join("/")
    expect(validateSubDirTemplate(template)).toEqual(Result.succeed(template))
    expect(resolveSubDir(template, context)).toEqual(Result.succeed(expected))
  })

  it.prop("a resolved path never starts with '/', never has '..' or '.' segments, never holds NUL", [Hostile, Hostile], ([template, value]) => {
    const context = { "csi.storage.k8s.io/pod.name": value }
    const resolved = resolveSubDir(template, context)
    if (Result.isSuccess(resolved)) expect(isSafe(resolved.success)).toBe(true)
    else expect(resolved.failure).toContain("sub-dir")
  })

  it.prop("a substituted value holding '/', '..' or NUL is refused", [K8sName, Schema.Literals(["/", "..", "\0", "a/b", "../x"])], ([name, bad]) => {
    const context = { "csi.storage.k8s.io/pvc/name": `${name}${bad}` }
    expect(Result.isFailure(resolveSubDir("vols/${pvc.metadata.name}", context))).toBe(true)
    expect(Result.isFailure(resolveSubDir("${pvc.metadata.name}", { "csi.storage.k8s.io/pvc/name": bad }))).toBe(true)
  })

  it.prop("templates with a '..' segment or a leading '/' are refused before substitution", [Literal], ([text]) => {
    for (const template of [`..`, `../${text}`, `${text}/..`, `${text}/../${text}`, `/${text}`, `${text}/../\${pvc.metadata.name}`]) {
      expect(Result.isFailure(validateSubDirTemplate(template))).toBe(true)
      expect(Result.isFailure(resolveSubDir(template, { "csi.storage.k8s.io/pvc/name": "p" }))).toBe(true)
    }
  })

  it("normalizes '.', repeated and trailing '/'", () => {
    expect(resolveSubDir("", {})).toEqual(Result.succeed(""))
    expect(resolveSubDir(".", {})).toEqual(Result.succeed(""))
    expect(resolveSubDir("a//b/./c/", {})).toEqual(Result.succeed("a/b/c"))
    expect(resolveSubDir("a..b/.c/$x/}", {})).toEqual(Result.succeed("a..b/.c/$x/}"))
    expect(resolveSubDir("..${pod.metadata.name}", { "csi.storage.k8s.io/pod.name": "p" })).toEqual(Result.succeed("..p"))
  })

  it("fills in every placeholder", () => {
    const context = {
      "csi.storage.k8s.io/pvc/name": "data",
      "csi.storage.k8s.io/pvc/namespace": "team-a",
      "csi.storage.k8s.io/pv/name": "pvc-0b6f",
      "csi.storage.k8s.io/pod.name": "web-0",
      "csi.storage.k8s.io/pod.namespace": "team-a",
      "csi.storage.k8s.io/pod.uid": "1234-abcd",
      "csi.storage.k8s.io/serviceAccount.name": "default"
    }
    expect(resolveSubDir(
      "${pvc.metadata.namespace}/${pvc.metadata.name}/${pv.metadata.name}/${pod.metadata.namespace}-${pod.metadata.name}-${pod.metadata.uid}/${serviceAccount.name}/${serviceAccount.metadata.name}",
      context
    )).toEqual(Result.succeed("team-a/data/pvc-0b6f/team-a-web-0-1234-abcd/default/default"))
    expect(resolveSubDir("${serviceAccount.name}", { "csi.storage.k8s.io/serviceaccount.name": "sa" })).toEqual(Result.succeed("sa"))
  })

  it("explains each failure, naming sub-dir and the fix", () => {
    const fail = (template: string, context: Record<string, string> = {}): string => {
      const result = resolveSubDir(template, context)
      return Result.isFailure(result) ? result.failure : "succeeded"
    }
    expect(fail("${pod.name}")).toContain("unknown placeholder \"${pod.name}\"; the placeholders are ${pvc.metadata.name}")
    expect(fail("a/${pvc.metadata.name")).toContain("unterminated placeholder")
    expect(fail("${pod.metadata.name}")).toContain("podInfoOnMount: true")
    expect(fail("${pod.metadata.name}")).toContain("\"csi.storage.k8s.io/pod.name\"")
    expect(fail("${pvc.metadata.name}")).toContain("--extra-create-metadata")
    expect(fail("a\0b")).toContain("NUL")
    expect(fail("/abs/dir")).toBe(
      "sub-dir \"/abs/dir\" is an absolute path; write it relative to the filesystem root, e.g. \"abs/dir\""
    )
    expect(fail("a/../b")).toContain("\"..\" segment")
    expect(fail("${pvc.metadata.name}", { "csi.storage.k8s.io/pvc/name": "" })).toContain("is empty")
    expect(fail("x".repeat(SUB_DIR_MAX_LENGTH + 1))).toContain("the limit is 4096")
    expect(fail("${constructor}")).toContain("unknown placeholder")
    for (const message of [fail("${x}"), fail("/a"), fail("..")]) expect(message.startsWith("sub-dir ")).toBe(true)
  })
})
