/**
 * The hosted pipeline (.github/workflows/image.yml) gates the image as it says: Trivy on the image
 * and on its SBOM failing on HIGH and CRITICAL, npm audit, a reproducibility check; and every
 * input is pinned exactly (actions by commit, the container by digest, Debian's packages and
 * Trivy by version). .ci/run builds the images that test/image/image.test.ts checks.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Yaml from "yaml"
import { describe, expect, it } from "vitest"
import { BUILDS_VARIABLE, repoRoot } from "./imageBuilds.js"

interface Step {
  readonly name?: string
  readonly uses?: string
  readonly run?: string
  readonly with?: Readonly<Record<string, string>>
}
interface Job {
  readonly "runs-on": string
  readonly container?: { readonly image: string }
  readonly steps: ReadonlyArray<Step>
}

const workflow = Yaml.parse(Fs.readFileSync(Path.join(repoRoot, ".github/workflows/image.yml"), "utf8")) as { jobs: Record<string, Job> }
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps)
const runs = steps.flatMap((step) => (step.run === undefined ? [] : [step.run])).join("\n")

describe(".github/workflows/image.yml", () => {
  it("pins every action by commit, the build container by digest, Debian's packages and Trivy by version", () => {
    for (const step of steps.filter((s) => s.uses !== undefined)) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/)
    for (const job of Object.values(workflow.jobs)) {
      expect(job["runs-on"]).toMatch(/^ubuntu-\d+\.\d+$/)
      if (job.container !== undefined) expect(job.container.image).toMatch(/^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/)
    }
    const installs = [...runs.matchAll(/apt-get install ((?:[^\n\\]|\\\n)*)/g)].flatMap((m) => (m[1] ?? "").split(/\s+/).filter((word) => word !== "" && word !== "\\" && !word.startsWith("-")))
    expect(installs).toEqual(expect.arrayContaining([expect.stringMatching(/^buildah=/), expect.stringMatching(/^mmdebstrap=/)]))
    for (const pkg of installs) expect(pkg).toMatch(/^[a-z0-9.+-]+=[\w.:~+-]+$/)
    // The build container is the Containerfile's builder.
    const builder = /ARG BUILDER=(\S+)/.exec(Fs.readFileSync(Path.join(repoRoot, "deploy/Containerfile"), "utf8"))?.[1]
    expect(workflow.jobs["build"]?.container?.image).toBe(builder)
  })

  it("fails on HIGH and CRITICAL findings of Trivy, in the image and in its SBOM", () => {
    const trivy = steps.filter((step) => step.uses?.startsWith("aquasecurity/trivy-action@") === true)
    expect(trivy.map((step) => step.with?.["scan-type"] ?? "image")).toEqual(["image", "sbom"])
    for (const step of trivy) {
      expect(step.with).toMatchObject({ severity: "HIGH,CRITICAL", "exit-code": "1", version: expect.stringMatching(/^v\d+\.\d+\.\d+$/) })
    }
    expect(trivy[0]?.with?.["input"]).toBe("${{ steps.files.outputs.archive }}")
    expect(trivy[1]?.with?.["scan-ref"]).toBe("${{ steps.files.outputs.sbom }}")
    expect(runs).toContain('echo "archive=$(ls image/*.oci.tar)"')
    expect(runs).toContain('echo "sbom=$(ls image/*.cdx.json)"')
  })

  it("runs npm audit --omit=dev through deploy/image/audit.ts (a refused audit fails the job), and builds twice, comparing digests", () => {
    expect(runs).toContain("node_modules/.bin/node deploy/image/audit.ts")
    expect(runs.match(/deploy\/image\/build\.sh --out/g)).toHaveLength(2)
    expect(runs).toContain('[ "$first" = "$again" ]')
  })
})

describe(".ci/run", () => {
  const ci = Fs.readFileSync(Path.join(repoRoot, ".ci/run"), "utf8")

  it("installs buildah and mmdebstrap with apt-get, builds the image twice and hands both builds to npm test", () => {
    expect(ci).toMatch(/apt-get install -y -qq buildah mmdebstrap/)
    expect(ci).toMatch(/for build in 1 2; do\n\s+deploy\/image\/build\.sh --out "\$image_builds\/\$build"/)
    expect(ci).toContain(`export ${BUILDS_VARIABLE}="$image_builds/1:$image_builds/2"`)
    expect(ci.indexOf(`export ${BUILDS_VARIABLE}`)).toBeLessThan(ci.indexOf("\nnpm test"))
  })
})
