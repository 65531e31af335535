/**
 * What deploy/image/build.sh made, in a few lines and a JSON file: the image digest, its size
 * (the archive, the compressed layers, unpacked), its layers and the SBOM's component counts.
 *
 *   node deploy/image/imageReport.ts --archive IMAGE.oci.tar --sbom IMAGE.cdx.json --seconds N --out IMAGE.build.json
 */
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import { parseArgs } from "node:util"
import { createGunzip } from "node:zlib"

interface Descriptor {
  readonly digest: string
  readonly size: number
}

const readFromArchive = (archive: string, member: string): Buffer => execFileSync("tar", ["-xOf", archive, member], { maxBuffer: 1 << 30 })
const readJson = <A>(archive: string, member: string): A => JSON.parse(readFromArchive(archive, member).toString("utf8")) as A
const blobPath = (digest: string): string => `blobs/${digest.replace(":", "/")}`

/** The bytes a gzip layer unpacks to, streamed out of the archive. */
const unpackedSize = (archive: string, digest: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-xOf", archive, blobPath(digest)], { stdio: ["ignore", "pipe", "inherit"] })
    let bytes = 0
    const gunzip = createGunzip()
    gunzip.on("data", (chunk: Buffer) => (bytes += chunk.length))
    gunzip.on("end", () => resolve(bytes))
    gunzip.on("error", reject)
    tar.on("error", reject)
    tar.stdout.pipe(gunzip)
  })

/** The SBOM's components by kind, as the report counts them. */
export const countComponents = (sbom: { components: ReadonlyArray<{ type: string; purl?: string }> }) => ({
  total: sbom.components.length,
  debian: sbom.components.filter((c) => c.purl?.startsWith("pkg:deb/") === true).length,
  npm: sbom.components.filter((c) => c.type === "library" && c.purl?.startsWith("pkg:npm/") === true).length,
  other: sbom.components.filter((c) => c.type !== "library").length
})

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

const main = async () => {
  const { values } = parseArgs({
    options: { archive: { type: "string" }, sbom: { type: "string" }, seconds: { type: "string" }, out: { type: "string" } }
  })
  const { archive, sbom, seconds, out } = values
  if (archive === undefined || sbom === undefined || seconds === undefined || out === undefined) {
    throw new Error("usage: imageReport.ts --archive IMAGE.oci.tar --sbom IMAGE.cdx.json --seconds N --out FILE")
  }
  const index = readJson<{ manifests: ReadonlyArray<Descriptor & { annotations?: Record<string, string> }> }>(archive, "index.json")
  const manifestDescriptor = index.manifests[0]
  if (manifestDescriptor === undefined || index.manifests.length !== 1) throw new Error(`${archive}: expected one manifest`)
  const manifest = readJson<{ config: Descriptor; layers: ReadonlyArray<Descriptor> }>(archive, blobPath(manifestDescriptor.digest))
  const layers: Array<{ digest: string; compressed: number; unpacked: number }> = []
  for (const layer of manifest.layers) layers.push({ digest: layer.digest, compressed: layer.size, unpacked: await unpackedSize(archive, layer.digest) })
  const counts = countComponents(JSON.parse(Fs.readFileSync(sbom, "utf8")))
  const report = {
    image: manifestDescriptor.annotations?.["org.opencontainers.image.ref.name"] ?? "",
    digest: manifestDescriptor.digest,
    imageId: manifest.config.digest,
    archiveBytes: Fs.statSync(archive).size,
    compressedBytes: layers.reduce((sum, layer) => sum + layer.compressed, 0),
    unpackedBytes: layers.reduce((sum, layer) => sum + layer.unpacked, 0),
    layers,
    sbom: { file: sbom, components: counts },
    buildSeconds: Number(seconds)
  }
  Fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(
    [
      `image: ${archive}`,
      `image digest: ${report.digest}`,
      `image size: ${megabytes(report.compressedBytes)} compressed, ${megabytes(report.unpackedBytes)} unpacked, ${layers.length} layers (${layers.map((l) => megabytes(l.unpacked)).join(" + ")})`,
      `image SBOM: ${counts.total} components (${counts.debian} Debian packages, ${counts.npm} npm packages, ${counts.other} more: the OS and Node) in ${sbom}`,
      `image build: ${report.buildSeconds} s`
    ].join("\n") + "\n"
  )
}

if (import.meta.main) await main()
