import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as Path from "node:path"
import { readGateAgentSource } from "./readGateAgent.js"

/** A file could not be guarded: it does not exist, or the gate's agent is gone. */
export class ReadGateFailed extends Schema.TaggedError<ReadGateFailed>()("ReadGateFailed", {
  path: Schema.String,
  message: Schema.String
}) {}

/** An open of a guarded file by some process, held in the kernel until it is answered. */
export interface GuardedOpen {
  /** The path the opener used, as this host's /proc spells it ("... (deleted)" once unlinked). */
  readonly path: string
  /** `<dev>:<ino>` in decimal, as Node's `fs.stat` gives `dev` and `ino`: the reliable key. */
  readonly identity: string
  /** The opening process (its thread group id). */
  readonly pid: number
}

export type OpenVerdict = "allow" | "deny"

/**
 * Holds opens of chosen files the way Lustre holds an open of a released file until its HSM
 * restore is done. A guard is on the inode: opens through any path or bind mount of that file
 * wait; a file replaced by another inode (rename over it) is no longer guarded.
 */
export interface ReadGate {
  readonly guard: (path: string) => Effect.Effect<void, ReadGateFailed>
  /** Lets opens through again; a file that is gone or was never guarded is fine. */
  readonly unguard: (path: string) => Effect.Effect<void>
}

const AgentMessage = Schema.Union([
  Schema.Tuple([Schema.Literal("ready")]),
  Schema.Tuple([Schema.Literal("unavailable"), Schema.String]),
  Schema.Tuple([Schema.Literals(["guarded", "unguarded"]), Schema.Number]),
  Schema.Tuple([Schema.Literal("error"), Schema.Number, Schema.String]),
  Schema.Tuple([Schema.Literal("open"), Schema.Number, Schema.String, Schema.Number, Schema.String]),
  Schema.Tuple([Schema.Literal("log"), Schema.String])
])
const decodeAgentLine = Schema.decodeUnknownOption(Schema.fromJsonString(AgentMessage))

const encoder = new TextEncoder()

/** How long the agent may take to start (python3 through a version shim is slow to start). */
const startTimeout = "20 seconds"

/**
 * Starts the read gate in the scope: a Python 3 agent (see readGateAgent.ts) holding opens of
 * guarded files with fanotify permission events. Each open runs `onOpen` in a fiber of its own
 * (opens of different files, and many opens of one file, are answered independently); "deny"
 * fails the open with EPERM, and so does a defect in `onOpen`. Opens by this Node process pass
 * at once, so the simulation can restore a guarded file without waiting on itself.
 *
 * Closing the scope kills the agent, and the kernel then lets every held open through.
 *
 * Cost: only guarded files pay; an open answered at once takes about 0.4-0.6 ms instead of
 * ~10 µs (the kernel → agent → Node → agent → kernel round trip; 200 sequential opens, 2 CPUs).
 *
 * Answers undefined, with one warning, when python3 or fanotify is unavailable (not root, no
 * CONFIG_FANOTIFY_ACCESS_PERMISSIONS): the simulation still runs, but a read of a released file
 * then sees the stub's zeros instead of waiting for its data.
 */
export const makeReadGate = (
  onOpen: (file: GuardedOpen) => Effect.Effect<OpenVerdict>
): Effect.Effect<ReadGate | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner.pipe(Effect.provide(NodeServices.layer))
    const commands = yield* Queue.unbounded<string>()
    const send = (...words: ReadonlyArray<string | number>) => Queue.offer(commands, JSON.stringify(words))
    const started = yield* Deferred.make<void, string>()
    const replies = new Map<number, Deferred.Deferred<void, string>>()
    let lastRequest = 0
    let ready = false
    let gone: string | undefined
    const answering = yield* FiberSet.make<void>()

    const answer = (event: number, file: GuardedOpen) =>
      onOpen(file).pipe(
        Effect.catchCause((cause) =>
          Effect.as(Effect.logError("read gate: deciding an open failed; the open is denied", file.path, cause), "deny" as const)
        ),
        Effect.flatMap((verdict) => send(verdict, event))
      )

    const heard = (line: string) =>
      Effect.gen(function*() {
        const message = decodeAgentLine(line)
        if (Option.isNone(message)) return yield* Effect.logWarning("read gate: the agent said something unreadable", line)
        const said = message.value
        switch (said[0]) {
          case "ready":
            ready = true
            return yield* Deferred.succeed(started, undefined)
          case "unavailable":
            return yield* Deferred.fail(started, said[1])
          case "guarded":
          case "unguarded": {
            const reply = replies.get(said[1])
            if (reply !== undefined) yield* Deferred.succeed(reply, undefined)
            return
          }
          case "error": {
            const reply = replies.get(said[1])
            if (reply !== undefined) yield* Deferred.fail(reply, said[2])
            return
          }
          case "open":
            return yield* FiberSet.run(answering, answer(said[1], { identity: said[2], pid: said[3], path: said[4] }))
          case "log":
            return yield* Effect.logWarning("read gate agent:", said[1])
        }
      })

    const unavailable = (why: string) =>
      Effect.logWarning(`read gate unavailable (${why}): reads of released files see zeros instead of waiting for a restore`)

    /** Fails everything waiting on the agent; once it had started, says that guards are gone. */
    const agentGone = Effect.gen(function*() {
      gone = "the read gate agent exited"
      if (ready) {
        yield* Effect.logWarning("read gate: the agent exited; reads of released files no longer wait for a restore")
      }
      yield* Deferred.fail(started, gone)
      for (const reply of replies.values()) yield* Deferred.fail(reply, gone)
    })

    const spawned = yield* spawner.spawn(
      ChildProcess.make("python3", ["-c", readGateAgentSource, String(process.pid)], {
        stdin: Stream.fromQueue(commands).pipe(Stream.map((line) => encoder.encode(`${line}\n`))),
        forceKillAfter: "1 second"
      })
    ).pipe(Effect.result)
    if (spawned._tag === "Failure") {
      yield* unavailable(spawned.failure.message)
      return undefined
    }
    const agent = spawned.success

    yield* agent.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach(heard),
      Effect.ignore,
      Effect.andThen(agentGone),
      Effect.forkScoped
    )
    yield* agent.stderr.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Effect.logWarning("read gate agent:", line)),
      Effect.ignore,
      Effect.forkScoped
    )

    const start = yield* Deferred.await(started).pipe(
      Effect.timeoutOrElse({ duration: startTimeout, orElse: () => Effect.fail(`the agent did not start within ${startTimeout}`) }),
      Effect.result
    )
    if (start._tag === "Failure") {
      yield* unavailable(start.failure)
      return undefined
    }

    /** Asks the agent to mark or unmark `path`, and waits for its word. */
    const request = (verb: "guard" | "unguard", path: string) =>
      Effect.suspend(() => {
        if (gone !== undefined) return Effect.fail(gone)
        const id = ++lastRequest
        const reply = Deferred.makeUnsafe<void, string>()
        replies.set(id, reply)
        return send(verb, id, path).pipe(
          Effect.andThen(Deferred.await(reply)),
          Effect.ensuring(Effect.sync(() => replies.delete(id)))
        )
      })

    const guard = Effect.fn("ReadGate.guard")(function*(path: string) {
      const absolute = Path.resolve(path)
      yield* request("guard", absolute).pipe(
        Effect.mapError((why) => new ReadGateFailed({ path: absolute, message: `cannot hold reads of ${absolute}: ${why}` }))
      )
    })

    const unguard = Effect.fn("ReadGate.unguard")(function*(path: string) {
      const absolute = Path.resolve(path)
      yield* request("unguard", absolute).pipe(
        // With the agent gone nothing is guarded any more.
        Effect.catch((why) => gone !== undefined ? Effect.void : Effect.logWarning(`read gate: cannot release ${absolute}: ${why}`))
      )
    })

    return { guard, unguard } satisfies ReadGate
  })
