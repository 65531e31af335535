import * as Result from "effect/Result"

/**
 * Paths the node plugin is handed (target_path, volume_path) and the directories it walks
 * (sub-dir). A path is used only in canonical form, so a publish and its unpublish always name
 * the same mount point as the kernel's mount table spells it: `//`, `/./` and a trailing `/`
 * are normalised away; `..` is refused, because resolving it lexically can disagree with the
 * filesystem when a component is a symlink, and kubelet never sends one.
 */

/** Linux NAME_MAX: the longest file name, in bytes. */
export const NAME_MAX = 255
/** Linux PATH_MAX: the longest path, in bytes, with its terminating NUL. */
export const PATH_MAX = 4096

const byteLength = (text: string): number => Buffer.byteLength(text, "utf8")

/** The components of a relative path ("" and "." dropped), or why it cannot name a directory. */
export const pathComponents = (field: string, path: string): Result.Result<ReadonlyArray<string>, string> => {
  if (path.includes("\0")) return Result.fail(`${field} contains a NUL byte; a path cannot hold one`)
  if (byteLength(path) >= PATH_MAX) {
    return Result.fail(`${field} is ${byteLength(path)} bytes long; Linux paths are shorter than ${PATH_MAX} bytes`)
  }
  const components = path.split("/").filter((component) => component !== "" && component !== ".")
  if (components.includes("..")) return Result.fail(`${field} contains a ".." component; write the path without it`)
  const long = components.find((component) => byteLength(component) > NAME_MAX)
  if (long !== undefined) {
    return Result.fail(
      `${field} has a component of ${byteLength(long)} bytes (${JSON.stringify(long.slice(0, 40))}...); ` +
        `a file name is at most ${NAME_MAX} bytes`
    )
  }
  return Result.succeed(components)
}

/** An absolute path in canonical form ("/a/b"), or why it is not one. */
export const canonicalAbsolutePath = (field: string, path: string): Result.Result<string, string> => {
  if (!path.startsWith("/")) return Result.fail(`${field} must be an absolute path`)
  return Result.map(pathComponents(field, path), (components) => `/${components.join("/")}`)
}

/** The components of `path` below `root` (both canonical), or undefined when it is not strictly below. */
export const componentsBelow = (root: string, path: string): ReadonlyArray<string> | undefined => {
  const prefix = root === "/" ? "/" : `${root}/`
  if (!path.startsWith(prefix) || path.length === prefix.length) return undefined
  return path.slice(prefix.length).split("/")
}
