/**
 * `npm audit --omit=dev`: the known vulnerabilities of the packages the image's bundle is made
 * from, with one plain verdict. Exit 0: it ran and found nothing high or critical; 1: it found
 * some; 3: it could not run (e.g. a registry that refuses audit requests, as the one these
 * machines reach does with HTTP 405), which is never reported as a pass.
 *
 *   node deploy/image/audit.ts
 */
import { spawnSync } from "node:child_process"

export type AuditVerdict =
  | { readonly kind: "passed"; readonly counts: Readonly<Record<string, number>> }
  | { readonly kind: "vulnerable"; readonly counts: Readonly<Record<string, number>> }
  | { readonly kind: "not-run"; readonly reason: string }

const SEVERITIES = ["info", "low", "moderate", "high", "critical"] as const

/** What `npm audit --json` printed means. */
export const auditVerdict = (stdout: string): AuditVerdict => {
  let report: unknown
  try {
    report = JSON.parse(stdout)
  } catch {
    return { kind: "not-run", reason: `npm audit printed no report${stdout.trim() === "" ? "" : `: ${stdout.trim().slice(0, 200)}`}` }
  }
  const fields = (report ?? {}) as { statusCode?: number; message?: string; error?: { code?: string; summary?: string }; metadata?: { vulnerabilities?: Record<string, number> } }
  const counts = fields.metadata?.vulnerabilities
  if (counts === undefined) {
    const why = fields.statusCode !== undefined ? `the registry answered HTTP ${fields.statusCode}` : (fields.error?.summary ?? fields.message ?? "no vulnerability counts")
    return { kind: "not-run", reason: why }
  }
  const known = Object.fromEntries(SEVERITIES.map((severity) => [severity, counts[severity] ?? 0]))
  return (known["high"] ?? 0) + (known["critical"] ?? 0) > 0 ? { kind: "vulnerable", counts: known } : { kind: "passed", counts: known }
}

export const verdictLine = (verdict: AuditVerdict): string => {
  const counts = (c: Readonly<Record<string, number>>) => SEVERITIES.map((severity) => `${c[severity] ?? 0} ${severity}`).join(", ")
  switch (verdict.kind) {
    case "passed":
      return `npm audit --omit=dev: passed, nothing high or critical (${counts(verdict.counts)})`
    case "vulnerable":
      return `npm audit --omit=dev: FAILED, high or critical vulnerabilities (${counts(verdict.counts)}); \`npm audit --omit=dev\` lists them`
    case "not-run":
      return `npm audit --omit=dev: could not run (${verdict.reason}); nothing was checked, this is not a pass`
  }
}

if (import.meta.main) {
  const ran = spawnSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8", maxBuffer: 1 << 26 })
  const verdict = auditVerdict(ran.stdout ?? "")
  process.stdout.write(`${verdictLine(verdict)}\n`)
  process.exitCode = verdict.kind === "passed" ? 0 : verdict.kind === "vulnerable" ? 1 : 3
}
