import type { AccessToken, TokenCredential } from "@azure/core-auth"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { AzureConfigError, type AzureConfigValues, DEFAULT_FEDERATED_TOKEN_FILE } from "./AzureConfig.js"

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
              authorityHost: choice.authorityHost
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
              { authorityHost: choice.authorityHost }
            )
        }
      },
      // @azure/identity's constructor errors name the parameter, never the secret's value.
      catch: (cause) => new AzureConfigError({ message: `cannot build the ${choice._tag} credential: ${reasonOf(cause)}` })
    })
    yield* Effect.logInfo("signing in to Azure Resource Manager").pipe(
      Effect.annotateLogs({
        identity: choice._tag,
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
