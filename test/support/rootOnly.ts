import { it as effectIt, layer as effectLayer } from "@effect/vitest"
import { describe } from "vitest"

/** Whether the tests run as root. The simulation's mounts are real bind mounts, and mount(2) needs root. */
export const runsAsRoot = process.getuid?.() === 0

/**
 * `describe` and @effect/vitest's `layer` for suites that need root, skipped when the tests run
 * as any other user. Call it once at the top of a file: when it skips, it prints the file's one
 * reason (vitest shows it under the file's name), so a non-root run passes or says why it skipped.
 */
export const rootOnly = (reason = "needs root for bind mounts") => {
  if (!runsAsRoot) console.log(`skipped: ${reason} (the tests run as uid ${process.getuid?.()})`)
  const layer: typeof effectLayer = runsAsRoot ? effectLayer : () => {
    function skipped(nameOrTests: unknown, tests?: unknown) {
      const [name, register] = typeof nameOrTests === "string" ? [nameOrTests, tests] : ["", nameOrTests]
      // Registered inside a skipped suite, the tests are listed as skipped and their layer is never built.
      describe.skip(name, () => (register as (it: typeof effectIt) => void)(effectIt))
    }
    return skipped
  }
  return { describe: describe.skipIf(!runsAsRoot), layer }
}
