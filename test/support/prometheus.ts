/** One sample of Prometheus text: `name{label="value",...} number`. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a Prometheus text exposition (comments skipped). */
export const parsePrometheus = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").flatMap((line) => {
    const match = SAMPLE.exec(line)
    if (match === null) return []
    const labels = Object.fromEntries([...(match[2] ?? "").matchAll(LABEL)].map((m) => [m[1]!, m[2]!]))
    return [{ name: match[1]!, labels, value: Number(match[3]) }]
  })

/** The sum of the samples named `name` whose labels include `labels`. */
export const sampleSum = (text: string, name: string, labels: Readonly<Record<string, string>> = {}): number =>
  parsePrometheus(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)
