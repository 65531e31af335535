import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/**
 * Faults the simulation is told to show, one file each in `<state>/faults/`. A user (or a test)
 * switches a fault on with `touch` or `echo`, and off with `rm`; no restart is needed.
 *
 *   not-ready     Probe answers ready=false; the file's text, if any, is the reason given
 *   probe-delay   every readiness check first waits this many milliseconds (e.g. "2000")
 */
export class SimulationFaults extends Context.Service<SimulationFaults, {
  readonly directory: string
  /** The fault's file content when it is switched on. */
  readonly read: (fault: string) => Effect.Effect<Option.Option<string>>
}>()("azurelustre/simulation/SimulationFaults") {
  static readonly layer = (directory: string) =>
    Layer.effect(
      SimulationFaults,
      Effect.gen(function*() {
        yield* Effect.promise(() => Fs.mkdir(directory, { recursive: true }))
        // The folder's listing is kept until inotify says it changed: a Probe then costs no
        // syscall while every fault is off, and a switch is seen by the next call.
        let listing: ReadonlyArray<string> | undefined
        let changes = 0
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            NodeFs.watch(directory, () => {
              changes++
              listing = undefined
            })
          ),
          (watcher) => Effect.sync(() => watcher.close())
        )
        const present = Effect.suspend(() => {
          if (listing !== undefined) return Effect.succeed(listing)
          const seen = changes
          return Effect.promise(() => Fs.readdir(directory)).pipe(
            Effect.tap((names) => Effect.sync(() => (listing = seen === changes ? names : undefined)))
          )
        })
        const read = (fault: string) =>
          present.pipe(
            Effect.flatMap((names) =>
              names.includes(fault)
                ? Effect.promise(() =>
                  Fs.readFile(Path.join(directory, fault), "utf8").then(
                    (text) => Option.some(text.trim()),
                    () => Option.none<string>()
                  )
                )
                : Effect.succeed(Option.none<string>())
            )
          )
        return SimulationFaults.of({ directory, read })
      })
    )
}
