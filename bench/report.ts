/**
 * What the benchmarks share: their metrics, the table they print, statistics, the baseline file
 * (bench/baseline.json) they compare with, and running one on its own (runWhenEntryPoint).
 *
 * The baseline holds each benchmark's numbers, keyed by metric, with when, on which Node and on
 * how many CPUs they were recorded. The Identity benchmark's are at the top level, as before there
 * were others; each other benchmark has the same shape under its own key:
 *
 *   { "recordedAt": ..., "node": ..., "cpus": ..., "results": { identity numbers },
 *     "publish": { "recordedAt": ..., "node": ..., "cpus": ..., "results": { publish numbers } } }
 *
 * Recording one benchmark leaves the others' numbers (and their time, Node, CPUs) as they are.
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"

/** The source bench/ folder (this file runs from dist/bench/). */
export const BASELINE_PATH = fileURLToPath(new URL("../../bench/baseline.json", import.meta.url))

export type BaselineSection = "results" | "publish" | "provision" | "expand" | "hydrate" | "footprint" | "controllerFootprint"

export interface Metric<Key extends string> {
  readonly key: Key
  readonly label: string
  /** "" for a count. */
  readonly unit: string
  /** Met when the value is at most (`<=`) or exactly (`=`) this; no target: only reported. */
  readonly target?: { readonly op: "<=" | "="; readonly value: number }
  /** Decimals shown and recorded; 1 unless told. */
  readonly digits?: number
}

export const progress = (line: string) => process.stderr.write(`bench: ${line}\n`)

/**
 * Runs `main` when the module at `moduleUrl` is the script node was started with (`node
 * dist/bench/<name>.js`), not when run.js imports it; a failure is written to stderr and sets exit
 * status 1. (import.meta.main needs Node >= 24.2.)
 */
export const runWhenEntryPoint = (moduleUrl: string, main: () => Promise<void>): void => {
  const isEntryPoint = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(moduleUrl)
  if (!isEntryPoint) return
  main().catch((error: unknown) => {
    process.stderr.write(`bench: could not run: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    process.exitCode = 1
  })
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * The p-th percentile (0..100), interpolated linearly between the two nearest ranks (numpy's
 * default), so that p99 of 50 samples is not simply the maximum.
 */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const below = Math.floor(rank)
  const above = Math.min(below + 1, sorted.length - 1)
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (rank - below)
}

const readBaselineFile = (): Record<string, unknown> => {
  if (!existsSync(BASELINE_PATH)) return {}
  const json: unknown = JSON.parse(readFileSync(BASELINE_PATH, "utf8"))
  return typeof json === "object" && json !== null ? { ...json } : {}
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined

/** The numbers of a section: the top-level `results`, or `<section>.results`. */
const sectionNumbers = (file: Record<string, unknown>, section: BaselineSection): unknown =>
  section === "results" ? file["results"] : field(file[section], "results")

/** The baseline's numbers for `metrics` in `section`; a missing file, section or metric has none. */
export const readBaseline = <Key extends string>(
  section: BaselineSection,
  metrics: ReadonlyArray<Metric<Key>>
): Partial<Record<Key, number>> => {
  const recorded = sectionNumbers(readBaselineFile(), section)
  const baseline: Partial<Record<Key, number>> = {}
  for (const { key } of metrics) {
    const value = field(recorded, key)
    if (typeof value === "number") baseline[key] = value
  }
  return baseline
}

export interface SectionResults<Key extends string> {
  readonly section: BaselineSection
  readonly metrics: ReadonlyArray<Metric<Key>>
  readonly results: Record<Key, number>
}

/**
 * Records these sections as the new baseline, each with the time, Node version and CPU count of
 * this run; sections not given keep their numbers and their own time, Node and CPUs.
 */
export const writeBaseline = (sections: ReadonlyArray<SectionResults<string>>) => {
  const file = readBaselineFile()
  const recorded = { recordedAt: new Date().toISOString(), node: process.version, cpus: cpus().length }
  for (const { section, metrics, results } of sections) {
    const numbers = Object.fromEntries(metrics.map(({ key, digits }) => [key, Number(results[key]!.toFixed(digits ?? 1))]))
    if (section === "results") Object.assign(file, recorded, { results: numbers })
    else file[section] = { ...recorded, results: numbers }
  }
  // The Identity section's fields first, as the file has always begun.
  const { recordedAt, node, cpus: cpuCount, results, ...others } = file
  writeFileSync(BASELINE_PATH, JSON.stringify({ recordedAt, node, cpus: cpuCount, results, ...others }, null, 2) + "\n")
}

const withUnit = (value: string, unit: string) => (unit === "" ? value : `${value} ${unit}`)

const meets = (value: number, target: NonNullable<Metric<string>["target"]>) =>
  target.op === "=" ? value === target.value : value <= target.value

/** Measured value, target, whether it is met, baseline and delta: one row per metric. */
export const table = <Key extends string>(
  metrics: ReadonlyArray<Metric<Key>>,
  results: Record<Key, number>,
  baseline: Partial<Record<Key, number>>
): string => {
  const header = ["metric", "measured", "target", "meets", "baseline", "delta"]
  const rows = metrics.map(({ key, label, unit, target, digits = 1 }) => {
    const value = results[key]
    const before = baseline[key]
    const delta = before === undefined
      ? "-"
      : `${value - before >= 0 ? "+" : ""}${(value - before).toFixed(digits)}` +
        (before !== 0 ? ` (${value >= before ? "+" : ""}${(((value - before) / before) * 100).toFixed(0)}%)` : "")
    return [
      label,
      withUnit(value.toFixed(digits), unit),
      target === undefined ? "-" : withUnit(`${target.op === "=" ? "= " : "<= "}${target.value}`, unit),
      target === undefined ? "-" : meets(value, target) ? "yes" : "NO",
      before === undefined ? "-" : withUnit(before.toFixed(digits), unit),
      delta
    ]
  })
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
