import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LustreFilesystem } from "../../lustre/LustreShell.js"
import { reasonOf } from "./HsmFileFailed.js"
import type { HsmPaths } from "./HsmPaths.js"
import { keyOf, listEntries, readEntry } from "./HsmStateTable.js"

/**
 * The read gate (ReadGate.ts) as the model sees it: it holds other processes' opens of a
 * guarded file until the model has restored it.
 */
export interface ReadGateHooks {
  readonly guard: (path: string) => Effect.Effect<void, unknown>
  readonly unguard: (path: string) => Effect.Effect<void, unknown>
}

/** How often a plugged-in gate looks for files released by another process (`sim-hsm` beside the sim). */
const RESCAN = Schedule.spaced("1 second")

/**
 * Which files the read gate guards: the released ones. Until a gate is plugged in, guarding is
 * nothing. A failure to guard is logged, not raised: the file stays released, and its reads see
 * zeros instead of waiting, as without a gate.
 */
export const makeReadGateGuards = (paths: HsmPaths, stateDir: string, scope: Scope.Scope) => {
  let gate: ReadGateHooks | undefined
  /** Files guarded, by key, with the path they were guarded by. */
  const guarded = new Map<string, string>()
  /** The mtime of each states directory when the guards were last reconciled with it. */
  const statesSeen = new Map<string, bigint>()

  const guard = (key: string, path: string): Effect.Effect<void> =>
    gate === undefined || guarded.get(key) === path ? Effect.void : gate.guard(path).pipe(
      Effect.tap(() => Effect.sync(() => guarded.set(key, path))),
      Effect.catch((error) => Effect.logWarning(`the read gate cannot guard ${path}: ${reasonOf(error)}`))
    )

  const unguard = (key: string): Effect.Effect<void> => {
    const path = guarded.get(key)
    if (gate === undefined || path === undefined) return Effect.void
    guarded.delete(key)
    return gate.unguard(path).pipe(Effect.catch((error) => Effect.logWarning(`the read gate cannot unguard ${path}: ${reasonOf(error)}`)))
  }

  const linkedFilesystems = Effect.promise(async () => {
    const hsmDirectory = Path.join(stateDir, "hsm")
    const names = (directory: string) => Fs.readdir(directory).catch(() => [] as Array<string>)
    const filesystems: Array<LustreFilesystem> = []
    for (const mgsAddress of await names(hsmDirectory)) {
      for (const fsName of await names(Path.join(hsmDirectory, mgsAddress))) filesystems.push({ mgsAddress, fsName })
    }
    return filesystems
  })

  /**
   * Guards the released files not guarded yet, and unguards those no longer released: after a
   * restart, and for files another process released, imported or restored. Each entry names
   * where its file was; the inode there must still be the entry's.
   */
  const reconcile = Effect.gen(function*() {
    for (const filesystem of yield* linkedFilesystems) {
      const states = paths.states(filesystem)
      // Every write renames an entry into the directory: an unchanged directory has unchanged
      // entries. One changed within the last second is read again: its mtime has the kernel
      // clock's granularity, so a second write in the same tick would not show.
      const changed = yield* Effect.promise(() => Fs.stat(states, { bigint: true }).catch(() => undefined))
      if (changed === undefined || statesSeen.get(states) === changed.mtimeNs) continue
      const settled = changed.mtimeNs < BigInt(yield* Clock.currentTimeMillis) * 1_000_000n - 1_000_000_000n
      if (settled) statesSeen.set(states, changed.mtimeNs)
      for (const { key, entry } of yield* listEntries(states)) {
        if (entry.released && !guarded.has(key)) {
          const path = Path.join(paths.filesystem(filesystem), entry.path)
          const stats = yield* Effect.promise(() => Fs.stat(path, { bigint: true }).catch(() => undefined))
          if (stats === undefined || keyOf(stats) !== key) continue
          if ((yield* readEntry(states, stats))?.released === true) yield* guard(key, path)
        } else if (!entry.released && guarded.has(key)) {
          yield* unguard(key)
        }
      }
    }
  })

  /** From now on, released files are guarded by `readGate`, those released before too. */
  const plug = (readGate: ReadGateHooks): Effect.Effect<void> =>
    Effect.gen(function*() {
      gate = readGate
      yield* reconcile.pipe(
        Effect.catchCause((cause) => Effect.logWarning("the read gate's guards could not be reconciled", cause)),
        Effect.repeat(RESCAN),
        Effect.forkIn(scope)
      )
    })

  return { guard, unguard, plug }
}
