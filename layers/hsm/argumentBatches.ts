/**
 * Many files per `lfs` command, but bounded: at most `maxPaths` paths and about `maxBytes` bytes
 * of arguments per command, well inside the kernel's ARG_MAX (and its 128 KiB per argument), so
 * no command fails with E2BIG and none holds a request of unbounded size.
 */
export interface BatchLimits {
  readonly maxPaths: number
  readonly maxBytes: number
}

const encoder = new TextEncoder()

/** An argument's cost in argv: its UTF-8 bytes and the NUL after it. */
export const argumentBytes = (argument: string): number => encoder.encode(argument).length + 1

/**
 * `items` cut into consecutive batches within `limits` (`pathOf` names an item's path). An item
 * larger than `maxBytes` alone gets a batch of its own; every batch holds at least one item.
 */
export const batchWithin = <A>(
  items: ReadonlyArray<A>,
  limits: BatchLimits,
  pathOf: (item: A) => string
): ReadonlyArray<ReadonlyArray<A>> => {
  const maxPaths = Math.max(1, Math.floor(limits.maxPaths))
  const batches: Array<Array<A>> = []
  let current: Array<A> = []
  let bytes = 0
  for (const item of items) {
    const cost = argumentBytes(pathOf(item))
    if (current.length > 0 && (current.length >= maxPaths || bytes + cost > limits.maxBytes)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += cost
  }
  if (current.length > 0) batches.push(current)
  return batches
}

/** Paths cut into batches within `limits`. */
export const batchPaths = (paths: ReadonlyArray<string>, limits: BatchLimits): ReadonlyArray<ReadonlyArray<string>> =>
  batchWithin(paths, limits, (path) => path)

/**
 * Why lfs must not be given `path`, or undefined when it may. A relative path would be read
 * against the node plugin's own directory, and one starting with "-" as an option; a NUL
 * cannot be passed in argv at all.
 */
export const refusedPath = (path: string): string | undefined =>
  !path.startsWith("/")
    ? "not an absolute path: lfs would read it from the node plugin's working directory, or as an option"
    : path.includes("\0")
    ? "the path holds a NUL byte, which no command argument can carry"
    : undefined
