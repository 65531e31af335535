/**
 * The ARM emulator's answers on ARM's wire: JSON reading helpers, replies and ARM's error body,
 * api-versions, and the URLs of long-running operations. Shared by the emulator's routes.
 */
import type { ArmErrorReply, EmulatorState, OperationRecord } from "./ArmEmulatorState.js"

export type JsonObject = Readonly<Record<string, unknown>>

export const asObject = (value: unknown): JsonObject | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined
export const asString = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)
export const asNumber = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined

export interface Reply {
  readonly statusCode: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

export const errorReply = (error: ArmErrorReply): Reply => ({
  statusCode: error.statusCode,
  body: { error: { code: error.code, message: error.message }, ...error.extra },
  ...(error.headers === undefined ? {} : { headers: error.headers })
})
export const armError = (statusCode: number, code: string, message: string): Reply => errorReply({ statusCode, code, message })
export const invalid = (message: string): Reply => armError(400, "InvalidParameter", message)

export const minimumApiVersion = "2023-05-01"
/** The first api-version with expansionJobs and properties.currentStorageCapacityTiB. */
export const expansionApiVersion = "2026-01-01"
export const apiVersionPattern = /^(\d{4}-\d{2}-\d{2})(-preview)?$/
/** Whether `apiVersion` (already checked against the pattern) is `minimum` or newer. */
export const atLeast = (apiVersion: string, minimum: string) => (apiVersionPattern.exec(apiVersion)?.[1] ?? "") >= minimum

export interface ArmRequest {
  readonly method: string
  readonly url: URL
  readonly segments: ReadonlyArray<string>
  readonly body: unknown
}

export interface EmulatorContext {
  readonly state: EmulatorState
  readonly baseUrl: () => string
  readonly clock: () => number
}

export const operationUrls = (context: EmulatorContext, op: OperationRecord, apiVersion: string) => {
  const base = `${context.baseUrl()}/subscriptions/${context.state.settings.subscriptionId}/providers/Microsoft.StorageCache/locations/${op.location}/ascOperations/${op.id}`
  return {
    asyncOperation: `${base}?api-version=${encodeURIComponent(apiVersion)}`,
    location: `${base}?monitor=true&api-version=${encodeURIComponent(apiVersion)}`
  }
}

/** A stable ISO time, or nothing. */
export const isoOf = (date: Date | undefined): string | undefined => date?.toISOString()
