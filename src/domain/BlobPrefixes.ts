import { quote } from "./BoundedText.js"

/** A blob's name is at most this many characters (Azure Storage), so a longer prefix names nothing. */
export const MAX_BLOB_PREFIX_LENGTH = 1024

const isControlCharacter = (code: number): boolean => code < 0x20 || code === 0x7f

const hasControlCharacter = (text: string): boolean => {
  for (let at = 0; at < text.length; at++) if (isControlCharacter(text.charCodeAt(at))) return true
  return false
}

/** Why one prefix (with its leading "/") is refused, or undefined. */
const prefixProblem = (prefix: string): string | undefined => {
  const body = prefix.slice(1)
  if (body.length > MAX_BLOB_PREFIX_LENGTH) {
    return `the prefix ${quote(prefix)} is ${body.length} characters long; a blob's name is at most ${MAX_BLOB_PREFIX_LENGTH}`
  }
  if (!prefix.isWellFormed()) return `the prefix ${quote(prefix)} is not well-formed Unicode (it has a lone surrogate)`
  if (hasControlCharacter(prefix)) return `the prefix ${quote(prefix)} has a control character (such as NUL or a line break)`
  if (body === "") return undefined
  const components = body.split("/")
  if (components.some((component, at) => component === "" && at < components.length - 1)) {
    return `the prefix ${quote(prefix)} has an empty path component ("//")`
  }
  if (components.some((component) => component === "." || component === "..")) {
    return `the prefix ${quote(prefix)} has a "." or ".." path component, which no file in the filesystem can have`
  }
  return undefined
}

/**
 * A comma-separated list of blob name prefixes, as Azure Managed Lustre's import and export jobs
 * take them: each begins with "/" (added when missing; "/" alone is the whole container), spaces
 * around each ignored. AMLFS matches a prefix against the start of a blob's name ("/data" also
 * takes "/data1/x"; "/data/" only what is under "/data"), so a prefix inside another is kept as
 * written; a prefix given twice is kept once, in first-seen order, and `limit` counts the distinct
 * ones. Refused: an empty entry; an empty, "." or ".." path component (a blob's path becomes
 * directories in Lustre); a control character; a lone surrogate; a prefix longer than a blob name.
 * Each problem is a phrase naming the prefix, for the caller to put after the parameter's name.
 */
export const parseBlobPrefixList = (
  text: string,
  limit: number
): { readonly prefixes: ReadonlyArray<string>; readonly problems: ReadonlyArray<string> } => {
  const prefixes: Array<string> = []
  const problems: Array<string> = []
  let empty = false
  for (const entry of text.split(",").map((entry) => entry.trim())) {
    if (entry === "") {
      empty = true
      continue
    }
    const prefix = entry.startsWith("/") ? entry : `/${entry}`
    const problem = prefixProblem(prefix)
    if (problem !== undefined) problems.push(problem)
    else if (!prefixes.includes(prefix)) prefixes.push(prefix)
  }
  if (empty) problems.unshift(`it has an empty entry (separate the prefixes with single commas; "/" alone stands for everything)`)
  if (problems.length === 0 && prefixes.length > limit) {
    problems.push(`it has ${prefixes.length} different prefixes; Azure Managed Lustre takes at most ${limit}`)
  }
  return { prefixes, problems }
}
