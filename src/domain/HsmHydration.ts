import * as Result from "effect/Result"
import { quote } from "./BoundedText.js"
import { bothHsmAliasesProblem, hsmHydrationAliases, hsmHydrationAliasesIn } from "./MountOptions.js"
import { pathComponents } from "./NodePath.js"

/**
 * HSM hydration: restoring a volume's released files (their data archived to blob storage and
 * gone from the OSTs) when it is published to a pod, asked for by the volume attributes
 * `hsm-hydrate` and `hsm-hydrate-paths` or by the mount option aliases `hsm-aware` and
 * `auto-import` (see MountOptions.ts).
 */

/** off: nothing is restored; background: while the pod runs; before-start: before the publish returns. */
export type HydrationMode = "off" | "background" | "before-start"

export const HYDRATION_MODES: ReadonlyArray<HydrationMode> = ["off", "background", "before-start"]

/** The volume attributes (and StorageClass parameters) of hydration. */
export const hsmHydrationParameterNames = ["hsm-hydrate", "hsm-hydrate-paths"] as const

/** At most this many prefixes in hsm-hydrate-paths: each is a tree walk on every publish. */
export const MAX_HYDRATION_PREFIXES = 32

export interface HydrationPlan {
  readonly mode: HydrationMode
  /**
   * The components of each prefix, relative to the volume's root (its sub-dir): no prefix inside
   * another, none twice, in the order given. [[]] is the whole volume; [] when mode is off.
   */
  readonly paths: ReadonlyArray<ReadonlyArray<string>>
  /** The canonical prefixes ("datasets/imagenet,models"; "/" = the whole volume; "" when off), for logs and Events. */
  readonly shown: string
}

/** Where the attributes came from, for the messages: the node's volume context or CreateVolume's parameters. */
export type HydrationOrigin = "volume_context" | "StorageClass parameter"

const MODE_KEY = "hsm-hydrate"
const PATHS_KEY = "hsm-hydrate-paths"

const WHITE_SPACE_AT_AN_END = /^\s|\s$/

const isInside = (path: ReadonlyArray<string>, ancestor: ReadonlyArray<string>): boolean =>
  ancestor.length < path.length && ancestor.every((component, index) => path[index] === component)

const isSame = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((component, index) => b[index] === component)

const shownOf = (paths: ReadonlyArray<ReadonlyArray<string>>): string =>
  paths.map((components) => (components.length === 0 ? "/" : components.join("/"))).join(",")

/** A set mode ("" = not set), or why the text is not one. */
const modeOf = (field: string, text: string): Result.Result<HydrationMode | undefined, string> => {
  if (text === "") return Result.succeed(undefined)
  const mode = HYDRATION_MODES.find((candidate) => candidate === text)
  if (mode !== undefined) return Result.succeed(mode)
  return Result.fail(
    `${field} is ${quote(text)}, not a hydration mode: set it to off (the default), background (restore released ` +
      "files while the pod runs) or before-start (restore them before the pod starts)"
  )
}

/**
 * The prefixes of `hsm-hydrate-paths`: comma-separated, spaces around each ignored, each relative
 * to the volume's root ("/datasets" = "datasets", "/" = the whole volume); "" is the whole volume.
 * Duplicates and prefixes inside another are dropped, the rest keep their order.
 */
const prefixesOf = (field: string, text: string): Result.Result<Pick<HydrationPlan, "paths" | "shown">, string> => {
  if (text.trim() === "") return Result.succeed({ paths: [[]], shown: "/" })
  const entries = text.split(",").map((entry) => entry.trim())
  if (entries.length > MAX_HYDRATION_PREFIXES) {
    return Result.fail(
      `${field} has ${entries.length} prefixes; at most ${MAX_HYDRATION_PREFIXES}: name their common parent directories instead`
    )
  }
  const given: Array<ReadonlyArray<string>> = []
  for (const entry of entries) {
    if (entry === "") {
      return Result.fail(
        `${field} ${quote(text)} has an empty prefix: separate the prefixes with single commas ("/" alone names the whole volume)`
      )
    }
    const components = pathComponents(`${field} prefix ${quote(entry)}`, entry)
    if (Result.isFailure(components)) return Result.fail(components.failure)
    const spaced = components.success.find((component) => WHITE_SPACE_AT_AN_END.test(component))
    if (spaced !== undefined) {
      return Result.fail(
        `${field} prefix ${quote(entry)} has the component ${quote(spaced)}, which begins or ends with white space ` +
          "(trimmed away around each prefix): name its parent directory instead"
      )
    }
    given.push(components.success)
  }
  const paths = given.filter((path, index) =>
    !given.some((other, at) => isInside(path, other) || (at < index && isSame(path, other)))
  )
  return Result.succeed({ paths, shown: shownOf(paths) })
}

/**
 * What to hydrate when the volume is published: `hsm-hydrate` from the volume context, or from a
 * mount option alias (`hsm-aware` = background, `auto-import` = before-start), with the prefixes
 * of `hsm-hydrate-paths`. The failure is the INVALID_ARGUMENT message naming the field, what is
 * wrong with it, and the fix: a bad mode or prefix, both aliases, an alias that disagrees with
 * `hsm-hydrate`, or `hsm-hydrate-paths` while hydration is off (a setting silently ignored is
 * what the unknown-key check exists to prevent).
 */
export const hydrationPlanOf = (
  volumeContext: Readonly<Record<string, string>>,
  mountFlags: ReadonlyArray<string>,
  origin: HydrationOrigin = "volume_context"
): Result.Result<HydrationPlan, string> => {
  const modeField = `${origin} ${quote(MODE_KEY)}`
  const pathsField = `${origin} ${quote(PATHS_KEY)}`
  const given = modeOf(modeField, volumeContext[MODE_KEY] ?? "")
  if (Result.isFailure(given)) return Result.fail(given.failure)
  const aliases = hsmHydrationAliasesIn(mountFlags)
  if (aliases.length > 1) return Result.fail(bothHsmAliasesProblem)
  const alias = aliases[0]
  const aliasMode = alias === undefined ? undefined : hsmHydrationAliases[alias]
  if (alias !== undefined && given.success !== undefined && given.success !== aliasMode) {
    return Result.fail(
      `mount option ${quote(alias)} stands for hsm-hydrate=${aliasMode} but ${modeField} is ${quote(given.success)}: ` +
        `remove the mount option, or set hsm-hydrate to ${aliasMode} (or remove it)`
    )
  }
  const mode = given.success ?? aliasMode ?? "off"
  const pathsText = volumeContext[PATHS_KEY] ?? ""
  const prefixes = prefixesOf(pathsField, pathsText)
  if (Result.isFailure(prefixes)) return Result.fail(prefixes.failure)
  if (mode !== "off") return Result.succeed({ mode, ...prefixes.success })
  if (pathsText.trim() !== "") {
    return Result.fail(
      `${pathsField} has no effect while hsm-hydrate is off: set hsm-hydrate to background or before-start ` +
        "(or the mount option hsm-aware or auto-import), or remove hsm-hydrate-paths"
    )
  }
  return Result.succeed({ mode: "off", paths: [], shown: "" })
}

/**
 * CreateVolume's hydration parameters, checked against the mount options of every requested
 * capability (an alias there may set the mode that hsm-hydrate-paths needs), and the entries to
 * copy into the volume context: the parameters as given, those left empty left out.
 */
export const hydrationParametersOf = (
  parameters: Readonly<Record<string, string>>,
  mountFlagsOfCapabilities: ReadonlyArray<ReadonlyArray<string>>
): Result.Result<Readonly<Record<string, string>>, string> => {
  for (const mountFlags of mountFlagsOfCapabilities.length === 0 ? [[]] : mountFlagsOfCapabilities) {
    const plan = hydrationPlanOf(parameters, mountFlags, "StorageClass parameter")
    if (Result.isFailure(plan)) return Result.fail(plan.failure)
  }
  const entries: Record<string, string> = {}
  for (const key of hsmHydrationParameterNames) {
    const value = parameters[key]
    if (value !== undefined && value !== "") entries[key] = value
  }
  return Result.succeed(entries)
}
