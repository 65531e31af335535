import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Redacted, Ref, References, Result } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  AzureConfig,
  type AzureConfigError,
  type AzureConfigInput,
  type AzureConfigSources,
  type AzureConfigValues
} from "../../layers/azure/AzureConfig.js"
import { chooseArmCredential, makeArmCredential, staticCredential } from "../../layers/azure/AzureCredential.js"
import { KubeError } from "../../layers/kube/Kube.js"
import { KubeFake, secretKey } from "../../layers/kube/KubeFake.js"

const SECRET = "s3cr3t-Value~from.azure.json"

/** An AKS-style azure.json for a service principal, with keys the driver does not read. */
const azureJson = {
  cloud: "AzurePublicCloud",
  tenantId: "72f988bf-0000-0000-0000-000000000001",
  subscriptionId: "11111111-2222-3333-4444-555555555555",
  aadClientId: "a1b2c3d4-0000-0000-0000-000000000002",
  aadClientSecret: SECRET,
  resourceGroup: "MC_rg_aks_eastus",
  location: "eastus",
  vmType: "vmss",
  subnetName: "aks-subnet",
  securityGroupName: "aks-agentpool-nsg",
  vnetName: "aks-vnet",
  vnetResourceGroup: "rg-network",
  routeTableName: "aks-agentpool-routetable",
  cloudProviderBackoff: true,
  cloudProviderRateLimitQPS: 10,
  useManagedIdentityExtension: false,
  userAssignedIdentityID: "",
  useInstanceMetadata: true,
  loadBalancerSku: "Standard"
}

interface LogLine {
  readonly text: string
}

/** Runs `program`, capturing every log line (message and annotations) as text. */
const withLogs = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    const capture = Logger.make(({ fiber, message }) => {
      const annotations = fiber.getRef(References.CurrentLogAnnotations)
      lines.push({
        text: `${(Array.isArray(message) ? message : [message]).map(String).join(" ")} ${JSON.stringify(annotations)}`
      })
    })
    const exit = yield* Effect.exit(program.pipe(Effect.provide(Logger.layer([capture]))))
    return { exit, lines } as const
  })

/** A temporary directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "azure-config-test-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const writeFile = (dir: string, name: string, text: string) =>
  Effect.promise(async () => {
    const file = Path.join(dir, name)
    await Fs.writeFile(file, text)
    return file
  })

/** The config loaded from `sources`, with a fake Kube holding `secrets`; its Exit, logs and Kube calls. */
const load = (
  sources: AzureConfigSources,
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>> = {},
  failures: ReadonlyArray<KubeError> = []
) =>
  Effect.gen(function*() {
    const fake = yield* KubeFake
    const { exit, lines } = yield* withLogs(
      Effect.gen(function*() {
        return yield* AzureConfig
      }).pipe(Effect.provide(AzureConfig.layerFromSources(sources)))
    )
    return { exit, lines, calls: yield* Ref.get(fake.calls) }
  }).pipe(Effect.provide(KubeFake.layer({ secrets, failures })))

const succeeded = <A>(exit: Exit.Exit<A, AzureConfigError>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`expected success, got ${String(exit.cause)}`)
}

const failedMessage = <A>(exit: Exit.Exit<A, AzureConfigError>): string => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  // The whole cause, as a log line would print it.
  return String(exit.cause)
}

/** Nothing the driver writes may hold the secret: log lines, error messages, the config printed. */
const assertNoSecret = (...texts: ReadonlyArray<string>) => {
  for (const text of texts) assert.notInclude(text, SECRET)
}

const missingFile = "/nonexistent/azure-config-test/azure.json"

describe("AzureConfig.layerFromEnvironment (file, then Secret)", () => {
  it.live("reads $AZURE_CONFIG_FILE, ignoring keys it does not use, the secret Redacted", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = yield* writeFile(dir, "azure.json", JSON.stringify(azureJson, null, 2))
      const { calls, exit, lines } = yield* load({ env: { AZURE_CONFIG_FILE: file }, defaultFile: missingFile })
      const config = succeeded(exit)
      assert.deepStrictEqual({ ...config, aadClientSecret: undefined }, {
        cloud: "AzurePublicCloud",
        tenantId: azureJson.tenantId,
        subscriptionId: azureJson.subscriptionId,
        resourceGroup: "MC_rg_aks_eastus",
        location: "eastus",
        vnetName: "aks-vnet",
        vnetResourceGroup: "rg-network",
        subnetName: "aks-subnet",
        networkResourceSubscriptionID: undefined,
        useManagedIdentityExtension: false,
        userAssignedIdentityID: undefined,
        aadClientId: azureJson.aadClientId,
        aadClientSecret: undefined,
        useFederatedWorkloadIdentityExtension: false,
        aadFederatedTokenFile: undefined,
        resourceManagerEndpoint: undefined,
        armEndpoint: "https://management.azure.com",
        armScope: "https://management.azure.com/.default",
        authorityHost: "https://login.microsoftonline.com",
        source: `${file} (AZURE_CONFIG_FILE)`
      })
      assert.isTrue(config.aadClientSecret !== undefined && Redacted.isRedacted(config.aadClientSecret))
      assert.strictEqual(config.aadClientSecret === undefined ? "" : Redacted.value(config.aadClientSecret), SECRET)
      assert.deepStrictEqual(calls, [], "the Secret is not read when the file exists")
      assert.isAbove(lines.length, 0)
      assert.include(lines.map((line) => line.text).join("\n"), file)
      assertNoSecret(...lines.map((line) => line.text), JSON.stringify(config), String(config.aadClientSecret))
    }))

  it.live("the default file when AZURE_CONFIG_FILE is not set", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = yield* writeFile(dir, "azure.json", JSON.stringify(azureJson))
      const { exit } = yield* load({ env: {}, defaultFile: file })
      assert.strictEqual(succeeded(exit).source, file)
    }))

  it.live("no file: the Secret kube-system/azure-cloud-provider, key cloud-config", () =>
    Effect.gen(function*() {
      const { calls, exit, lines } = yield* load(
        { env: { AZURE_CONFIG_FILE: missingFile } },
        { [secretKey("kube-system", "azure-cloud-provider")]: { "cloud-config": JSON.stringify(azureJson) } }
      )
      const config = succeeded(exit)
      assert.strictEqual(config.subscriptionId, azureJson.subscriptionId)
      assert.strictEqual(config.source, "Secret kube-system/azure-cloud-provider (key cloud-config)")
      assert.deepStrictEqual(calls, [{ _tag: "ReadSecret", namespace: "kube-system", name: "azure-cloud-provider" }])
      assertNoSecret(...lines.map((line) => line.text), JSON.stringify(config))
    }))

  it.live("neither the file nor the Secret: an error naming both places", () =>
    Effect.gen(function*() {
      const { exit } = yield* load({ env: {}, defaultFile: missingFile })
      const message = failedMessage(exit)
      assert.include(message, `no file ${missingFile}`)
      assert.include(message, "no Secret kube-system/azure-cloud-provider (key cloud-config)")
      assert.include(message, "AZURE_CONFIG_FILE")
    }))

  it.live("a Secret without cloud-config names the keys it has", () =>
    Effect.gen(function*() {
      const { exit } = yield* load(
        { env: {}, defaultFile: missingFile },
        { [secretKey("kube-system", "azure-cloud-provider")]: { "azure.json": "{}" } }
      )
      assert.include(failedMessage(exit), "has no key cloud-config (it has azure.json)")
    }))

  it.live("a Secret that cannot be read: the API server's refusal, with the file that was missing", () =>
    Effect.gen(function*() {
      const { exit } = yield* load({ env: {}, defaultFile: missingFile }, {}, [
        new KubeError({ operation: "readSecret", status: 403, message: "the driver's service account may not read secrets" })
      ])
      const message = failedMessage(exit)
      assert.include(message, missingFile)
      assert.include(message, "may not read secrets")
    }))

  it.live("a file that cannot be read (a directory) is an error, not a fall-back to the Secret", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { calls, exit } = yield* load({ env: { AZURE_CONFIG_FILE: dir } })
      assert.include(failedMessage(exit), `cannot read the cloud config ${dir}: EISDIR`)
      assert.deepStrictEqual(calls, [])
    }))

  it.live("a file that is not JSON: the position, never the text (which holds the secret)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = yield* writeFile(dir, "azure.json", `{"aadClientSecret": "${SECRET}", oops}`)
      const { exit, lines } = yield* load({ env: { AZURE_CONFIG_FILE: file } })
      const message = failedMessage(exit)
      assert.include(message, `${file} (AZURE_CONFIG_FILE) is not valid JSON`)
      assertNoSecret(message, ...lines.map((line) => line.text))
    }))

  it.live("a mistyped key names the key; a mistyped secret is refused without quoting it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const typo = yield* writeFile(dir, "typo.json", JSON.stringify({ ...azureJson, useManagedIdentityExtension: "yes" }))
      const typoMessage = failedMessage((yield* load({ env: { AZURE_CONFIG_FILE: typo } })).exit)
      assert.include(typoMessage, "is not a valid cloud config")
      assert.include(typoMessage, "useManagedIdentityExtension")
      assertNoSecret(typoMessage)

      const numeric = yield* writeFile(dir, "numeric.json", JSON.stringify({ ...azureJson, aadClientSecret: 918273645 }))
      const numericMessage = failedMessage((yield* load({ env: { AZURE_CONFIG_FILE: numeric } })).exit)
      assert.include(numericMessage, "aadClientSecret must be a string")
      assert.notInclude(numericMessage, "918273645")
    }))

  it.live("missing subscriptionId, resourceGroup or location is named", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = yield* writeFile(dir, "azure.json", JSON.stringify({ ...azureJson, subscriptionId: "", location: undefined }))
      const message = failedMessage((yield* load({ env: { AZURE_CONFIG_FILE: file } })).exit)
      assert.include(message, "missing subscriptionId, location")
      assertNoSecret(message)
    }))

  it.live("ARM_ENDPOINT overrides the endpoint, the config's resourceManagerEndpoint comes next; the token scope stays the cloud's", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = yield* writeFile(
        dir,
        "azure.json",
        JSON.stringify({ ...azureJson, cloud: "AZURECHINACLOUD", resourceManagerEndpoint: "https://arm-proxy.example/" })
      )
      const fromConfig = succeeded((yield* load({ env: { AZURE_CONFIG_FILE: file } })).exit)
      assert.strictEqual(fromConfig.cloud, "AzureChinaCloud")
      assert.strictEqual(fromConfig.armEndpoint, "https://arm-proxy.example")
      assert.strictEqual(fromConfig.armScope, "https://management.chinacloudapi.cn/.default")
      assert.strictEqual(fromConfig.authorityHost, "https://login.chinacloudapi.cn")

      const fromEnv = succeeded(
        (yield* load({ env: { AZURE_CONFIG_FILE: file, ARM_ENDPOINT: "https://127.0.0.1:8443" } })).exit
      )
      assert.strictEqual(fromEnv.armEndpoint, "https://127.0.0.1:8443")

      const bad = failedMessage((yield* load({ env: { AZURE_CONFIG_FILE: file, ARM_ENDPOINT: "not a url" } })).exit)
      assert.include(bad, `ARM_ENDPOINT "not a url" is not a URL`)
    }))

  it.live("an unknown cloud is refused, naming the known ones", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = yield* writeFile(dir, "azure.json", JSON.stringify({ ...azureJson, cloud: "AzureGermanCloud" }))
      const message = failedMessage((yield* load({ env: { AZURE_CONFIG_FILE: file } })).exit)
      assert.include(message, `unknown cloud "AzureGermanCloud": expected one of AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud`)
    }))
})

const values: AzureConfigInput = {
  subscriptionId: "sub-1",
  resourceGroup: "rg-1",
  location: "eastus",
  tenantId: "tenant-1"
}

const configOf = (input: Partial<AzureConfigInput>) =>
  Effect.gen(function*() {
    return yield* AzureConfig
  }).pipe(Effect.provide(AzureConfig.layerFromValues({ ...values, ...input })))

describe("AzureConfig.layerFromValues", () => {
  it.effect("decodes values as a file's would be, armEndpoint overriding", () =>
    Effect.gen(function*() {
      const config = yield* configOf({ armEndpoint: "https://127.0.0.1:9443/", aadClientSecret: SECRET, aadClientId: "c" })
      assert.strictEqual(config.armEndpoint, "https://127.0.0.1:9443")
      assert.strictEqual(config.source, "values")
      assert.strictEqual(config.vnetName, undefined)
      assert.isTrue(config.aadClientSecret !== undefined && Redacted.isRedacted(config.aadClientSecret))
      assertNoSecret(JSON.stringify(config), String(config.aadClientSecret))
    }))

  it.effect("refuses values without a location", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(configOf({ location: "" }))
      assert.include(failed.message, "values: missing location")
    }))
})

/** The config `input` decodes to, for the credential tests. */
const configFrom = (input: Partial<AzureConfigInput>): Effect.Effect<AzureConfigValues, AzureConfigError> => configOf(input)

const credentialName = (config: AzureConfigValues, env: Readonly<Record<string, string>>) =>
  makeArmCredential(config, env).pipe(Effect.map((credential) => credential.constructor.name))

describe("makeArmCredential chooses like the Go driver (no call to Azure)", () => {
  it.effect("workload identity when AZURE_FEDERATED_TOKEN_FILE is set, the env's ids first", () =>
    Effect.gen(function*() {
      const config = yield* configFrom({ useManagedIdentityExtension: true, userAssignedIdentityID: "kubelet-id" })
      const env = {
        AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
        AZURE_CLIENT_ID: "wi-client",
        AZURE_TENANT_ID: "wi-tenant",
        AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/"
      }
      assert.strictEqual(yield* credentialName(config, env), "WorkloadIdentityCredential")
      assert.deepStrictEqual(Result.getOrUndefined(chooseArmCredential(config, env)), {
        _tag: "WorkloadIdentity",
        clientId: "wi-client",
        tenantId: "wi-tenant",
        tokenFilePath: "/var/run/secrets/azure/tokens/azure-identity-token",
        authorityHost: "https://login.microsoftonline.com/"
      })
    }))

  it.effect("workload identity from the config (useFederatedWorkloadIdentityExtension), with the default token file", () =>
    Effect.gen(function*() {
      const config = yield* configFrom({ useFederatedWorkloadIdentityExtension: true, aadClientId: "cfg-client" })
      const choice = Result.getOrUndefined(chooseArmCredential(config, {}))
      assert.deepStrictEqual(choice, {
        _tag: "WorkloadIdentity",
        clientId: "cfg-client",
        tenantId: "tenant-1",
        tokenFilePath: "/var/run/secrets/azure/tokens/azure-identity-token",
        authorityHost: "https://login.microsoftonline.com"
      })
    }))

  it.effect("workload identity without a client id says what is missing", () =>
    Effect.gen(function*() {
      const config = yield* configFrom({ tenantId: "" })
      const failed = yield* Effect.flip(makeArmCredential(config, { AZURE_FEDERATED_TOKEN_FILE: "/t" }))
      assert.include(failed.message, "needs a client id (AZURE_CLIENT_ID or aadClientId) and a tenant id (AZURE_TENANT_ID or tenantId)")
    }))

  it.effect("managed identity: the kubelet identity (userAssignedIdentityID), AZURE_CLIENT_ID first, else system-assigned", () =>
    Effect.gen(function*() {
      const aks = yield* configFrom({
        useManagedIdentityExtension: true,
        userAssignedIdentityID: "kubelet-id",
        // AKS writes these for managed-identity clusters: they must not pick the service principal.
        aadClientId: "msi",
        aadClientSecret: "msi"
      })
      assert.strictEqual(yield* credentialName(aks, {}), "ManagedIdentityCredential")
      assert.deepStrictEqual(Result.getOrUndefined(chooseArmCredential(aks, {})), { _tag: "ManagedIdentity", clientId: "kubelet-id" })
      assert.deepStrictEqual(
        Result.getOrUndefined(chooseArmCredential(aks, { AZURE_CLIENT_ID: "pod-id" })),
        { _tag: "ManagedIdentity", clientId: "pod-id" }
      )
      const system = yield* configFrom({ useManagedIdentityExtension: true })
      assert.strictEqual(yield* credentialName(system, {}), "ManagedIdentityCredential")
      assert.deepStrictEqual(Result.getOrUndefined(chooseArmCredential(system, {})), { _tag: "ManagedIdentity", clientId: undefined })
    }))

  it.effect("service principal: aadClientId + aadClientSecret, and the secret is never logged", () =>
    Effect.gen(function*() {
      const config = yield* configFrom({ aadClientId: "sp-client", aadClientSecret: SECRET })
      const { exit, lines } = yield* withLogs(credentialName(config, {}))
      assert.strictEqual(succeeded(exit), "ClientSecretCredential")
      assert.include(lines.map((line) => line.text).join("\n"), "ServicePrincipal")
      assertNoSecret(...lines.map((line) => line.text))
      const choice = Result.getOrUndefined(chooseArmCredential(config, {}))
      assert.strictEqual(choice?._tag, "ServicePrincipal")
      assertNoSecret(JSON.stringify(choice), String(choice))
    }))

  it.effect("a service principal without a tenant, or no identity at all, is an error that says what to set", () =>
    Effect.gen(function*() {
      const noTenant = yield* configFrom({ tenantId: "", aadClientId: "sp-client", aadClientSecret: SECRET })
      const failed = yield* Effect.flip(makeArmCredential(noTenant, {}))
      assert.include(failed.message, "the service principal sp-client needs the tenant id")
      assertNoSecret(failed.message)
      const none = yield* Effect.flip(makeArmCredential(yield* configFrom({}), {}))
      assert.include(none.message, "no Azure identity for the controller in values")
    }))

  it.effect("an invalid tenant id is refused by @azure/identity, without the secret", () =>
    Effect.gen(function*() {
      const config = yield* configFrom({ tenantId: "not a tenant!", aadClientId: "sp-client", aadClientSecret: SECRET })
      const failed = yield* Effect.flip(makeArmCredential(config, {}))
      assert.include(failed.message, "cannot build the ServicePrincipal credential")
      assertNoSecret(failed.message)
    }))

  it.effect("staticCredential answers its token (the emulator's)", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() => staticCredential("emulator-token").getToken("https://management.azure.com/.default"))
      assert.strictEqual(token?.token, "emulator-token")
      assert.isAbove(token?.expiresOnTimestamp ?? 0, Date.now())
      const redacted = yield* Effect.promise(() => staticCredential(Redacted.make("r")).getToken([]))
      assert.strictEqual(redacted?.token, "r")
    }))
})
