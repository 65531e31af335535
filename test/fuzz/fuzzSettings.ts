/**
 * The knobs of a fuzz run, from the environment:
 * - FUZZ_SEED: the run's seed (each run prints it); the default is fixed, so CI runs the same cases
 *   every time; `npm run fuzz` picks a new one.
 * - FUZZ_RUNS: cases per Node RPC (default 3000); the Identity and Controller RPCs get a tenth, at least 100.
 * - FUZZ_CONCURRENCY: calls in flight (default 8).
 * - FUZZ_ONLY: only these cases, e.g. `NodePublishVolume#12,NodeUnpublishVolume#7` (as failures name them).
 */
export interface FuzzSettings {
  readonly seed: string
  readonly nodeRuns: number
  readonly otherRuns: number
  readonly concurrency: number
  readonly only: ReadonlySet<string> | undefined
}

const positiveInteger = (name: string, fallback: number): number => {
  const text = process.env[name]
  if (text === undefined || text === "") return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`)
  return value
}

export const fuzzSettings = (): FuzzSettings => {
  const nodeRuns = positiveInteger("FUZZ_RUNS", 3000)
  const only = process.env.FUZZ_ONLY
  return {
    seed: process.env.FUZZ_SEED || "20261203",
    nodeRuns,
    otherRuns: Math.max(100, Math.round(nodeRuns / 10)),
    concurrency: positiveInteger("FUZZ_CONCURRENCY", 8),
    only: only === undefined || only === "" ? undefined : new Set(only.split(",").map((name) => name.trim()))
  }
}
