/**
 * An OCI image archive (what deploy/image/build.sh writes), read the way a registry or a runtime
 * would: index.json, the manifest, the config, and each layer's files (a gzip tar), without
 * unpacking anything to disk.
 */
import { execFileSync } from "node:child_process"
import { gunzipSync } from "node:zlib"

export interface Descriptor {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
  readonly annotations?: Readonly<Record<string, string>>
}

export interface ImageConfig {
  readonly created: string
  readonly architecture: string
  readonly os: string
  readonly config: {
    readonly User?: string
    readonly Env?: ReadonlyArray<string>
    readonly Entrypoint?: ReadonlyArray<string>
    readonly Cmd?: ReadonlyArray<string>
    readonly Labels?: Readonly<Record<string, string>>
  }
  readonly rootfs: { readonly diff_ids: ReadonlyArray<string> }
}

export interface LayerEntry {
  /** Without a leading ./ or /; directories without their trailing /. */
  readonly path: string
  readonly type: "file" | "directory" | "symlink" | "hardlink" | "other"
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtime: number
  readonly linkTarget: string
  readonly data: Buffer
}

const member = (archive: string, path: string): Buffer => execFileSync("tar", ["-xOf", archive, path], { maxBuffer: 1 << 30 })
const blob = (archive: string, digest: string): Buffer => member(archive, `blobs/${digest.replace(":", "/")}`)
const json = <A>(bytes: Buffer): A => JSON.parse(bytes.toString("utf8")) as A

export const readImage = (archive: string) => {
  const index = json<{ manifests: ReadonlyArray<Descriptor> }>(member(archive, "index.json"))
  if (index.manifests.length !== 1) throw new Error(`${archive}: ${index.manifests.length} manifests, expected one`)
  const manifestDescriptor = index.manifests[0]!
  const manifest = json<{ config: Descriptor; layers: ReadonlyArray<Descriptor> }>(blob(archive, manifestDescriptor.digest))
  const config = json<ImageConfig>(blob(archive, manifest.config.digest))
  return {
    manifestDescriptor,
    /** The image digest: what `docker pull <name>@<digest>` names. */
    digest: manifestDescriptor.digest,
    manifest,
    config,
    /** The files of the layer at `index`, in archive order. */
    layer: (index: number): ReadonlyArray<LayerEntry> => {
      const descriptor = manifest.layers[index]
      if (descriptor === undefined) throw new Error(`${archive}: no layer ${index}`)
      return tarEntries(gunzipSync(blob(archive, descriptor.digest)))
    }
  }
}

const text = (block: Buffer, start: number, length: number): string => {
  const field = block.subarray(start, start + length)
  const end = field.indexOf(0)
  return field.subarray(0, end < 0 ? field.length : end).toString("utf8")
}
const octal = (block: Buffer, start: number, length: number): number => Number.parseInt(text(block, start, length).trim() || "0", 8)

/** PAX extended header records ("<length> <key>=<value>\n"). */
const paxRecords = (data: Buffer): ReadonlyMap<string, string> => {
  const records = new Map<string, string>()
  let offset = 0
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset)
    const length = Number(data.subarray(offset, space).toString("ascii"))
    if (!Number.isInteger(length) || length <= 0) break
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8")
    const equals = record.indexOf("=")
    records.set(record.slice(0, equals), record.slice(equals + 1))
    offset += length
  }
  return records
}

const typeOf = (flag: string): LayerEntry["type"] =>
  flag === "0" || flag === "" || flag === "7" ? "file" : flag === "5" ? "directory" : flag === "2" ? "symlink" : flag === "1" ? "hardlink" : "other"

/** The entries of an uncompressed tar stream (ustar, with PAX and GNU long-name headers). */
export const tarEntries = (tar: Buffer): ReadonlyArray<LayerEntry> => {
  const entries: Array<LayerEntry> = []
  let offset = 0
  let pending: { path?: string; linkTarget?: string } = {}
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((byte) => byte === 0)) break
    const size = octal(header, 124, 12)
    const flag = text(header, 156, 1)
    const data = tar.subarray(offset + 512, offset + 512 + size)
    offset += 512 + Math.ceil(size / 512) * 512
    if (flag === "x") {
      const records = paxRecords(data)
      pending = { ...pending, ...(records.has("path") ? { path: records.get("path")! } : {}), ...(records.has("linkpath") ? { linkTarget: records.get("linkpath")! } : {}) }
      continue
    }
    if (flag === "g") continue
    if (flag === "L" || flag === "K") {
      const value = data.toString("utf8").replace(/\0+$/, "")
      pending = flag === "L" ? { ...pending, path: value } : { ...pending, linkTarget: value }
      continue
    }
    const prefix = text(header, 345, 155)
    const rawPath = pending.path ?? (prefix === "" ? text(header, 0, 100) : `${prefix}/${text(header, 0, 100)}`)
    entries.push({
      path: rawPath.replace(/^\.?\//, "").replace(/\/$/, ""),
      type: typeOf(flag),
      // Permission bits only: some writers (Go's archive/tar) add the file type bits.
      mode: octal(header, 100, 8) & 0o7777,
      uid: octal(header, 108, 8),
      gid: octal(header, 116, 8),
      mtime: octal(header, 136, 12),
      linkTarget: pending.linkTarget ?? text(header, 157, 100),
      data
    })
    pending = {}
  }
  return entries
}
