import * as Effect from "effect/Effect"
import type { ProbeRequest, ProbeResponse } from "../gen/csi.js"
import { Readiness } from "../health/Readiness.js"

/**
 * Answers ready only when every readiness check passes. A plugin that is not ready answers
 * ready=false (not an error), as the spec allows; Readiness logs which checks fail, and why, when that changes.
 */
export const probe = Effect.fnUntraced(function*(_request: ProbeRequest) {
  const report = yield* (yield* Readiness).report
  const response: ProbeResponse = { ready: report.ready }
  return response
})
