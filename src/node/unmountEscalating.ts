import * as Effect from "effect/Effect"
import { LustreShell } from "../../layers/lustre/LustreShell.js"
import { Internal } from "../csi/errors.js"
import { NodeConfig } from "./NodeConfig.js"
import { within } from "./nodeFailures.js"

const steps = ["normal", "force", "lazy"] as const

/**
 * umount, then umount -f, then umount -l, each bounded by the step timeout: a stale or
 * unreachable Lustre mount is detached within three steps instead of holding a pod Terminating
 * behind one blocked umount.
 */
export const unmountEscalating = Effect.fnUntraced(function*(target: string) {
  const shell = yield* LustreShell
  const config = yield* NodeConfig
  const failures: Array<string> = []
  for (const mode of steps) {
    const attempt = yield* shell.unmount(target, mode).pipe(
      within(config.unmountStepTimeout, `umount (${mode})`),
      Effect.result
    )
    if (attempt._tag === "Success") return
    failures.push(`${mode}: ${attempt.failure.message}`)
    yield* Effect.logWarning("unmount did not succeed; escalating").pipe(
      Effect.annotateLogs({ target, mode, reason: attempt.failure.message })
    )
  }
  return yield* new Internal({
    message: `could not unmount ${target} (${failures.join("; ")}); the caller retries`
  })
})
