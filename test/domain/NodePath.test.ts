import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { canonicalAbsolutePath, componentsBelow, NAME_MAX, pathComponents } from "../../src/domain/NodePath.js"

const Name = Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9_~.-]{1,20}$/)).check(
  Schema.makeFilter((name: string) => name !== "." && name !== "..")
)
const Names = Schema.Array(Name).check(Schema.isMinLength(1), Schema.isMaxLength(8))
const Noise = Schema.Array(Schema.Literals(["/", "//", "/./", "/"])).check(Schema.isMinLength(8), Schema.isMaxLength(8))

const failure = <A>(result: Result.Result<A, string>): string => (Result.isFailure(result) ? result.failure : "accepted")

describe("paths the node plugin is handed", () => {
  it.prop("however a path is spelled (//, /./, a trailing /), its canonical form is the same", [Names, Noise], ([names, noise]) => {
    const canonical = `/${names.join("/")}`
    const spelled = `${noise[0]}${names.map((name, i) => `${name}${noise[(i + 1) % noise.length]}`).join("")}`
    expect(canonicalAbsolutePath("target_path", spelled)).toEqual(Result.succeed(canonical))
    expect(canonicalAbsolutePath("target_path", canonical)).toEqual(Result.succeed(canonical))
  })

  it.prop("refuses '..', a NUL, a relative path and a component over NAME_MAX bytes, naming the field", [Names, Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 7 }))], ([names, at]) => {
    const index = at % names.length
    const withComponent = (component: string) => `/${names.map((name, i) => (i === index ? component : name)).join("/")}`
    expect(failure(canonicalAbsolutePath("volume_path", withComponent("..")))).toContain('volume_path contains a ".." component')
    expect(failure(canonicalAbsolutePath("volume_path", withComponent("a\u0000b")))).toContain("volume_path contains a NUL byte")
    expect(failure(canonicalAbsolutePath("volume_path", withComponent("é".repeat(128))))).toContain(`at most ${NAME_MAX} bytes`)
    expect(failure(canonicalAbsolutePath("volume_path", names.join("/")))).toBe("volume_path must be an absolute path")
  })

  it.prop("a canonical path is below a root exactly when it starts with the root and a /", [Names, Names], ([root, rest]) => {
    const rootPath = `/${root.join("/")}`
    expect(componentsBelow(rootPath, `${rootPath}/${rest.join("/")}`)).toEqual(rest)
    expect(componentsBelow(rootPath, rootPath)).toBeUndefined()
    expect(componentsBelow(rootPath, `${rootPath}x/${rest.join("/")}`)).toBeUndefined()
  })

  it("a relative sub-dir: components, with '.' and empty ones dropped", () => {
    expect(pathComponents("sub-dir", "a/./b//c/")).toEqual(Result.succeed(["a", "b", "c"]))
    expect(pathComponents("sub-dir", "")).toEqual(Result.succeed([]))
    expect(failure(pathComponents("sub-dir", `a/${"x".repeat(4096)}`))).toContain("Linux paths are shorter than 4096 bytes")
  })
})
