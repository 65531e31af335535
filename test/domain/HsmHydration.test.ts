import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  type HydrationPlan,
  hydrationParametersOf,
  hydrationPlanOf,
  MAX_HYDRATION_PREFIXES
} from "../../src/domain/HsmHydration.js"
import { bothHsmAliasesProblem } from "../../src/domain/MountOptions.js"
import { NAME_MAX } from "../../src/domain/NodePath.js"

const failure = <A>(result: Result.Result<A, string>): string => (Result.isFailure(result) ? result.failure : "accepted")
const planOf = <A>(result: Result.Result<A, string>): A => {
  if (Result.isFailure(result)) throw new Error(`refused: ${result.failure}`)
  return result.success
}

/** A directory name: may hold inner spaces, dots and non-ASCII, but is never "." or "..". */
const Name = Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9_~.é-](?:[a-zA-Z0-9_~. é-]{0,8}[a-zA-Z0-9_~.é-])?$/)).check(
  Schema.makeFilter((name: string) => name !== "." && name !== "..")
)
/** A prefix's components; [] is the whole volume. */
const Prefix = Schema.Array(Name).check(Schema.isMaxLength(4))
/** How a prefix may be spelled around its components: a leading "/", "./", "//", a trailing "/", spaces. */
const Spelling = Schema.Struct({
  lead: Schema.Literals(["", "/", "./", "//", " "]),
  between: Schema.Literals(["/", "//", "/./"]),
  trail: Schema.Literals(["", "/", "/.", " "])
})
const Spelled = Schema.Struct({ prefix: Prefix, spelling: Spelling })
const Prefixes = Schema.Array(Spelled).check(Schema.isMinLength(1), Schema.isMaxLength(MAX_HYDRATION_PREFIXES))
const OnMode = Schema.Literals(["background", "before-start"])

const spell = ({ prefix, spelling }: typeof Spelled.Type): string => {
  const body = prefix.join(spelling.between)
  // the whole volume: "/" or "." (an empty entry is refused)
  if (body === "") return spelling.lead.trim() === "" ? "/" : spelling.lead
  return `${spelling.lead}${body}${spelling.trail}`
}

const isInside = (path: ReadonlyArray<string>, ancestor: ReadonlyArray<string>): boolean =>
  ancestor.length <= path.length && ancestor.every((component, index) => path[index] === component)
const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => a.join("/") === b.join("/") && a.length === b.length

/** Anything a user could type, with the characters that matter to paths over-represented. */
const Hostile = Schema.Union([
  Schema.String,
  Schema.String.check(Schema.isPattern(/^(?:\.\.|\.|\/|,|\0| |\t|a|é|-|hsm-aware|auto-import|=){0,16}$/))
])
const ModeText = Schema.Union([Schema.Literals(["", "off", "background", "before-start", "Background", " off"]), Schema.String])
const FlagText = Schema.Union([
  Schema.Literals(["hsm-aware", "auto-import", "noatime,hsm-aware", "hsm-aware=1", " auto-import ", "flock"]),
  Hostile
])

const namesAField = (message: string): boolean =>
  /volume_context "hsm-hydrate(?:-paths)?"/.test(message) || /mount options? "(?:hsm-aware|auto-import)"/.test(message)

describe("hsm-hydrate-paths: the prefixes to hydrate", () => {
  it.prop("a plan's shown form re-parses to the same plan", [OnMode, Prefixes], ([mode, prefixes]) => {
    const plan = planOf(hydrationPlanOf({ "hsm-hydrate": mode, "hsm-hydrate-paths": prefixes.map(spell).join(",") }, []))
    expect(plan.mode).toBe(mode)
    expect(hydrationPlanOf({ "hsm-hydrate": mode, "hsm-hydrate-paths": plan.shown }, [])).toEqual(Result.succeed(plan))
  })

  it.prop("keeps each prefix once, none inside another, covering every one given, in the order given", [OnMode, Prefixes], ([mode, prefixes]) => {
    const plan = planOf(hydrationPlanOf({ "hsm-hydrate": mode, "hsm-hydrate-paths": prefixes.map(spell).join(",") }, []))
    const given = prefixes.map((spelled) => spelled.prefix)
    for (const [index, kept] of plan.paths.entries()) {
      expect(plan.paths.filter((other, at) => at !== index && isInside(kept, other))).toEqual([])
      expect(given.some((prefix) => same(prefix, kept))).toBe(true)
    }
    for (const prefix of given) expect(plan.paths.some((kept) => isInside(prefix, kept))).toBe(true)
    const firstSeen = plan.paths.map((kept) => given.findIndex((prefix) => same(prefix, kept)))
    expect(firstSeen).toEqual(firstSeen.toSorted((a, b) => a - b))
  })

  it.prop("never throws on any input; a refusal names its field, a plan holds only canonical components", [
    Schema.Record(Schema.Literals(["hsm-hydrate", "hsm-hydrate-paths", "sub-dir"]), Hostile),
    ModeText,
    Schema.Array(FlagText).check(Schema.isMaxLength(4))
  ], ([context, mode, flags]) => {
    const result = hydrationPlanOf({ ...context, "hsm-hydrate": mode }, flags)
    if (Result.isFailure(result)) {
      expect(namesAField(result.failure)).toBe(true)
      return
    }
    for (const path of result.success.paths) {
      for (const component of path) {
        expect(["", ".", ".."]).not.toContain(component)
        expect(component).not.toMatch(/[/\0]/)
        expect(Buffer.byteLength(component)).toBeLessThanOrEqual(NAME_MAX)
      }
    }
    expect(hydrationPlanOf({ "hsm-hydrate": result.success.mode, "hsm-hydrate-paths": result.success.shown }, []))
      .toEqual(Result.succeed(result.success))
  })

  it.prop("a '..', a NUL or an over-long component anywhere in any prefix is refused, naming the prefix", [
    OnMode,
    Prefixes,
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1000 })),
    Schema.Literals(["..", "a\u0000b", "x".repeat(NAME_MAX + 1)])
  ], ([mode, prefixes, at, bad]) => {
    const entries = prefixes.map((spelled) => spelled.prefix.join("/"))
    const index = at % entries.length
    const poisoned = entries.map((entry, i) => (i === index ? `${entry}/${bad}/z` : entry === "" ? "/" : entry))
    const message = failure(hydrationPlanOf({ "hsm-hydrate": mode, "hsm-hydrate-paths": poisoned.join(",") }, []))
    expect(message).toContain(`volume_context "hsm-hydrate-paths" prefix ${JSON.stringify(poisoned[index]).slice(0, 30)}`)
  })

  it("examples: a leading / is the volume root, nested and repeated prefixes are dropped", () => {
    const plan = (paths: string) => hydrationPlanOf({ "hsm-hydrate": "background", "hsm-hydrate-paths": paths }, [])
    expect(plan("datasets/imagenet,models")).toEqual(Result.succeed({
      mode: "background",
      paths: [["datasets", "imagenet"], ["models"]],
      shown: "datasets/imagenet,models"
    }))
    expect(plan("/datasets/imagenet/ , models , datasets,./models//")).toEqual(Result.succeed({
      mode: "background",
      paths: [["models"], ["datasets"]],
      shown: "models,datasets"
    }))
    const whole: HydrationPlan = { mode: "background", paths: [[]], shown: "/" }
    for (const text of ["", " ", "/", ".", "/,datasets", "models, /"]) expect(plan(text)).toEqual(Result.succeed(whole))
    expect(hydrationPlanOf({ "hsm-hydrate": "before-start" }, [])).toEqual(Result.succeed({ ...whole, mode: "before-start" }))
    expect(plan("a b/c d")).toEqual(Result.succeed({ mode: "background", paths: [["a b", "c d"]], shown: "a b/c d" }))
    expect(plan("ab,a,abc/d")).toEqual(Result.succeed({ mode: "background", paths: [["ab"], ["a"], ["abc", "d"]], shown: "ab,a,abc/d" }))
  })

  it("refusals: what was wrong and how to fix it", () => {
    const refusal = (paths: string) => failure(hydrationPlanOf({ "hsm-hydrate": "background", "hsm-hydrate-paths": paths }, []))
    expect(refusal("a/../b")).toBe(`volume_context "hsm-hydrate-paths" prefix "a/../b" contains a ".." component; write the path without it`)
    expect(refusal("a,b\u0000")).toBe(`volume_context "hsm-hydrate-paths" prefix "b\\u0000" contains a NUL byte; a path cannot hold one`)
    expect(refusal(`a/${"é".repeat(128)}`)).toContain(`volume_context "hsm-hydrate-paths" prefix "a/éé`)
    expect(refusal(`a/${"é".repeat(128)}`)).toContain(`has a component of 256 bytes`)
    expect(refusal("a,,b")).toBe(
      `volume_context "hsm-hydrate-paths" "a,,b" has an empty prefix: separate the prefixes with single commas ("/" alone names the whole volume)`
    )
    expect(refusal("a,")).toContain("has an empty prefix")
    expect(refusal("a/ b")).toBe(
      `volume_context "hsm-hydrate-paths" prefix "a/ b" has the component " b", which begins or ends with white space ` +
        "(trimmed away around each prefix): name its parent directory instead"
    )
    const many = Array.from({ length: MAX_HYDRATION_PREFIXES + 1 }, (_, i) => `d${i}`).join(",")
    expect(refusal(many)).toBe(
      `volume_context "hsm-hydrate-paths" has 33 prefixes; at most 32: name their common parent directories instead`
    )
    expect(Result.isSuccess(hydrationPlanOf({ "hsm-hydrate": "background", "hsm-hydrate-paths": many.replace(/,d32$/, "") }, []))).toBe(true)
    const long = "x".repeat(5000)
    expect(refusal(long).length).toBeLessThan(400)
  })

  it("a long value is quoted bounded in the message", () => {
    const message = failure(hydrationPlanOf({ "hsm-hydrate": "z".repeat(100_000) }, []))
    expect(message).toContain("(100000 characters)")
    expect(message.length).toBeLessThan(600)
  })
})

describe("hsm-hydrate: the mode", () => {
  it.prop("anything but off, background and before-start is refused, naming the field, the value and the modes", [
    Schema.String.check(Schema.isMinLength(1)).check(Schema.makeFilter((text: string) => !["off", "background", "before-start"].includes(text)))
  ], ([text]) => {
    const message = failure(hydrationPlanOf({ "hsm-hydrate": text }, []))
    expect(message.startsWith(`volume_context "hsm-hydrate" is ${JSON.stringify(text).slice(0, 20)}`)).toBe(true)
    expect(message).toContain("set it to off (the default), background (restore released files while the pod runs) or before-start")
  })

  it("off is the default; paths while off are refused rather than ignored", () => {
    const off = Result.succeed({ mode: "off", paths: [], shown: "" })
    expect(hydrationPlanOf({}, [])).toEqual(off)
    expect(hydrationPlanOf({ "hsm-hydrate": "" }, ["noatime"])).toEqual(off)
    expect(hydrationPlanOf({ "hsm-hydrate": "off", "hsm-hydrate-paths": " " }, [])).toEqual(off)
    const refusal =
      `volume_context "hsm-hydrate-paths" has no effect while hsm-hydrate is off: set hsm-hydrate to background or ` +
      "before-start (or the mount option hsm-aware or auto-import), or remove hsm-hydrate-paths"
    expect(failure(hydrationPlanOf({ "hsm-hydrate-paths": "datasets" }, []))).toBe(refusal)
    expect(failure(hydrationPlanOf({ "hsm-hydrate": "off", "hsm-hydrate-paths": "/" }, []))).toBe(refusal)
    expect(failure(hydrationPlanOf({ "hsm-hydrate": "Background" }, []))).toBe(
      `volume_context "hsm-hydrate" is "Background", not a hydration mode: set it to off (the default), background ` +
        "(restore released files while the pod runs) or before-start (restore them before the pod starts)"
    )
  })
})

describe("the mount option aliases hsm-aware and auto-import", () => {
  const Alias = Schema.Literals(["hsm-aware", "auto-import"])
  const modeOfAlias = { "hsm-aware": "background", "auto-import": "before-start" } as const
  const Attribute = Schema.Literals(["unset", "", "off", "background", "before-start"])

  it.prop("an alias sets the mode; with hsm-hydrate it must agree, and the refusal names both and the fix", [Alias, Attribute, Schema.Boolean], ([alias, attribute, grouped]) => {
    const context: Record<string, string> = attribute === "unset" ? {} : { "hsm-hydrate": attribute }
    const flags = grouped ? [`noatime, ${alias} ,flock`] : ["noatime", alias, alias]
    const result = hydrationPlanOf(context, flags)
    const aliasMode = modeOfAlias[alias]
    if (attribute === "unset" || attribute === "" || attribute === aliasMode) {
      expect(result).toEqual(Result.succeed({ mode: aliasMode, paths: [[]], shown: "/" }))
    } else {
      expect(failure(result)).toBe(
        `mount option "${alias}" stands for hsm-hydrate=${aliasMode} but volume_context "hsm-hydrate" is "${attribute}": ` +
          `remove the mount option, or set hsm-hydrate to ${aliasMode} (or remove it)`
      )
    }
  })

  it("an alias gives hsm-hydrate-paths its mode; both aliases are refused", () => {
    expect(hydrationPlanOf({ "hsm-hydrate-paths": "/models/" }, ["auto-import"])).toEqual(Result.succeed({
      mode: "before-start",
      paths: [["models"]],
      shown: "models"
    }))
    expect(failure(hydrationPlanOf({}, ["hsm-aware", "noatime,auto-import"]))).toBe(bothHsmAliasesProblem)
    expect(failure(hydrationPlanOf({ "hsm-hydrate": "background" }, ["hsm-aware,auto-import"]))).toBe(bothHsmAliasesProblem)
    expect(bothHsmAliasesProblem).toContain(`mount options "hsm-aware" (hsm-hydrate=background) and "auto-import" (hsm-hydrate=before-start)`)
  })
})

describe("hydrationParametersOf: CreateVolume's StorageClass parameters", () => {
  it("copies the parameters as given, leaving out empty ones, and checks them against every capability's mount options", () => {
    expect(hydrationParametersOf({ "hsm-hydrate": "background", "hsm-hydrate-paths": " /a/ ", "sub-dir": "x" }, []))
      .toEqual(Result.succeed({ "hsm-hydrate": "background", "hsm-hydrate-paths": " /a/ " }))
    expect(hydrationParametersOf({ "hsm-hydrate": "", "sku-name": "s" }, [["noatime"]])).toEqual(Result.succeed({}))
    expect(hydrationParametersOf({ "hsm-hydrate-paths": "a" }, [["hsm-aware"], ["hsm-aware"]]))
      .toEqual(Result.succeed({ "hsm-hydrate-paths": "a" }))
    expect(failure(hydrationParametersOf({ "hsm-hydrate-paths": "a" }, [["hsm-aware"], []])))
      .toBe(
        `StorageClass parameter "hsm-hydrate-paths" has no effect while hsm-hydrate is off: set hsm-hydrate to ` +
          "background or before-start (or the mount option hsm-aware or auto-import), or remove hsm-hydrate-paths"
      )
    expect(failure(hydrationParametersOf({ "hsm-hydrate": "always" }, []))).toContain(`StorageClass parameter "hsm-hydrate" is "always"`)
    expect(failure(hydrationParametersOf({ "hsm-hydrate": "off" }, [["auto-import"]])))
      .toContain(`mount option "auto-import" stands for hsm-hydrate=before-start but StorageClass parameter "hsm-hydrate" is "off"`)
  })
})
