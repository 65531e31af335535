import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { isKnownAuthorityHost, tokenEndpointOf } from "../../layers/azure/AzureCredential.js"

describe("where the controller's identity asks for ARM tokens", () => {
  it("Entra ID hosts the identity library knows are checked by instance discovery; any other is trusted as given", () => {
    for (const known of ["https://login.microsoftonline.com", "https://login.microsoftonline.com/", "https://LOGIN.chinacloudapi.cn"]) {
      expect(isKnownAuthorityHost(known)).toBe(true)
    }
    for (const other of ["https://adfs.local.azurestack.external", "https://127.0.0.1:8443", "https://login.example.com"]) {
      expect(isKnownAuthorityHost(other)).toBe(false)
    }
  })

  it("names Entra ID and the tenant for workload identity and service principals", () => {
    const principal = {
      _tag: "ServicePrincipal",
      tenantId: "t1",
      clientId: "c",
      clientSecret: Redacted.make("s"),
      authorityHost: "https://login.example.com/"
    } as const
    expect(tokenEndpointOf(principal, {})).toBe("https://login.example.com/t1")
    expect(tokenEndpointOf({ _tag: "WorkloadIdentity", tenantId: "t2", clientId: "c", tokenFilePath: "/f", authorityHost: "https://login.microsoftonline.com" }, {}))
      .toBe("https://login.microsoftonline.com/t2")
  })

  it("names the managed identity's endpoint as @azure/identity picks it from the environment", () => {
    const managed = { _tag: "ManagedIdentity", clientId: undefined } as const
    expect(tokenEndpointOf(managed, {})).toBe("http://169.254.169.254/metadata/identity/oauth2/token (the instance metadata service)")
    expect(tokenEndpointOf(managed, { AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://10.0.0.9:2579/" }))
      .toBe("http://10.0.0.9:2579/metadata/identity/oauth2/token (AZURE_POD_IDENTITY_AUTHORITY_HOST)")
    expect(tokenEndpointOf(managed, { MSI_ENDPOINT: "http://localhost:50342/oauth2/token" }))
      .toBe("http://localhost:50342/oauth2/token (MSI_ENDPOINT)")
    expect(tokenEndpointOf(managed, { IDENTITY_ENDPOINT: "http://127.0.0.1:41741/msi/token", MSI_ENDPOINT: "http://x" }))
      .toBe("http://127.0.0.1:41741/msi/token (IDENTITY_ENDPOINT)")
  })
})
