import { it } from "@effect/vitest"
import { Schema } from "effect"
import { expect } from "vitest"
import { REDACTED, loggableMessage } from "../../src/csi/redact.js"

const SecretValue = Schema.String.check(Schema.isPattern(/^[a-z0-9]{6,20}$/))
const secretMarker = (value: string) => `S3CR3T-${value}`
const PlainText = Schema.String.check(Schema.isPattern(/^[^S]*$/))
const Plain = Schema.Record(Schema.String, PlainText)

it.prop(
  "no secret survives, at any depth, and everything else is kept",
  [Plain, Schema.Record(Schema.String, SecretValue), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 }))],
  ([plain, secrets, depth]) => {
    const marked = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, secretMarker(v)]))
    let message: Record<string, unknown> = { ...plain, secrets: marked, capacityBytes: 10n }
    for (let level = 0; level < depth; level++) message = { nested: message, list: [message] }

    const redacted = loggableMessage(message)
    const text = JSON.stringify(redacted)
    expect(text).not.toContain("S3CR3T-")
    expect(text).toContain(`"secrets":"${REDACTED}"`)
    for (const value of Object.values(plain)) expect(text).toContain(JSON.stringify(value).slice(1, -1))
  }
)

it("keeps a field named __proto__ as data and turns int64 into decimal strings", () => {
  const message = JSON.parse('{"__proto__":{"secrets":{"k":"S3CR3T-x"}},"size":"1"}') as Record<string, unknown>
  const redacted = loggableMessage({ ...message, requiredBytes: 1099511627776n })
  expect(JSON.stringify(redacted)).not.toContain("S3CR3T-")
  expect(redacted).toMatchObject({ requiredBytes: "1099511627776" })
})

it("bounds every string and map key, so an oversized request makes an ordinary log line", () => {
  const huge = "v".repeat(70_000)
  const line = JSON.stringify(loggableMessage({ volumeId: huge, parameters: { [huge]: huge }, mountFlags: [huge] }))
  expect(line.length).toBeLessThan(2000)
  expect(line).toContain("(70000 characters)")
})
