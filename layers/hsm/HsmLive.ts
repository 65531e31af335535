import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { ChildProcessSpawner } from "effect/process"
import * as Fs from "node:fs/promises"
import { type CommandFailed, type KillTimings, makeRunCommand } from "../lustre/command.js"
import { type BatchLimits, batchPaths, refusedPath } from "./argumentBatches.js"
import { findCandidatesArgs, splitNulRecords } from "./findOutput.js"
import { type FileHsmFailure, type FileHsmStatus, Hsm, HsmUnavailable, type ReleasedFile } from "./Hsm.js"
import { parseHsmActionOutput } from "./hsmActionOutput.js"
import { parseHsmStateOutput } from "./hsmStateOutput.js"
import { clipEchoed, type LfsFileAnswer } from "./lfsPerFileOutput.js"
import { makeRunLfs, makeStreamLfs } from "./lfsProcess.js"

export interface HsmLiveOptions {
  /** The lfs command, by name (looked up in PATH) or path. Default "lfs". */
  readonly lfs?: string
  /** How long one lfs command may run before it is killed and the operation is HsmUnavailable. Default 60 s. */
  readonly commandTimeout?: Duration.Input
  /** At most this many paths per command. Default 256. */
  readonly maxPathsPerCommand?: number
  /** At most about this many bytes of paths per command. Default 64 KiB. */
  readonly maxArgumentBytes?: number
  /**
   * How long `lfs find` may print nothing while it is read before it is taken for hung. It
   * prints only candidates, so a large tree of resident files is a long silence. Default 10 min.
   */
  readonly findIdleTimeout?: Duration.Input
  /** A batch of candidates is confirmed once this many are found, or this long after the first. Default 2 s. */
  readonly findBatchWindow?: Duration.Input
  /** How many files are asked for one by one at a time when a request for a batch failed. Default 8. */
  readonly retryConcurrency?: number
  /** How an interrupted (timed-out) lfs is stopped. */
  readonly killTimings?: KillTimings
}

type Subcommand = "hsm_state" | "hsm_action" | "hsm_restore" | "hsm_archive" | "hsm_release"

/** A record of lfs find longer than this is not a path (PATH_MAX is 4096): the output is not lfs's. */
const maxRecordBytes = 64 * 1024

/**
 * Lustre HSM through lfs(1). Every command takes a batch of absolute paths as arguments (never
 * a shell, never a relative path that could read as an option), has a timeout, and is killed
 * when its caller stops waiting. See findOutput.ts for how released files are found.
 */
export const makeHsmLive = (
  spawner: ChildProcessSpawner.ChildProcessSpawner["Service"],
  options: HsmLiveOptions = {}
): Hsm["Service"] => {
  const lfs = options.lfs ?? "lfs"
  const timings = options.killTimings ?? { forceKillAfter: "2 seconds", interruptGrace: "5 seconds" }
  const commandTimeout = Duration.fromInputUnsafe(options.commandTimeout ?? "60 seconds")
  const limits: BatchLimits = { maxPaths: options.maxPathsPerCommand ?? 256, maxBytes: options.maxArgumentBytes ?? 64 * 1024 }
  const retryConcurrency = options.retryConcurrency ?? 8
  const runLfs = makeRunLfs(spawner, timings)
  const runCommand = makeRunCommand(spawner, timings)
  const streamLfs = makeStreamLfs(spawner, timings)

  /** The command, named shortly enough to echo: a batch may hold 64 KiB of paths. */
  const described = (subcommand: string, paths: ReadonlyArray<string>) =>
    clipEchoed(`${lfs} ${subcommand} ${paths[0] ?? ""}${paths.length > 1 ? ` and ${paths.length - 1} more` : ""}`)

  const unavailable = (subcommand: string, paths: ReadonlyArray<string>, message: string) =>
    new HsmUnavailable({ operation: described(subcommand, paths), message: clipEchoed(message) })

  /** One lfs command, killed after `commandTimeout`. */
  const timed = <A>(subcommand: Subcommand, paths: ReadonlyArray<string>, run: Effect.Effect<A, CommandFailed>) =>
    run.pipe(
      Effect.timeoutOrElse({
        duration: commandTimeout,
        orElse: () =>
          Effect.fail(unavailable(subcommand, paths, `lfs gave no answer within ${Duration.format(commandTimeout)} and was killed`))
      })
    )

  /**
   * Each path's answer from a per-file subcommand (hsm_state, hsm_action). 2.15 stops at the
   * first file it cannot read, so the files after it are asked again, until each has an answer.
   */
  const askEach = <A>(
    subcommand: "hsm_state" | "hsm_action",
    parse: (stdout: string, paths: ReadonlyArray<string>, stderr: string) => ReadonlyArray<LfsFileAnswer<A>>,
    paths: ReadonlyArray<string>
  ) =>
    Effect.gen(function*() {
      const answers = new Map<string, LfsFileAnswer<A>>()
      let pending = paths
      while (pending.length > 0) {
        const asked = pending
        const output = yield* timed(subcommand, asked, runLfs(lfs, [subcommand, ...asked])).pipe(
          Effect.catchTag("CommandFailed", (failed) => Effect.fail(unavailable(subcommand, asked, failed.message)))
        )
        const round = parse(output.stdout, asked, output.stderr)
        pending = round.filter((answer) => answer._tag === "Unanswered").map((answer) => answer.path)
        if (pending.length === asked.length && output.exitCode !== 0) {
          const said = output.stderr.trim()
          return yield* unavailable(subcommand, asked, `exit status ${output.exitCode}${said === "" ? "" : `: ${said}`}`)
        }
        for (const answer of round) if (answer._tag !== "Unanswered") answers.set(answer.path, answer)
        if (output.exitCode === 0) {
          for (const path of pending) answers.set(path, { _tag: "Failed", path, error: `lfs ${subcommand} printed nothing for it` })
          pending = []
        }
      }
      return answers
    })

  const statusOfBatch = (batch: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const [states, actions] = yield* Effect.all([
        askEach("hsm_state", parseHsmStateOutput, batch),
        askEach("hsm_action", parseHsmActionOutput, batch)
      ], { concurrency: 2 })
      return batch.map((path): FileHsmStatus | FileHsmFailure => {
        const state = states.get(path)
        const action = actions.get(path)
        if (state?._tag === "Answered" && action?._tag === "Answered") return { path, state: state.value, action: action.value }
        const failed = state?._tag === "Failed" ? state : action?._tag === "Failed" ? action : undefined
        return { path, error: failed?.error ?? "lfs printed nothing for it" }
      })
    })

  /** The paths lfs may be given, in batches, and a failure for each path it may not. */
  const prepared = (paths: ReadonlyArray<string>) => {
    const refused = new Map<string, string>()
    for (const path of paths) {
      const why = refusedPath(path)
      if (why !== undefined) refused.set(path, why)
    }
    const accepted = [...new Set(paths)].filter((path) => !refused.has(path))
    return { refused, batches: batchPaths(accepted, limits) }
  }

  const status = Effect.fn("Hsm.status")(function*(paths: ReadonlyArray<string>) {
    const { refused, batches } = prepared(paths)
    const answers = new Map<string, FileHsmStatus | FileHsmFailure>()
    for (const batch of batches) {
      for (const answer of yield* statusOfBatch(batch)) answers.set(answer.path, answer)
    }
    return paths.map((path): FileHsmStatus | FileHsmFailure =>
      answers.get(path) ?? { path, error: refused.get(path) ?? "lfs printed nothing for it" }
    )
  })

  /**
   * One request for the whole batch; lfs drops the whole request when any one file fails its
   * checks (`Cannot stat PATH: ...`), so a failed batch is asked again file by file: the files
   * that fail alone are the answer, and the others are requested after all.
   */
  const requestBatch = (subcommand: Subcommand, batch: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      /** Undefined when lfs took the request, else what lfs said. */
      const asOne = (files: ReadonlyArray<string>): Effect.Effect<string | undefined, HsmUnavailable> =>
        timed(subcommand, files, runCommand(lfs, [subcommand, ...files])).pipe(
          Effect.as(undefined),
          Effect.catchTag("CommandFailed", (failed) =>
            failed.exitCode === undefined
              ? Effect.fail(unavailable(subcommand, files, failed.message))
              : Effect.succeed(failed.stderr === "" ? failed.message : failed.stderr))
        )
      const whole = yield* asOne(batch)
      if (whole === undefined) return []
      if (batch.length === 1) return [{ path: batch[0] ?? "", error: whole }]
      const alone = yield* Effect.forEach(batch, (path) => Effect.map(asOne([path]), (error) => ({ path, error })), {
        concurrency: retryConcurrency
      })
      return alone.flatMap(({ path, error }): Array<FileHsmFailure> => error === undefined ? [] : [{ path, error }])
    })

  const request = (subcommand: Subcommand) => (paths: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const { refused, batches } = prepared(paths)
      const failures: Array<FileHsmFailure> = [...refused].map(([path, error]) => ({ path, error }))
      for (const batch of batches) failures.push(...(yield* requestBatch(subcommand, batch)))
      return failures
    })

  /** The released files among `candidates`, with their sizes (lstat: the MDT holds a released file's size). */
  const confirmReleased = (candidates: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const states = yield* askEach("hsm_state", parseHsmStateOutput, candidates)
      const released = candidates.filter((path) => {
        const answer = states.get(path)
        return answer?._tag === "Answered" && answer.value.released
      })
      const sized = yield* Effect.forEach(released, (path) =>
        Effect.tryPromise(() => Fs.lstat(path, { bigint: true })).pipe(
          Effect.map((stats): ReadonlyArray<ReleasedFile> => stats.isFile() ? [{ path, size: stats.size }] : []),
          // Gone or replaced since lfs find saw it: no longer a released file to report.
          Effect.orElseSucceed((): ReadonlyArray<ReleasedFile> => [])
        ), { concurrency: 8 })
      return sized.flat()
    })

  const findReleased = (directory: string): Stream.Stream<ReadonlyArray<ReleasedFile>, HsmUnavailable> => {
    const args = findCandidatesArgs(directory)
    const operation = clipEchoed(`${lfs} ${args.join(" ")}`)
    const refusal = refusedPath(directory)
    if (refusal !== undefined) return Stream.fail(new HsmUnavailable({ operation, message: refusal }))
    const idle = Duration.fromInputUnsafe(options.findIdleTimeout ?? "10 minutes")
    return streamLfs(lfs, args).pipe(
      Stream.mapError((failed) => new HsmUnavailable({ operation, message: clipEchoed(failed.message) })),
      Stream.timeoutOrElse({
        duration: idle,
        orElse: () =>
          Stream.fail(new HsmUnavailable({ operation, message: `lfs find printed nothing for ${Duration.format(idle)} and was killed` }))
      }),
      Stream.mapAccumEffect((): Uint8Array => new Uint8Array(0), (rest, chunk: Uint8Array) => {
        const split = splitNulRecords(rest, chunk)
        return split.rest.length > maxRecordBytes
          ? Effect.fail(new HsmUnavailable({ operation, message: `lfs find printed ${maxRecordBytes} bytes with no NUL: not --print0 output` }))
          : Effect.succeed([split.rest, split.records] as const)
      }),
      Stream.filter((path) => path.startsWith("/")),
      Stream.groupedWithin(limits.maxPaths, options.findBatchWindow ?? "2 seconds"),
      Stream.flatMap((group) => Stream.fromIterable(batchPaths(group, limits))),
      Stream.mapEffect(confirmReleased),
      Stream.filter((batch) => batch.length > 0)
    )
  }

  return Hsm.of({
    status,
    findReleased,
    restore: Effect.fn("Hsm.restore")(request("hsm_restore")),
    archive: Effect.fn("Hsm.archive")(request("hsm_archive")),
    release: Effect.fn("Hsm.release")(request("hsm_release"))
  })
}

const layer = (options: HsmLiveOptions = {}): Layer.Layer<Hsm, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Layer.effect(
    Hsm,
    Effect.gen(function*() {
      return makeHsmLive(yield* ChildProcessSpawner.ChildProcessSpawner, options)
    })
  )

/** Lustre HSM as lfs(1) sees it on a real node (root: the node plugin runs as root). */
export const HsmLive = {
  /** Needs a ChildProcessSpawner. */
  layer,
  /** With Node's ChildProcessSpawner. */
  layerNode: (options: HsmLiveOptions = {}) => layer(options).pipe(Layer.provide(NodeServices.layer))
} as const
