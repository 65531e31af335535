import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type { DriverName } from "../domain/DriverName.js"

export const Mode = Schema.Literals(["controller", "node", "all"])
export type Mode = typeof Mode.Type

export const servesController = (mode: Mode): boolean => mode !== "node"

/** Who this driver process is: the values the RPCs report and the shape of what it serves. */
export class DriverConfig extends Context.Service<DriverConfig, {
  readonly driverName: DriverName
  readonly vendorVersion: string
  readonly mode: Mode
  /** The node this plugin runs on (node and all modes). */
  readonly nodeId: string | undefined
  /** How long in-flight calls may finish after SIGTERM before they are cancelled. */
  readonly drainTimeout: Duration.Duration
}>()("azurelustre/DriverConfig") {}
