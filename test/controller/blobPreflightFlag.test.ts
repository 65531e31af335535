/**
 * The controller setting the blob-integration preflight reads: --hpc-cache-principal-id, or
 * HPC_CACHE_PRINCIPAL_ID, the object id of the "HPC Cache Resource Provider" service principal.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseCommandLine, type ServeOptions } from "../../src/cli/options.js"

const serve = (argv: ReadonlyArray<string>, env: Record<string, string> = {}): ServeOptions | string => {
  const parsed = parseCommandLine(["serve", "--mode", "controller", ...argv], env)
  if (Result.isFailure(parsed)) return parsed.failure.message
  return parsed.success._tag === "Serve" ? parsed.success.options : "not serve"
}
const principalOf = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const options = serve(argv, env)
  return typeof options === "string" ? options : options.hpcCachePrincipalId
}

describe("--hpc-cache-principal-id", () => {
  const id = "4F4A5C1D-2B3E-4C5D-8E9F-0A1B2C3D4E5F"

  it("is unset by default: any service principal's roles count", () => {
    expect(principalOf([])).toBeUndefined()
  })

  it("comes from the flag, else from HPC_CACHE_PRINCIPAL_ID, in lower case", () => {
    expect(principalOf(["--hpc-cache-principal-id", id])).toBe(id.toLowerCase())
    expect(principalOf([], { HPC_CACHE_PRINCIPAL_ID: id })).toBe(id.toLowerCase())
    expect(principalOf([`--hpc-cache-principal-id=${id}`], { HPC_CACHE_PRINCIPAL_ID: "00000000-0000-0000-0000-000000000000" })).toBe(id.toLowerCase())
  })

  it("refuses what is not an object id, naming the flag (or its variable) and how to find the id", () => {
    expect(principalOf(["--hpc-cache-principal-id", "HPC Cache Resource Provider"])).toBe(
      'invalid --hpc-cache-principal-id "HPC Cache Resource Provider": expected an object id (a GUID such as ' +
        '00000000-0000-0000-0000-000000000000); find it with az ad sp list --display-name "HPC Cache Resource Provider" --query "[0].id" -o tsv'
    )
    expect(principalOf([], { HPC_CACHE_PRINCIPAL_ID: "x".repeat(5000) })).toMatch(
      /^invalid --hpc-cache-principal-id \(from HPC_CACHE_PRINCIPAL_ID\) "x{80}": expected an object id/
    )
  })

  it("is listed in serve --help with its variable", () => {
    const help = parseCommandLine(["serve", "--help"], {})
    const text = Result.isSuccess(help) && help.success._tag === "Help" ? help.success.text : ""
    expect(text).toContain("--hpc-cache-principal-id")
    expect(text).toContain("[env HPC_CACHE_PRINCIPAL_ID]")
  })
})
