/**
 * deploy/image/audit.ts reads `npm audit --json` into one verdict: passed, vulnerable, or not run,
 * and a refused audit request is never a pass.
 */
import { describe, expect, it } from "vitest"
import { auditVerdict, verdictLine } from "../../deploy/image/audit.js"

const report = (vulnerabilities: Record<string, number>) =>
  JSON.stringify({ auditReportVersion: 2, vulnerabilities: {}, metadata: { vulnerabilities: { ...vulnerabilities, total: 0 }, dependencies: { prod: 167 } } })

describe("npm audit's verdict", () => {
  it("a registry that refuses the audit request (HTTP 405 here): not run, and said so", () => {
    const refused = JSON.stringify({ message: "405 Method Not Allowed - POST <registry>/-/npm/v1/security/advisories/bulk", statusCode: 405, body: "" })
    const verdict = auditVerdict(refused)
    expect(verdict).toEqual({ kind: "not-run", reason: "the registry answered HTTP 405" })
    expect(verdictLine(verdict)).toBe("npm audit --omit=dev: could not run (the registry answered HTTP 405); nothing was checked, this is not a pass")
  })

  it("no report at all (npm failed before auditing): not run", () => {
    expect(auditVerdict("")).toEqual({ kind: "not-run", reason: "npm audit printed no report" })
    expect(auditVerdict("npm error code ENOLOCK").kind).toBe("not-run")
    expect(auditVerdict(JSON.stringify({ error: { code: "ENOLOCK", summary: "This command requires an existing lockfile." } }))).toEqual({
      kind: "not-run",
      reason: "This command requires an existing lockfile."
    })
  })

  it("high or critical findings fail it; lower ones do not", () => {
    expect(auditVerdict(report({ low: 2, high: 1 }))).toEqual({ kind: "vulnerable", counts: { info: 0, low: 2, moderate: 0, high: 1, critical: 0 } })
    expect(auditVerdict(report({ critical: 1 })).kind).toBe("vulnerable")
    const moderate = auditVerdict(report({ moderate: 3 }))
    expect(moderate.kind).toBe("passed")
    expect(verdictLine(moderate)).toBe("npm audit --omit=dev: passed, nothing high or critical (0 info, 0 low, 3 moderate, 0 high, 0 critical)")
  })
})
