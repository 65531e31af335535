import * as Http from "node:http"

/**
 * An App Service style managed identity token endpoint on loopback (`GET <endpoint>?resource=...
 * &api-version=2019-08-01` with header `X-IDENTITY-HEADER`) that hands out a fixed token: `serve`
 * has no static credential, and of the identities it can use only a managed identity can be pointed
 * at a local endpoint (IDENTITY_ENDPOINT and IDENTITY_HEADER, read by @azure/identity's
 * ManagedIdentityCredential). The ARM emulator accepts any bearer token.
 */
export const startManagedIdentityEndpoint = (identityHeader: string): Promise<Http.Server> =>
  new Promise((resolve, reject) => {
    const server = Http.createServer((request, response) => {
      if (request.headers["x-identity-header"] !== identityHeader) {
        response.writeHead(400, { "content-type": "application/json" })
        response.end(JSON.stringify({ error: "invalid_request", error_description: "X-IDENTITY-HEADER missing" }))
        return
      }
      const resource = new URL(request.url ?? "/", "http://localhost").searchParams.get("resource") ?? ""
      const expiresOn = Math.floor(Date.now() / 1000) + 3600
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({
        access_token: "bench-token",
        expires_on: String(expiresOn),
        expires_in: 3600,
        resource,
        token_type: "Bearer",
        client_id: "00000000-0000-0000-0000-0000000000b1"
      }))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve(server))
  })
