import { describe, expect, it } from "vitest"
import { ArmError } from "../../layers/azure/AmlfsApi.js"
import { csiErrorOfArm } from "../../src/controller/dynamic/armFailure.js"

const armError = (statusCode: number, code: string, message: string, operation = "getAmlFilesystem", apiVersion?: string) =>
  new ArmError({ operation, statusCode, code, message, retryAfterMillis: undefined, ...(apiVersion === undefined ? {} : { apiVersion }) })

describe("csiErrorOfArm: what an ARM failure tells the CO", () => {
  it.each([
    [404, "InvalidResourceType", "getExpansionJob", "2026-01-01", "AMLFS cluster expansion (Microsoft.StorageCache/amlFilesystems/expansionJobs)"],
    [404, "InvalidResourceNamespace", "deleteAmlFilesystem", "2023-05-01", "Azure Managed Lustre filesystems (Microsoft.StorageCache/amlFilesystems)"],
    [400, "NoRegisteredProviderFound", "createExpansionJob", "2026-01-01", "AMLFS cluster expansion"],
    [400, "InvalidApiVersionParameter", "listSkus", "2023-05-01", "the AMLFS SKU list (Microsoft.StorageCache/skus)"],
    [400, "invalidapiversionparameter", "checkAmlFSSubnets", "2023-05-01", "AMLFS subnet checks"]
  ])("%i %s (%s) is FAILED_PRECONDITION naming the feature and api-version, never NOT_FOUND", (status, code, operation, version, feature) => {
    const error = csiErrorOfArm(armError(status, code, "The resource type could not be found.", operation, version), "doing it")
    expect(error._tag).toBe("FailedPrecondition")
    expect(error.message).toContain(`does not offer ${feature}`)
    expect(error.message).toContain(`at api-version ${version}`)
    expect(error.message).toContain(`ARM answered ${status} ${code}: The resource type could not be found)`)
    expect(error.message).toContain("ARM_ENDPOINT")
  })

  it("404 ResourceNotFound and ParentResourceNotFound stay NOT_FOUND: the thing is gone", () => {
    expect(csiErrorOfArm(armError(404, "ResourceNotFound", "gone."), "reading").message).toBe("reading: ARM answered 404 ResourceNotFound: gone")
    expect(csiErrorOfArm(armError(404, "ParentResourceNotFound", "gone"), "reading")._tag).toBe("NotFound")
  })

  it("ARM's final period is not doubled before the advice that follows it", () => {
    const quota = csiErrorOfArm(
      armError(409, "QuotaExceeded", "Operation results in exceeding quota limits. Please request a quota increase.", "createAmlFilesystem"),
      "creating AMLFS pvc-1 in rg"
    )
    expect(quota._tag).toBe("ResourceExhausted")
    expect(quota.message).toBe(
      "creating AMLFS pvc-1 in rg: ARM answered 409 QuotaExceeded: Operation results in exceeding quota limits. Please request a " +
        "quota increase. Ask for more AMLFS quota in this region, or free some"
    )
    for (const [status, code] of [[403, "AuthorizationFailed"], [401, "InvalidAuthenticationToken"], [409, "Conflict"], [503, "ServiceUnavailable"]] as const) {
      expect(csiErrorOfArm(armError(status, code, "Said so. "), "doing").message).not.toMatch(/\.\s*\./)
    }
  })
})
