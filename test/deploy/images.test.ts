/**
 * The driver's image is set in one place: `image.repository`, `image.tag` (and `image.digest`) in
 * the chart, the `images:` entry of deploy/kustomization.yaml for the plain manifests. Every
 * container that runs the driver, in every manifest and template, takes it from there, and one
 * version runs through package.json, the chart, the manifests and the Containerfile.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Yaml from "yaml"
import { describe, expect, it } from "vitest"
import { allRendered, chartDir, chartMetadata, defaultValues, deployDir, KUSTOMIZATION, type KubeObject, plainManifestFiles, readDocuments, repoRoot, templateFiles } from "./deployFiles.js"
import { at, containersOf, kindOf, nameOf, text } from "./objects.js"

const packageVersion: string = (JSON.parse(Fs.readFileSync(Path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version
const SIDECARS = /^registry\.k8s\.io\/sig-storage\/[a-z-]+:v\d+\.\d+\.\d+$/

interface KustomizeImage {
  readonly name: string
  readonly newName?: string
  readonly newTag?: string
  readonly digest?: string
}

const kustomization = () =>
  Yaml.parse(Fs.readFileSync(Path.join(deployDir, KUSTOMIZATION), "utf8")) as { kind: string; resources: ReadonlyArray<string>; images: ReadonlyArray<KustomizeImage> }

/** An image reference's name: without its tag and digest. */
const imageName = (image: string): string => image.replace(/@sha256:[0-9a-f]+$/, "").replace(/:[^:/]+$/, "")

/** kustomize's images transformer: an entry replaces the name, tag and digest of the images it names. */
const kustomizeImages = (objects: ReadonlyArray<KubeObject>, entries: ReadonlyArray<KustomizeImage>): ReadonlyArray<KubeObject> => {
  const rewrite = (image: string): string => {
    const entry = entries.find((candidate) => candidate.name === imageName(image))
    if (entry === undefined) return image
    const tag = entry.newTag ?? /:([^:/@]+)(@|$)/.exec(image.slice(imageName(image).length))?.[1]
    return `${entry.newName ?? entry.name}${tag === undefined ? "" : `:${tag}`}${entry.digest === undefined ? "" : `@${entry.digest}`}`
  }
  const visit = (value: unknown, key: string): unknown =>
    Array.isArray(value)
      ? value.map((item) => visit(item, key))
      : value !== null && typeof value === "object"
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, k)]))
        : key === "image" && typeof value === "string"
          ? rewrite(value)
          : value
  return objects.map((object) => visit(object, "") as KubeObject)
}

/** Every container of every workload, with where it is. */
const containers = (objects: ReadonlyArray<KubeObject>) =>
  objects
    .filter((object) => ["Deployment", "DaemonSet", "StatefulSet", "Job", "Pod"].includes(kindOf(object)))
    .flatMap((object) => containersOf(object).map((c) => ({ at: `${kindOf(object)} ${nameOf(object)}, container ${text(c["name"], "name")}`, image: text(c["image"], "image"), c })))

/** The driver's containers: all but the pinned Kubernetes sidecars. */
const driverContainers = (objects: ReadonlyArray<KubeObject>) => containers(objects).filter((c) => !SIDECARS.test(c.image))

const plain = () => plainManifestFiles().flatMap(readDocuments)

describe("the driver's image, in one place", () => {
  it("one version: package.json, the chart, the plain manifests, kustomization.yaml and the Containerfile", () => {
    expect(chartMetadata()["appVersion"]).toBe(packageVersion)
    expect(driverContainers(plain()).map((c) => `${c.at}: ${c.image}`)).toEqual(driverContainers(plain()).map((c) => `${c.at}: azurelustre-csi:${packageVersion}`))
    expect(kustomization().images).toEqual([{ name: "azurelustre-csi", newName: "azurelustre-csi", newTag: packageVersion }])
    const containerfile = Fs.readFileSync(Path.join(deployDir, "Containerfile"), "utf8")
    expect(containerfile).toContain(`ARG VERSION=${packageVersion}\n`)
  })

  it("kustomization.yaml lists exactly the plain manifests, and its image entry reaches every driver container", () => {
    const { kind, resources } = kustomization()
    expect(kind).toBe("Kustomization")
    expect([...resources].sort()).toEqual(plainManifestFiles())
    const objects = kustomizeImages(plain(), [{ name: "azurelustre-csi", newName: "myacr.azurecr.io/azurelustre-csi", newTag: "0.2.0", digest: "sha256:0123abcd" }])
    const drivers = driverContainers(objects)
    // The controller's and the node plugin's driver containers at least (and any init container running the driver).
    expect(drivers.map((c) => c.at)).toEqual(
      expect.arrayContaining(["Deployment csi-azurelustre-controller, container azurelustre", "DaemonSet csi-azurelustre-node, container azurelustre"])
    )
    for (const c of drivers) expect(c.image, c.at).toBe("myacr.azurecr.io/azurelustre-csi:0.2.0@sha256:0123abcd")
    // The sidecars keep their pinned images.
    expect(containers(objects).filter((c) => SIDECARS.test(c.image)).length).toBeGreaterThanOrEqual(3)
  })

  it("every image line of the chart's templates is the driver's image helper or a sidecar's value", () => {
    const allowed = [/^\{\{ include "azurelustre-csi\.driverImage" \. \}\}$/, /^\{\{ \.Values\.sidecarImages\.(\w+)\.repository \}\}:\{\{ \.Values\.sidecarImages\.\1\.tag \}\}$/]
    const lines = templateFiles()
      .filter((file) => file.endsWith(".yaml"))
      .flatMap((file) =>
        Fs.readFileSync(Path.join(chartDir, "templates", file), "utf8")
          .split("\n")
          .flatMap((line, index) => {
            const match = /^\s*(?:-\s*)?image:\s*(.*?)\s*$/.exec(line)
            return match === null ? [] : [{ at: `${file}:${index + 1}`, value: match[1] ?? "" }]
          })
      )
    expect(lines.length).toBeGreaterThanOrEqual(6)
    expect(lines.filter((line) => !allowed.some((pattern) => pattern.test(line.value)))).toEqual([])
  })

  it("the chart's image.repository, image.tag, image.digest and image.pullPolicy set every driver container, and only those", () => {
    expect(at(defaultValues(), "image")).toEqual({ repository: "azurelustre-csi", tag: "", digest: "", pullPolicy: "IfNotPresent" })
    const variants = [
      { values: {}, image: `azurelustre-csi:${packageVersion}`, pullPolicy: "IfNotPresent" },
      { values: { repository: "myacr.azurecr.io/azurelustre-csi", tag: "0.2.0", pullPolicy: "Always" }, image: "myacr.azurecr.io/azurelustre-csi:0.2.0", pullPolicy: "Always" },
      { values: { repository: "myacr.azurecr.io/azurelustre-csi", digest: "sha256:0123abcd" }, image: `myacr.azurecr.io/azurelustre-csi:${packageVersion}@sha256:0123abcd`, pullPolicy: "IfNotPresent" }
    ]
    for (const variant of variants) {
      // The optional containers too: the livenessprobe sidecars.
      const objects = allRendered({
        values: { image: variant.values, controller: { livenessProbeSidecar: { enabled: true } }, node: { livenessProbeSidecar: { enabled: true } } }
      })
      const drivers = driverContainers(objects)
      expect(drivers.length).toBeGreaterThanOrEqual(2)
      for (const c of drivers) expect({ at: c.at, image: c.image, pullPolicy: c.c["imagePullPolicy"] }).toEqual({ at: c.at, image: variant.image, pullPolicy: variant.pullPolicy })
      expect(containers(objects).filter((c) => SIDECARS.test(c.image)).map((c) => c.at)).toHaveLength(5)
    }
  })
})
