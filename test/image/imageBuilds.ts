/**
 * The two image builds the image tests check: the ones .ci/run made (AZURELUSTRE_CSI_IMAGE_BUILDS
 * names their two output folders, colon-separated), or, without it, two that the tests make
 * themselves with deploy/image/build.sh (a few minutes; needs root, buildah and mmdebstrap).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const repoRoot = Path.resolve(import.meta.dirname, "../..")
export const packageVersion: string = (JSON.parse(Fs.readFileSync(Path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version
export const BUILDS_VARIABLE = "AZURELUSTRE_CSI_IMAGE_BUILDS"

export interface ImageBuild {
  readonly dir: string
  readonly archive: string
  readonly sbomPath: string
  readonly reportPath: string
}

const buildIn = (dir: string): ImageBuild => {
  const name = `azurelustre-csi-${packageVersion}`
  const build = {
    dir,
    archive: Path.join(dir, `${name}.oci.tar`),
    sbomPath: Path.join(dir, `${name}.cdx.json`),
    reportPath: Path.join(dir, `${name}.build.json`)
  }
  for (const file of [build.archive, build.sbomPath, build.reportPath]) {
    if (!Fs.existsSync(file)) throw new Error(`${file} is missing: deploy/image/build.sh --out ${dir} failed or did not run (its output says why)`)
  }
  return build
}

const has = (tool: string): boolean => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0

/** Why this machine cannot build the image, if it cannot. */
const cannotBuild = (): string | undefined => {
  if (process.getuid?.() !== 0) return "they run as root (mmdebstrap and Buildah's chroot isolation need it)"
  const missing = ["buildah", "mmdebstrap"].filter((tool) => !has(tool))
  return missing.length === 0 ? undefined : `${missing.join(" and ")} (apt-get install buildah mmdebstrap)`
}

export interface ImageBuilds {
  readonly builds: readonly [ImageBuild, ImageBuild]
  /** Removes the builds the tests made (none of those .ci/run made). */
  readonly dispose: () => void
}

/** Two builds of this commit, from one clone: given by .ci/run, or made here. */
export const imageBuilds = (): ImageBuilds => {
  const given = process.env[BUILDS_VARIABLE]
  if (given !== undefined && given !== "") {
    const dirs = given.split(":")
    if (dirs.length !== 2) throw new Error(`${BUILDS_VARIABLE} must name two build folders separated by ':', not ${given}`)
    return { builds: [buildIn(dirs[0]!), buildIn(dirs[1]!)], dispose: () => {} }
  }
  const missing = cannotBuild()
  if (missing !== undefined) {
    throw new Error(`the image tests build the image twice, and need ${missing}; or set ${BUILDS_VARIABLE}=<dir>:<dir> to two deploy/image/build.sh --out folders`)
  }
  const scratch = Fs.mkdtempSync(Path.join(Os.tmpdir(), "azurelustre-csi-image-"))
  // One commit time and revision for both builds, even if HEAD moves in between.
  const env = {
    ...process.env,
    SOURCE_DATE_EPOCH: execFileSync("git", ["-C", repoRoot, "log", "-1", "--format=%ct"], { encoding: "utf8" }).trim(),
    REVISION: execFileSync("git", ["-C", repoRoot, "rev-parse", "HEAD"], { encoding: "utf8" }).trim()
  }
  const build = (n: number): ImageBuild => {
    const dir = Path.join(scratch, `build-${n}`)
    execFileSync(Path.join(repoRoot, "deploy/image/build.sh"), ["--out", dir, "--deb-cache", Path.join(scratch, "debs")], {
      env,
      stdio: ["ignore", "ignore", "inherit"]
    })
    return buildIn(dir)
  }
  return { builds: [build(1), build(2)], dispose: () => Fs.rmSync(scratch, { recursive: true, force: true }) }
}
