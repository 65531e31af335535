import * as Schema from "effect/Schema"

/** The simulated HSM could not act on one file; the message is in lfs's or the copytool's words. */
export class HsmFileFailed extends Schema.TaggedError<HsmFileFailed>()("HsmFileFailed", {
  path: Schema.String,
  message: Schema.String
}) {}

/** The reason in an error thrown by node:fs, without the call and path it repeats. */
export const reasonOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined
  return code !== undefined ? `${error.message.split(",")[0]?.replace(`${code}: `, "") ?? code} (${code})` : error.message
}
