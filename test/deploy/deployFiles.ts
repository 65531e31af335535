/**
 * The files under deploy/: the plain manifests, the examples, and the Helm chart rendered with
 * test/deploy/goTemplate.ts as `helm template` would render it.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Yaml from "yaml"
import { Chart, type Value } from "./goTemplate.js"

export const repoRoot = Path.resolve(import.meta.dirname, "../..")
export const deployDir = Path.join(repoRoot, "deploy")
export const chartDir = Path.join(deployDir, "chart", "azurelustre-csi")

/** A plain JSON-like value, as parsed YAML is; anything else is refused. */
export const asValue = (input: unknown, at: string): Value => {
  if (input === null || typeof input === "string" || typeof input === "boolean") return input
  if (typeof input === "number") {
    if (!Number.isFinite(input)) throw new Error(`${at}: ${input} is not a JSON number`)
    return input
  }
  if (Array.isArray(input)) return input.map((item, index) => asValue(item, `${at}[${index}]`))
  if (typeof input === "object" && Object.getPrototypeOf(input) === Object.prototype) {
    return Object.fromEntries(Object.entries(input).map(([key, item]) => [key, asValue(item, `${at}.${key}`)]))
  }
  throw new Error(`${at}: not a plain YAML value (${typeof input})`)
}

export type KubeObject = { readonly [key: string]: Value }

const isObject = (value: Value): value is KubeObject => value !== null && typeof value === "object" && !Array.isArray(value)

/** The YAML documents of a text; documents that are empty (comments only) are left out. */
export const parseDocuments = (text: string, file: string): ReadonlyArray<KubeObject> => {
  const documents = Yaml.parseAllDocuments(text)
  if (!Array.isArray(documents)) throw new Error(`${file}: not a YAML stream`)
  const out: Array<KubeObject> = []
  for (const [index, document] of documents.entries()) {
    if (document.errors.length > 0) throw new Error(`${file}, document ${index + 1}: ${document.errors.map((e) => e.message).join("; ")}`)
    const value = asValue(document.toJS(), `${file}#${index + 1}`)
    if (value === null) continue
    if (!isObject(value)) throw new Error(`${file}, document ${index + 1}: not a mapping`)
    out.push(value)
  }
  return out
}

/** kustomize's file (deploy/kustomization.yaml): the list of the manifests and the image, not an object. */
export const KUSTOMIZATION = "kustomization.yaml"

/** Every *.yaml under `dir` (recursively), relative to deploy/, sorted; the chart's templates and kustomization.yaml left out. */
export const yamlFiles = (dir: string = deployDir): ReadonlyArray<string> =>
  Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".yaml") || file.endsWith(".yml"))
    .map((file) => Path.relative(deployDir, Path.join(dir, file)))
    .filter((file) => !file.startsWith(Path.join("chart", "azurelustre-csi", "templates")) && file !== KUSTOMIZATION)
    .sort()

export const readDocuments = (fileInDeploy: string): ReadonlyArray<KubeObject> =>
  parseDocuments(Fs.readFileSync(Path.join(deployDir, fileInDeploy), "utf8"), fileInDeploy)

/** The manifests `kubectl apply -k deploy/` applies: the *.yaml directly in deploy/ but kustomization.yaml. */
export const plainManifestFiles = (): ReadonlyArray<string> =>
  Fs.readdirSync(deployDir).filter((file) => file.endsWith(".yaml") && file !== KUSTOMIZATION).sort()

// ---------------------------------------------------------------------------------------------
// The chart.

const readYamlValue = (file: string): Value => asValue(Yaml.parse(Fs.readFileSync(file, "utf8")), file)

const once = <A>(make: () => A): () => A => {
  let made: { readonly value: A } | undefined
  return () => (made ??= { value: make() }).value
}

export const chartMetadata = once((): KubeObject => {
  const value = readYamlValue(Path.join(chartDir, "Chart.yaml"))
  if (!isObject(value)) throw new Error("Chart.yaml is not a mapping")
  return value
})

export const defaultValues = once((): KubeObject => {
  const value = readYamlValue(Path.join(chartDir, "values.yaml"))
  if (!isObject(value)) throw new Error("values.yaml is not a mapping")
  return value
})

/** Helm's merge of user values over the chart's: maps merge, anything else replaces, null removes. */
export const mergeValues = (base: KubeObject, overrides: KubeObject): KubeObject => {
  const out: Record<string, Value> = { ...base }
  for (const [key, value] of Object.entries(overrides)) {
    const current = out[key]
    if (value === null) delete out[key]
    else if (isObject(value) && current !== undefined && isObject(current)) out[key] = mergeValues(current, value)
    else out[key] = value
  }
  return out
}

export const templateFiles = (): ReadonlyArray<string> =>
  Fs.readdirSync(Path.join(chartDir, "templates")).filter((file) => file.endsWith(".yaml") || file.endsWith(".tpl")).sort()

let parsedChart: Chart | undefined

const chart = (): Chart => {
  parsedChart ??= new Chart(
    templateFiles().map((name) => ({ name, source: Fs.readFileSync(Path.join(chartDir, "templates", name), "utf8") }))
  )
  return parsedChart
}

export interface RenderOptions {
  readonly values?: KubeObject
  readonly namespace?: string
}

/** `helm template azurelustre-csi deploy/chart/azurelustre-csi --namespace <ns> --set ...`, per template file. */
export const renderChartFiles = (options: RenderOptions = {}): ReadonlyMap<string, string> => {
  const metadata = chartMetadata()
  const data: Value = {
    Values: mergeValues(defaultValues(), options.values ?? {}),
    Release: { Name: "azurelustre-csi", Namespace: options.namespace ?? "kube-system", Service: "Helm", IsInstall: true },
    Chart: { Name: metadata["name"] ?? null, Version: metadata["version"] ?? null, AppVersion: metadata["appVersion"] ?? null }
  }
  const out = new Map<string, string>()
  for (const name of templateFiles()) {
    if (name.startsWith("_")) continue
    out.set(name, chart().render(name, data))
  }
  return out
}

const renderDefaults = once(() =>
  new Map([...renderChartFiles()].map(([name, text]) => [name, parseDocuments(text, `templates/${name}`)]))
)

/** The objects the chart renders, per template file (treat them as read-only). */
export const renderChart = (options: RenderOptions = {}): ReadonlyMap<string, ReadonlyArray<KubeObject>> =>
  options.values === undefined && options.namespace === undefined
    ? renderDefaults()
    : new Map([...renderChartFiles(options)].map(([name, text]) => [name, parseDocuments(text, `templates/${name}`)]))

export const allRendered = (options: RenderOptions = {}): ReadonlyArray<KubeObject> => [...renderChart(options).values()].flat()
