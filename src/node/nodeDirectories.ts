import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/** A directory the node plugin needs could not be made or resolved at start. */
export class NodeDirectoryError extends Schema.TaggedError<NodeDirectoryError>()("NodeDirectoryError", {
  message: Schema.String
}) {}

export interface NodeDirectories {
  /** `<kubelet-dir>/pods`, canonical. */
  readonly podsDir: string
  readonly mountRoot: string
}

const canonical = (flag: string, path: string) =>
  Effect.tryPromise({
    try: async () => {
      await Fs.mkdir(path, { recursive: true })
      return await Fs.realpath(path)
    },
    catch: (error) => new NodeDirectoryError({ message: `${flag} ${path}: ${error instanceof Error ? error.message : String(error)}` })
  })

/**
 * The kubelet pods directory and the mount root in the kernel's spelling (symlinks resolved,
 * no trailing or doubled slashes), made if missing: the mount table names mount points that way,
 * and every check of "is this path ours" compares against these two.
 */
export const resolveNodeDirectories = (kubeletDir: string, mountRoot: string): Effect.Effect<NodeDirectories, NodeDirectoryError> =>
  Effect.all({
    podsDir: canonical("--kubelet-dir", Path.join(kubeletDir, "pods")),
    mountRoot: canonical("--mount-root", mountRoot)
  })
