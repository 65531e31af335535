import type { MountEntry } from "./LustreShell.js"

/**
 * /proc/self/mountinfo, as proc(5) describes it, one mount a line:
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)  (4)   (5)      (6)      (7)   (8) (9)    (10)         (11)
 *
 * mount id, parent id, major:minor, root, mount point, mount options, zero or more optional
 * fields (shared:N, master:N, ...), a "-", filesystem type, source, super options.
 *
 * The kernel writes space, tab, newline and backslash in paths as octal escapes (\040 \011 \012
 * \134), so fields split on single spaces. Each option is decoded after splitting on commas:
 * option values escape commas the same way (\054).
 */

const escaped = /\\([0-7]{3})/g

/** Decodes the kernel's octal escapes (\040 → " "); a backslash not followed by three octal digits stays. */
export const decodeMountInfoField = (field: string): string =>
  field.replace(escaped, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))

/** Escapes what the kernel escapes in a path (space, tab, newline, backslash). */
export const encodeMountInfoField = (field: string): string =>
  field.replace(/[ \t\n\\]/g, (character) => `\\${character.charCodeAt(0).toString(8).padStart(3, "0")}`)

const options = (field: string): ReadonlyArray<string> =>
  field === "" ? [] : field.split(",").map(decodeMountInfoField)

const integer = /^\d+$/
const device = /^\d+:\d+$/

/** One mountinfo line, or undefined when it does not have the shape proc(5) gives it. */
export const parseMountInfoLine = (line: string): MountEntry | undefined => {
  const fields = line.split(" ")
  // The optional fields end at the first lone "-" after the six fixed fields.
  const separator = fields.indexOf("-", 6)
  if (separator === -1 || fields.length !== separator + 4) return undefined
  const [mountId, parentId, majorMinor, root, mountPoint, mountOptions] = fields
  const fsType = fields[separator + 1]
  const source = fields[separator + 2]
  const superOptions = fields[separator + 3]
  if (
    mountId === undefined || !integer.test(mountId) || parentId === undefined || !integer.test(parentId) ||
    majorMinor === undefined || !device.test(majorMinor) || root === undefined || root === "" ||
    mountPoint === undefined || mountPoint === "" || mountOptions === undefined || fsType === undefined ||
    fsType === "" || source === undefined || superOptions === undefined
  ) {
    return undefined
  }
  return {
    mountId: Number(mountId),
    parentId: Number(parentId),
    device: majorMinor,
    root: decodeMountInfoField(root),
    mountPoint: decodeMountInfoField(mountPoint),
    options: options(mountOptions),
    fsType: decodeMountInfoField(fsType),
    source: decodeMountInfoField(source),
    superOptions: options(superOptions)
  }
}

export interface ParsedMountInfo {
  readonly entries: Array<MountEntry>
  /** Lines that are not mountinfo lines; the kernel never writes one, so any is worth an error. */
  readonly malformed: ReadonlyArray<string>
}

/** The text of /proc/self/mountinfo, in the kernel's order (a later mount stacks on an earlier one). */
export const parseMountInfo = (text: string): ParsedMountInfo => {
  const entries: Array<MountEntry> = []
  const malformed: Array<string> = []
  for (const line of text.split("\n")) {
    if (line === "") continue
    const entry = parseMountInfoLine(line)
    if (entry === undefined) malformed.push(line)
    else entries.push(entry)
  }
  return { entries, malformed }
}

/** The line the kernel would write for `entry`, with the optional fields given (e.g. ["shared:1"]). */
export const formatMountInfoLine = (entry: MountEntry, optionalFields: ReadonlyArray<string> = []): string =>
  [
    String(entry.mountId),
    String(entry.parentId),
    entry.device,
    encodeMountInfoField(entry.root),
    encodeMountInfoField(entry.mountPoint),
    entry.options.map(encodeOption).join(","),
    ...optionalFields,
    "-",
    encodeMountInfoField(entry.fsType),
    encodeMountInfoField(entry.source),
    entry.superOptions.map(encodeOption).join(",")
  ].join(" ")

const encodeOption = (option: string): string => encodeMountInfoField(option).replaceAll(",", "\\054")
