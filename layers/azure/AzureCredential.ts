import type { AccessToken, TokenCredential } from "@azure/core-auth"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { AZURE_CLOUDS, AzureConfigError, type AzureConfigValues, DEFAULT_FEDERATED_TOKEN_FILE } from "./AzureConfig.js"

/**
 * Which identity the controller signs in to ARM with, chosen like the Go driver and
 * cloud-provider-azure, first match wins:
 * 1. workload identity: AZURE_FEDERATED_TOKEN_FILE is set (the AKS workload identity webhook sets
 *    it with AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST), or the config says
 *    `useFederatedWorkloadIdentityExtension`;
 * 2. managed identity: the config says `useManagedIdentityExtension`; the client id is
 *    AZURE_CLIENT_ID, else `userAssignedIdentityID` (on AKS the kubelet identity), else the
 *    system-assigned identity;
 * 3. service principal: `aadClientId` and `aadClientSecret`.
 * AKS's azure.json for managed-identity clusters says `"aadClientId": "msi"`, which is why the
 * managed identity comes before the service principal.
 */
export type ArmCredentialChoice =
  | {
    readonly _tag: "WorkloadIdentity"
    readonly tenantId: string
    readonly clientId: string
    readonly tokenFilePath: string
    readonly authorityHost: string
  }
  | { readonly _tag: "ManagedIdentity"; readonly clientId: string | undefined }
  | {
    readonly _tag: "ServicePrincipal"
    readonly tenantId: string
    readonly clientId: string
    readonly clientSecret: Redacted.Redacted<string>
    readonly authorityHost: string
  }

type Environment = Readonly<Record<string, string | undefined>>

const present = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

const fail = (message: string) => Result.fail(new AzureConfigError({ message }))

/** The identity to use for `config` in environment `env`; pure, so the choice is testable. */
export const chooseArmCredential = (
  config: AzureConfigValues,
  env: Environment
): Result.Result<ArmCredentialChoice, AzureConfigError> => {
  const envClientId = present(env["AZURE_CLIENT_ID"])
  const authorityHost = present(env["AZURE_AUTHORITY_HOST"]) ?? config.authorityHost
  const tokenFile = present(env["AZURE_FEDERATED_TOKEN_FILE"]) ??
    (config.useFederatedWorkloadIdentityExtension ? config.aadFederatedTokenFile ?? DEFAULT_FEDERATED_TOKEN_FILE : undefined)
  if (tokenFile !== undefined) {
    const clientId = envClientId ?? config.aadClientId
    const tenantId = present(env["AZURE_TENANT_ID"]) ?? config.tenantId
    const missing = [
      clientId === undefined ? "a client id (AZURE_CLIENT_ID or aadClientId)" : undefined,
      tenantId === undefined ? "a tenant id (AZURE_TENANT_ID or tenantId)" : undefined
    ].filter((what) => what !== undefined)
    if (clientId === undefined || tenantId === undefined) {
      return fail(
        `workload identity (federated token ${tokenFile}) needs ${missing.join(" and ")}: ` +
          `label the controller's service account for workload identity or set them in ${config.source}`
      )
    }
    return Result.succeed({ _tag: "WorkloadIdentity", tenantId, clientId, tokenFilePath: tokenFile, authorityHost })
  }
  if (config.useManagedIdentityExtension) {
    return Result.succeed({ _tag: "ManagedIdentity", clientId: envClientId ?? config.userAssignedIdentityID })
  }
  if (config.aadClientId !== undefined && config.aadClientSecret !== undefined) {
    if (config.tenantId === undefined) {
      return fail(`the service principal ${config.aadClientId} needs the tenant id: set tenantId in ${config.source}`)
    }
    return Result.succeed({
      _tag: "ServicePrincipal",
      tenantId: config.tenantId,
      clientId: config.aadClientId,
      clientSecret: config.aadClientSecret,
      authorityHost
    })
  }
  return fail(
    `no Azure identity for the controller in ${config.source}: use workload identity (AZURE_FEDERATED_TOKEN_FILE, ` +
      `AZURE_CLIENT_ID, AZURE_TENANT_ID), a managed identity (useManagedIdentityExtension, userAssignedIdentityID) ` +
      `or a service principal (aadClientId, aadClientSecret, tenantId)`
  )
}

const reasonOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, "")

/** The Microsoft Entra ID hosts of the clouds the identity library knows. */
const knownAuthorityHosts: ReadonlySet<string> = new Set(
  Object.values(AZURE_CLOUDS).map((cloud) => cloud.authorityHost.toLowerCase())
)

/**
 * Whether the identity library can check `authorityHost` with Microsoft's instance discovery. It
 * cannot for an Entra ID it does not know (Azure Stack, a sovereign or private cloud, a test
 * server): there the credential is told not to ask (`disableInstanceDiscovery`), else every
 * sign-in fails asking login.microsoftonline.com about a host it has never heard of.
 */
export const isKnownAuthorityHost = (authorityHost: string): boolean =>
  knownAuthorityHosts.has(withoutTrailingSlash(authorityHost).toLowerCase())

/** IMDS, where a managed identity gets its tokens on an Azure VM (AKS nodes included). */
const IMDS_TOKEN_PATH = "/metadata/identity/oauth2/token"

/**
 * Where the identity asks for tokens, as a failed sign-in should name it: Microsoft Entra ID
 * (`<authority host>/<tenant>`) for workload identity and service principals, and for a managed
 * identity the endpoint @azure/identity picks from the environment: IDENTITY_ENDPOINT (App
 * Service, Azure Arc), MSI_ENDPOINT (Cloud Shell), else IMDS (at AZURE_POD_IDENTITY_AUTHORITY_HOST
 * when set).
 */
export const tokenEndpointOf = (choice: ArmCredentialChoice, env: Environment): string => {
  switch (choice._tag) {
    case "WorkloadIdentity":
    case "ServicePrincipal":
      return `${withoutTrailingSlash(choice.authorityHost)}/${choice.tenantId}`
    case "ManagedIdentity": {
      const identityEndpoint = present(env["IDENTITY_ENDPOINT"])
      if (identityEndpoint !== undefined) return `${identityEndpoint} (IDENTITY_ENDPOINT)`
      const msiEndpoint = present(env["MSI_ENDPOINT"])
      if (msiEndpoint !== undefined) return `${msiEndpoint} (MSI_ENDPOINT)`
      const podIdentity = present(env["AZURE_POD_IDENTITY_AUTHORITY_HOST"])
      return podIdentity !== undefined
        ? `${withoutTrailingSlash(podIdentity)}${IMDS_TOKEN_PATH} (AZURE_POD_IDENTITY_AUTHORITY_HOST)`
        : `http://169.254.169.254${IMDS_TOKEN_PATH} (the instance metadata service)`
    }
  }
}

/**
 * The credential the controller signs in to ARM with (see `ArmCredentialChoice`). @azure/identity
 * is imported here, not at the top of the module, so a process that never builds a credential
 * (the node plugin, the simulation) never loads it. No token is requested yet.
 */
export const makeArmCredential = (
  config: AzureConfigValues,
  env: Environment = process.env
): Effect.Effect<TokenCredential, AzureConfigError> =>
  Effect.gen(function*() {
    const choice = yield* Effect.fromResult(chooseArmCredential(config, env))
    const identity = yield* Effect.tryPromise({
      try: () => import("@azure/identity"),
      catch: (cause) => new AzureConfigError({ message: `cannot load @azure/identity: ${reasonOf(cause)}` })
    })
    const credential = yield* Effect.try({
      try: (): TokenCredential => {
        switch (choice._tag) {
          case "WorkloadIdentity":
            return new identity.WorkloadIdentityCredential({
              tenantId: choice.tenantId,
              clientId: choice.clientId,
              tokenFilePath: choice.tokenFilePath,
              authorityHost: choice.authorityHost,
              disableInstanceDiscovery: !isKnownAuthorityHost(choice.authorityHost)
            })
          case "ManagedIdentity":
            return choice.clientId === undefined
              ? new identity.ManagedIdentityCredential()
              : new identity.ManagedIdentityCredential({ clientId: choice.clientId })
          case "ServicePrincipal":
            return new identity.ClientSecretCredential(
              choice.tenantId,
              choice.clientId,
              Redacted.value(choice.clientSecret),
              { authorityHost: choice.authorityHost, disableInstanceDiscovery: !isKnownAuthorityHost(choice.authorityHost) }
            )
        }
      },
      // @azure/identity's constructor errors name the parameter, never the secret's value.
      catch: (cause) => new AzureConfigError({ message: `cannot build the ${choice._tag} credential: ${reasonOf(cause)}` })
    })
    yield* Effect.logInfo("signing in to Azure Resource Manager").pipe(
      Effect.annotateLogs({
        identity: choice._tag,
        tokenEndpoint: tokenEndpointOf(choice, env),
        ...(choice._tag === "ManagedIdentity"
          ? { clientId: choice.clientId ?? "(system-assigned)" }
          : { clientId: choice.clientId, tenantId: choice.tenantId })
      })
    )
    return credential
  })

/**
 * A credential that always answers `token` (for the ARM emulator, which checks only that a
 * bearer token is sent). Each token is valid for `validFor` milliseconds from when it is asked.
 */
export const staticCredential = (
  token: string | Redacted.Redacted<string>,
  validForMillis: number = 60 * 60 * 1000
): TokenCredential => ({
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({
      token: Redacted.isRedacted(token) ? Redacted.value(token) : token,
      expiresOnTimestamp: Date.now() + validForMillis,
      tokenType: "Bearer"
    })
})
