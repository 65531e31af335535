import * as Effect from "effect/Effect"
import type { ProbeRequest, ProbeResponse } from "../gen/csi.js"
import { Readiness } from "../health/Readiness.js"

/**
 * Answers ready only when every readiness check passes. A plugin that is not ready answers
 * ready=false (not an error), as the spec allows, and logs which checks failed and why.
 */
export const probe = Effect.fnUntraced(function*(_request: ProbeRequest) {
  const readiness = yield* Readiness
  const report = yield* readiness.report
  if (!report.ready) {
    const failing = report.checks.filter((check) => !check.ready)
    yield* Effect.logWarning("not ready").pipe(Effect.annotateLogs({ failing }))
  }
  const response: ProbeResponse = { ready: report.ready }
  return response
})
