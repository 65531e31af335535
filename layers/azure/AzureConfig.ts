import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs/promises"
import { Kube } from "../kube/Kube.js"

/**
 * The controller's Azure settings could not be loaded: no cloud config anywhere, a file that is
 * not JSON, a missing or mistyped key, an unknown cloud, or a credential that cannot be built.
 * The message never contains `aadClientSecret`.
 */
export class AzureConfigError extends Schema.TaggedError<AzureConfigError>()("AzureConfigError", {
  message: Schema.String
}) {}

/** Where the cloud config is read by default (AKS and aks-engine put it there on every node). */
export const DEFAULT_CLOUD_CONFIG_FILE = "/etc/kubernetes/azure.json"
/** The Secret read when the file is absent, as cloud-provider-azure and the Go driver name it. */
export const CLOUD_CONFIG_SECRET = { namespace: "kube-system", name: "azure-cloud-provider", key: "cloud-config" } as const

/** The Azure clouds the driver knows the endpoints of (cloud-provider-azure's `cloud` values). */
export const AZURE_CLOUDS = {
  AzurePublicCloud: {
    resourceManager: "https://management.azure.com",
    authorityHost: "https://login.microsoftonline.com"
  },
  AzureChinaCloud: {
    resourceManager: "https://management.chinacloudapi.cn",
    authorityHost: "https://login.chinacloudapi.cn"
  },
  AzureUSGovernmentCloud: {
    resourceManager: "https://management.usgovcloudapi.net",
    authorityHost: "https://login.microsoftonline.us"
  }
} as const
export type AzureCloudName = keyof typeof AZURE_CLOUDS
const cloudNames = Object.keys(AZURE_CLOUDS) as ReadonlyArray<AzureCloudName>

/** The token cloud-provider-azure's workload identity reads when `aadFederatedTokenFile` is not set. */
export const DEFAULT_FEDERATED_TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token"

/**
 * The controller's Azure settings, decoded from the cloud config (cloud-provider-azure's key
 * names). Optional keys that are absent or `""` are `undefined`.
 */
export interface AzureConfigValues {
  readonly cloud: AzureCloudName
  readonly tenantId: string | undefined
  readonly subscriptionId: string
  /** The cluster's resource group: where clusters are created by default. */
  readonly resourceGroup: string
  /** The cluster's region: where clusters are created by default. */
  readonly location: string
  readonly vnetName: string | undefined
  /** The VNet's resource group, when it is not `resourceGroup`. */
  readonly vnetResourceGroup: string | undefined
  readonly subnetName: string | undefined
  /** The VNet's subscription, when it is not `subscriptionId`. */
  readonly networkResourceSubscriptionID: string | undefined
  readonly useManagedIdentityExtension: boolean
  /** The client id of the user-assigned managed identity (on AKS: the kubelet identity). */
  readonly userAssignedIdentityID: string | undefined
  readonly aadClientId: string | undefined
  /** A service principal's secret: never logged, never in an error message. */
  readonly aadClientSecret: Redacted.Redacted<string> | undefined
  readonly useFederatedWorkloadIdentityExtension: boolean
  readonly aadFederatedTokenFile: string | undefined
  /** The config's own ARM endpoint (`resourceManagerEndpoint`), if it names one. */
  readonly resourceManagerEndpoint: string | undefined
  /** Where ARM requests go: $ARM_ENDPOINT, else `resourceManagerEndpoint`, else the cloud's (no trailing `/`). */
  readonly armEndpoint: string
  /** The scope of ARM tokens: the cloud's ARM, even when `armEndpoint` points at a proxy or an emulator. */
  readonly armScope: string
  /** Microsoft Entra ID's host for the cloud (`https://login.microsoftonline.com`, ...). */
  readonly authorityHost: string
  /** Where the config came from: a file path, `Secret kube-system/azure-cloud-provider` or `values`. */
  readonly source: string
}

/** The controller's Azure settings, from the cloud config. */
export class AzureConfig extends Context.Service<AzureConfig, AzureConfigValues>()("azurelustre/azure/AzureConfig") {
  /**
   * The cloud config from $AZURE_CONFIG_FILE (default /etc/kubernetes/azure.json), else from the
   * Secret kube-system/azure-cloud-provider (key cloud-config); $ARM_ENDPOINT overrides the ARM
   * endpoint. Fails naming both places when neither exists.
   */
  static readonly layerFromEnvironment: Layer.Layer<AzureConfig, AzureConfigError, Kube> = Layer.effect(
    AzureConfig,
    Effect.suspend(() => loadAzureConfig({ env: process.env }))
  )

  /** `layerFromEnvironment` with the environment and the default file given, for tests. */
  static readonly layerFromSources = (sources: AzureConfigSources): Layer.Layer<AzureConfig, AzureConfigError, Kube> =>
    Layer.effect(AzureConfig, loadAzureConfig(sources))

  /** Settings given as values (tests, the simulation): decoded and checked as a file's would be. */
  static readonly layerFromValues = (values: AzureConfigInput): Layer.Layer<AzureConfig, AzureConfigError> =>
    Layer.effect(AzureConfig, Effect.fromResult(fromValues(values)))
}

/**
 * Settings as values, spelled as in the cloud config. `aadClientSecret` may be given plain or
 * Redacted; `armEndpoint` overrides the endpoint (e.g. the ARM emulator's URL).
 */
export interface AzureConfigInput {
  readonly cloud?: string
  readonly tenantId?: string
  readonly subscriptionId: string
  readonly resourceGroup: string
  readonly location: string
  readonly vnetName?: string
  readonly vnetResourceGroup?: string
  readonly subnetName?: string
  readonly networkResourceSubscriptionID?: string
  readonly useManagedIdentityExtension?: boolean
  readonly userAssignedIdentityID?: string
  readonly aadClientId?: string
  readonly aadClientSecret?: string | Redacted.Redacted<string>
  readonly useFederatedWorkloadIdentityExtension?: boolean
  readonly aadFederatedTokenFile?: string
  readonly resourceManagerEndpoint?: string
  readonly armEndpoint?: string
}

/** The environment (AZURE_CONFIG_FILE, ARM_ENDPOINT) and the file read when AZURE_CONFIG_FILE is not set. */
export interface AzureConfigSources {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly defaultFile?: string
}

/**
 * The cloud config's keys the driver reads (cloud-provider-azure's names); every other key is
 * ignored. The secrets are taken out before decoding, so no decoding error can quote them.
 */
const CloudConfigJson = Schema.Struct({
  cloud: Schema.optionalKey(Schema.String),
  tenantId: Schema.optionalKey(Schema.String),
  subscriptionId: Schema.optionalKey(Schema.String),
  resourceGroup: Schema.optionalKey(Schema.String),
  location: Schema.optionalKey(Schema.String),
  vnetName: Schema.optionalKey(Schema.String),
  vnetResourceGroup: Schema.optionalKey(Schema.String),
  subnetName: Schema.optionalKey(Schema.String),
  networkResourceSubscriptionID: Schema.optionalKey(Schema.String),
  useManagedIdentityExtension: Schema.optionalKey(Schema.Boolean),
  userAssignedIdentityID: Schema.optionalKey(Schema.String),
  aadClientId: Schema.optionalKey(Schema.String),
  useFederatedWorkloadIdentityExtension: Schema.optionalKey(Schema.Boolean),
  aadFederatedTokenFile: Schema.optionalKey(Schema.String),
  resourceManagerEndpoint: Schema.optionalKey(Schema.String)
})
const decodeCloudConfigJson = Schema.decodeUnknownResult(CloudConfigJson, { errors: "all" })

/** Keys whose values are secrets: never decoded by Schema, never quoted. */
const SECRET_KEYS: ReadonlyArray<string> = ["aadClientSecret", "aadClientCertPassword"]

const fail = (message: string) => Result.fail(new AzureConfigError({ message }))

const present = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

const cloudOf = (name: string | undefined, source: string): Result.Result<AzureCloudName, AzureConfigError> => {
  if (name === undefined) return Result.succeed("AzurePublicCloud")
  const found = cloudNames.find((known) => known.toLowerCase() === name.toLowerCase())
  return found !== undefined
    ? Result.succeed(found)
    : fail(`${source}: unknown cloud ${JSON.stringify(name)}: expected one of ${cloudNames.join(", ")}`)
}

const endpointOf = (url: string, from: string): Result.Result<string, AzureConfigError> => {
  if (!URL.canParse(url)) return fail(`${from} ${JSON.stringify(url)} is not a URL: expected e.g. https://management.azure.com`)
  const parsed = new URL(url)
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    return fail(`${from} ${JSON.stringify(url)} is not an http(s) URL`)
  }
  return Result.succeed(url.replace(/\/+$/, ""))
}

/** The checked settings, from decoded keys. */
const settingsOf = (
  input: AzureConfigInput | Partial<AzureConfigInput>,
  source: string,
  armEndpointOverride: { readonly url: string; readonly from: string } | undefined
): Result.Result<AzureConfigValues, AzureConfigError> =>
  Result.gen(function*() {
    const subscriptionId = present(input.subscriptionId)
    const resourceGroup = present(input.resourceGroup)
    const location = present(input.location)
    const missing = [
      ["subscriptionId", subscriptionId],
      ["resourceGroup", resourceGroup],
      ["location", location]
    ].filter(([, value]) => value === undefined).map(([key]) => key)
    if (subscriptionId === undefined || resourceGroup === undefined || location === undefined) {
      return yield* fail(`${source}: missing ${missing.join(", ")}: the cloud config must name the cluster's subscription, resource group and location`)
    }
    const cloud = yield* cloudOf(present(input.cloud), source)
    const resourceManagerEndpoint = present(input.resourceManagerEndpoint)
    const armEndpoint = armEndpointOverride !== undefined
      ? yield* endpointOf(armEndpointOverride.url, armEndpointOverride.from)
      : resourceManagerEndpoint !== undefined
      ? yield* endpointOf(resourceManagerEndpoint, `${source}: resourceManagerEndpoint`)
      : AZURE_CLOUDS[cloud].resourceManager
    const secret = input.aadClientSecret
    const aadClientSecret = secret === undefined
      ? undefined
      : Redacted.isRedacted(secret)
      ? (present(Redacted.value(secret)) === undefined ? undefined : secret)
      : (present(secret) === undefined ? undefined : Redacted.make(secret.trim(), { label: "aadClientSecret" }))
    return {
      cloud,
      tenantId: present(input.tenantId),
      subscriptionId,
      resourceGroup,
      location,
      vnetName: present(input.vnetName),
      vnetResourceGroup: present(input.vnetResourceGroup),
      subnetName: present(input.subnetName),
      networkResourceSubscriptionID: present(input.networkResourceSubscriptionID),
      useManagedIdentityExtension: input.useManagedIdentityExtension ?? false,
      userAssignedIdentityID: present(input.userAssignedIdentityID),
      aadClientId: present(input.aadClientId),
      aadClientSecret,
      useFederatedWorkloadIdentityExtension: input.useFederatedWorkloadIdentityExtension ?? false,
      aadFederatedTokenFile: present(input.aadFederatedTokenFile),
      resourceManagerEndpoint,
      armEndpoint,
      armScope: `${AZURE_CLOUDS[cloud].resourceManager}/.default`,
      authorityHost: AZURE_CLOUDS[cloud].authorityHost,
      source
    }
  })

const fromValues = (values: AzureConfigInput): Result.Result<AzureConfigValues, AzureConfigError> =>
  settingsOf(
    values,
    "values",
    values.armEndpoint === undefined ? undefined : { url: values.armEndpoint, from: "armEndpoint" }
  )

/**
 * The settings in a cloud config's text (JSON, as in azure.json). `source` names where the text
 * came from, for messages. No message quotes the text: a JSON error gives only the position.
 */
export const parseCloudConfig = (
  text: string,
  source: string,
  armEndpointOverride?: { readonly url: string; readonly from: string }
): Result.Result<AzureConfigValues, AzureConfigError> =>
  Result.gen(function*() {
    const json = yield* parseJson(text, source)
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return yield* fail(`${source} is not a JSON object: expected the cloud config, e.g. {"subscriptionId": ..., "resourceGroup": ...}`)
    }
    const entries = Object.entries(json)
    const secret: unknown = entries.find(([key]) => key === "aadClientSecret")?.[1]
    if (secret !== undefined && typeof secret !== "string") {
      return yield* fail(`${source}: aadClientSecret must be a string`)
    }
    const rest = Object.fromEntries(entries.filter(([key]) => !SECRET_KEYS.includes(key)))
    const decoded = yield* Result.mapError(
      decodeCloudConfigJson(rest),
      (error) => new AzureConfigError({ message: `${source} is not a valid cloud config: ${error.message}` })
    )
    // settingsOf's own keys are all optional here; its missing-key check names what is absent.
    return yield* settingsOf(
      { ...decoded, ...(secret === undefined ? {} : { aadClientSecret: Redacted.make(secret, { label: "aadClientSecret" }) }) },
      source,
      armEndpointOverride
    )
  })

const parseJson = (text: string, source: string): Result.Result<unknown, AzureConfigError> => {
  try {
    return Result.succeed(JSON.parse(text.replace(/^\uFEFF/, "")))
  } catch (cause) {
    // Node quotes a piece of the text in JSON errors, and the text may hold a secret: keep only the position.
    const where = cause instanceof Error ? /at position \d+( \(line \d+ column \d+\))?/.exec(cause.message)?.[0] : undefined
    return fail(`${source} is not valid JSON${where === undefined ? "" : `: ${where}`}`)
  }
}

/** The file's text; `Option.none()` when there is no such file. */
const readOptionalFile = (path: string): Effect.Effect<Option.Option<string>, AzureConfigError> =>
  Effect.tryPromise({
    try: () => Fs.readFile(path, "utf8"),
    catch: (cause) => cause
  }).pipe(
    Effect.map(Option.some),
    Effect.catch((cause) =>
      errnoOf(cause) === "ENOENT"
        ? Effect.succeed(Option.none())
        : Effect.fail(new AzureConfigError({ message: `cannot read the cloud config ${path}: ${errnoOf(cause) ?? String(cause)}` }))
    )
  )

const errnoOf = (cause: unknown): string | undefined =>
  cause instanceof Error && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

/**
 * Loads the settings as the Go driver and cloud-provider-azure do: the file named by
 * AZURE_CONFIG_FILE (default /etc/kubernetes/azure.json), else the Secret
 * kube-system/azure-cloud-provider (key cloud-config). ARM_ENDPOINT overrides the ARM endpoint.
 */
export const loadAzureConfig = (sources: AzureConfigSources): Effect.Effect<AzureConfigValues, AzureConfigError, Kube> =>
  Effect.gen(function*() {
    const fromEnv = present(sources.env["AZURE_CONFIG_FILE"])
    const file = fromEnv ?? sources.defaultFile ?? DEFAULT_CLOUD_CONFIG_FILE
    const armEndpoint = present(sources.env["ARM_ENDPOINT"])
    const override = armEndpoint === undefined ? undefined : { url: armEndpoint, from: "ARM_ENDPOINT" }
    const fileText = yield* readOptionalFile(file)
    const fileName = fromEnv === undefined ? file : `${file} (AZURE_CONFIG_FILE)`
    const { text, source } = Option.isSome(fileText)
      ? { text: fileText.value, source: fileName }
      : yield* readSecretText(fileName)
    const config = yield* Effect.fromResult(parseCloudConfig(text, source, override))
    yield* Effect.logInfo("read the Azure cloud config").pipe(
      Effect.annotateLogs({
        source: config.source,
        cloud: config.cloud,
        subscriptionId: config.subscriptionId,
        resourceGroup: config.resourceGroup,
        location: config.location,
        armEndpoint: config.armEndpoint
      })
    )
    return config
  })

const secretName = `Secret ${CLOUD_CONFIG_SECRET.namespace}/${CLOUD_CONFIG_SECRET.name}`

const readSecretText = (fileName: string) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const secret = yield* kube.readSecret(CLOUD_CONFIG_SECRET.namespace, CLOUD_CONFIG_SECRET.name).pipe(
      Effect.mapError((failed) =>
        new AzureConfigError({
          message: `no Azure cloud config in ${fileName} (no such file), and the ${secretName} could not be read: ${failed.message}`
        })
      )
    )
    if (Option.isNone(secret)) {
      return yield* new AzureConfigError({
        message: `no Azure cloud config: there is no file ${fileName} and no ${secretName} (key ${CLOUD_CONFIG_SECRET.key}); ` +
          `mount the cloud config at ${DEFAULT_CLOUD_CONFIG_FILE} (or set AZURE_CONFIG_FILE) or create the Secret`
      })
    }
    const text = secret.value[CLOUD_CONFIG_SECRET.key]
    if (text === undefined) {
      const keys = Object.keys(secret.value)
      return yield* new AzureConfigError({
        message: `the ${secretName} has no key ${CLOUD_CONFIG_SECRET.key} (it has ${keys.length === 0 ? "no keys" : keys.join(", ")}); ` +
          `put the cloud config JSON under ${CLOUD_CONFIG_SECRET.key}`
      })
    }
    return { text, source: `${secretName} (key ${CLOUD_CONFIG_SECRET.key})` }
  })
