import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { NodeConfig } from "../NodeConfig.js"
import type { HydrationRequest } from "./Hydrations.js"

const Record = Schema.Struct({
  key: Schema.String,
  volumeId: Schema.String,
  filesystem: Schema.Struct({ mgsAddress: Schema.String, fsName: Schema.String }),
  subDirComponents: Schema.Array(Schema.String),
  plan: Schema.Struct({
    mode: Schema.Literals(["off", "background", "before-start"]),
    paths: Schema.Array(Schema.Array(Schema.String)),
    shown: Schema.String
  }),
  subject: Schema.optional(Schema.Struct({
    kind: Schema.Literals(["PersistentVolumeClaim", "Pod"]),
    namespace: Schema.String,
    name: Schema.String
  }))
})
const decodeRecord = Schema.decodeUnknownOption(Schema.fromJsonString(Record))

const fileNameOf = (key: string) => `${createHash("sha256").update(key).digest("hex").slice(0, 32)}.json`

/**
 * The hydrations running on this node, one small JSON file each in the node plugin's own
 * directory, written whole (temp file, then rename) so a crash never leaves half a record. A
 * record that does not read back (a newer driver's, or damaged) is dropped with a log line.
 */
export class HydrationRecords extends Context.Service<HydrationRecords, {
  readonly save: (request: HydrationRequest) => Effect.Effect<void>
  readonly remove: (key: string) => Effect.Effect<void>
  readonly all: Effect.Effect<ReadonlyArray<HydrationRequest>>
}>()("azurelustre/node/HydrationRecords") {
  /** In `<mount-root>/hydrations`: the node plugin's own directory, kept across its restarts. */
  static readonly layer = Layer.effect(
    HydrationRecords,
    Effect.gen(function*() {
      const config = yield* NodeConfig
      return HydrationRecords.in(Path.join(config.mountRoot, "hydrations"))
    })
  )

  static readonly in = (directory: string) =>
      HydrationRecords.of({
        save: (request) => {
          const file = Path.join(directory, fileNameOf(request.key))
          return Effect.tryPromise(async () => {
            await Fs.mkdir(directory, { recursive: true, mode: 0o700 })
            await Fs.writeFile(`${file}.tmp`, JSON.stringify(request), { mode: 0o600 })
            await Fs.rename(`${file}.tmp`, file)
          }).pipe(Effect.catch((failed) => Effect.logWarning(`cannot record a hydration; a restart will not resume it: ${failed.message}`)))
        },
        remove: (key) => Effect.promise(() => Fs.rm(Path.join(directory, fileNameOf(key)), { force: true })).pipe(Effect.ignore),
        all: Effect.gen(function*() {
          const names = yield* Effect.promise(() => Fs.readdir(directory).catch(() => [] as Array<string>))
          const requests: Array<HydrationRequest> = []
          for (const name of names.filter((name) => name.endsWith(".json"))) {
            const text = yield* Effect.promise(() => Fs.readFile(Path.join(directory, name), "utf8").catch(() => ""))
            const record = decodeRecord(text)
            if (record._tag === "Some") {
              requests.push({ ...record.value, subject: record.value.subject })
            } else {
              yield* Effect.logWarning(`dropping a hydration record that does not read back: ${name}`)
              yield* Effect.promise(() => Fs.rm(Path.join(directory, name), { force: true }))
            }
          }
          return requests
        })
      })
}
