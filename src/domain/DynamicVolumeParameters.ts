import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import { isResourceGroupName, RESOURCE_GROUP_RULE } from "./AzureResourceNames.js"
import { type BlobIntegration, blobIntegrationOf, blobIntegrationParameterNames } from "./BlobIntegration.js"
import { quote } from "./BoundedText.js"
import { DRIVER_TAG_COUNT, isReservedTagKey, MAX_TAGS_PER_RESOURCE, RESERVED_TAG_PREFIX } from "./ClusterTags.js"
import { DEFAULT_FS_NAME } from "./FsName.js"
import { hsmHydrationParameterNames, hydrationParametersOf } from "./HsmHydration.js"
import { KUBERNETES_KEY_PREFIX } from "./KubernetesKeys.js"
import { validateSubDirTemplate } from "./SubDirTemplate.js"

/**
 * The StorageClass parameters of dynamic provisioning (no `mgs-ip-address`: CreateVolume creates
 * an Azure Managed Lustre filesystem), spelled and required as the Go driver does
 * (pkg/azurelustre/controllerserver.go parseAmlFilesystemProperties):
 * - `sku-name`, `maintenance-day-of-week` and `maintenance-time-of-day-utc` are required;
 * - an empty value counts as not set, as in the Go driver (so an empty required one is missing);
 * - `zones` is the Go driver's synonym of `zone`; `fs-name` is accepted only as `lustrefs`, the
 *   fsname of every AMLFS (the Go driver ignores it; a different name here would be a mistake);
 * - checks that need Azure (the SKU offered in the location, its zones, the subnet's room) are
 *   made later against ARM; here each value only has to be well formed;
 * - the blob integration parameters (BlobIntegration.ts) are this driver's own.
 */
export const dynamicProvisioningParameterNames = [
  "sku-name",
  "zone",
  "maintenance-day-of-week",
  "maintenance-time-of-day-utc",
  "location",
  "resource-group-name",
  "vnet-resource-group",
  "vnet-name",
  "subnet-name",
  "identities",
  "tags",
  "sub-dir",
  ...hsmHydrationParameterNames,
  ...blobIntegrationParameterNames
] as const

/** Accepted for drop-in compatibility with the Go driver's StorageClasses, not advertised. */
export const compatibilityParameterNames = ["zones", "fs-name"] as const

export const DAYS_OF_WEEK = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] as const
export type DayOfWeek = typeof DAYS_OF_WEEK[number]

/** ARM's pattern for maintenanceWindow.timeOfDayUTC. */
export const TIME_OF_DAY_PATTERN = /^([0-9]|0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$/

export interface DynamicVolumeParameters {
  /** Checked against the SKUs ARM lists for the location later. */
  readonly skuName: string
  /** The availability zone ("1", "2", ...); undefined when not set. */
  readonly zone: string | undefined
  /** The weekly 30-minute maintenance window: its day, and its UTC start as HH:MM (ARM's timeOfDayUTC). */
  readonly maintenanceDayOfWeek: DayOfWeek
  readonly maintenanceTimeOfDayUtc: string
  /** undefined: the defaults from the cloud config, filled in later. */
  readonly location: string | undefined
  readonly resourceGroup: string | undefined
  readonly vnetResourceGroup: string | undefined
  readonly vnetName: string | undefined
  readonly subnetName: string | undefined
  /** User-assigned identity ARM resource ids, without duplicates (compared case-insensitively). */
  readonly identities: ReadonlyArray<string>
  /** The user's tags (keys and values trimmed), without the driver's own. */
  readonly tags: Readonly<Record<string, string>>
  /** The `sub-dir` template as written (checked, not filled in); "" when there is none. */
  readonly subDir: string
  /** The `csi.storage.k8s.io/*` keys, kept for the tags and the volume context. */
  readonly kubernetesKeys: Readonly<Record<string, string>>
  /** `hsm-hydrate` and `hsm-hydrate-paths` as given (checked), those left empty left out, for the volume context. */
  readonly hsmHydration: Readonly<Record<string, string>>
  /** The cluster's Azure Blob integration; undefined without `blob-container`. */
  readonly blobIntegration: BlobIntegration | undefined
}

/** A string parameter whose check names the parameter, quotes the value and says what is allowed. */
const checkedText = (name: string, problem: (value: string) => string | undefined) =>
  Schema.String.check(Schema.makeFilter((value: string) => {
    const found = problem(value)
    return found === undefined ? undefined : `${name} ${quote(value)} ${found}`
  }))

const required = <S extends Schema.Top>(name: string, what: string) => (schema: S) =>
  schema.pipe(Schema.annotateKey({ messageMissingKey: `${name} is required for dynamic provisioning: ${what}` }))

// ARM's naming rules (learn.microsoft.com, "Naming rules and restrictions for Azure resources").
const VNET_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])$/
const SUBNET_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/
const LOCATION_PATTERN = /^[A-Za-z0-9]{1,64}$/
const ZONE_PATTERN = /^[1-9][0-9]?$/
const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/
const GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
const IDENTITY_PATTERN = new RegExp(
  `^/subscriptions/${GUID}/resourceGroups/([-\\p{L}\\p{N}_.()]{1,90})/providers/` +
    `Microsoft\\.ManagedIdentity/userAssignedIdentities/[A-Za-z0-9][A-Za-z0-9_-]{2,127}$`,
  "iu"
)
const IDENTITY_FORM =
  "/subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"

/** Where its callers have always found it. */
export { isResourceGroupName }

const resourceGroupProblem = (value: string): string | undefined =>
  isResourceGroupName(value) ? undefined : `is not a resource group name: ${RESOURCE_GROUP_RULE}`

/** Each of the user's tag keys may be at most this long, each value at most TAG_VALUE_MAX. */
export const TAG_KEY_MAX = 512
export const TAG_VALUE_MAX = 256
/** The user may set this many tags: ARM allows 50 per resource, and the driver adds up to 4. */
export const MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - DRIVER_TAG_COUNT
const TAG_KEY_FORBIDDEN = /[<>%&\\?/]/

/**
 * The Go driver's `tags` syntax (pkg/util ConvertTagsToMap): "k1=v1,k2=v2", each entry exactly
 * one "=", keys and values trimmed, keys not empty; values may be empty. Besides, Azure's limits
 * and the driver's reserved keys. Keys are compared case-insensitively, as Azure compares tag
 * names, so a key given twice is refused rather than silently overwritten.
 */
export const parseTagList = (
  text: string
): { readonly tags: Readonly<Record<string, string>>; readonly problems: ReadonlyArray<string> } => {
  const tags: Record<string, string> = {}
  const problems: Array<string> = []
  const seen = new Set<string>()
  if (text === "") return { tags, problems }
  for (const entry of text.split(",")) {
    const parts = entry.split("=")
    const [rawKey, rawValue] = parts
    if (parts.length !== 2 || rawKey === undefined || rawValue === undefined) {
      problems.push(`${quote(entry)} is not one key=value`)
      continue
    }
    const key = rawKey.trim()
    const value = rawValue.trim()
    if (key === "") problems.push(`${quote(entry)} has an empty key`)
    else if (key.length > TAG_KEY_MAX) problems.push(`the key ${quote(key.slice(0, 20) + "…")} is ${key.length} characters; the limit is ${TAG_KEY_MAX}`)
    else if (TAG_KEY_FORBIDDEN.test(key)) problems.push(`the key ${quote(key)} contains one of < > % & \\ ? / which Azure does not allow in a tag name`)
    else if (isReservedTagKey(key)) {
      problems.push(`the key ${quote(key)} is the driver's own (k8s-azure-created-by and ${RESERVED_TAG_PREFIX}* are reserved)`)
    } else if (seen.has(key.toLowerCase())) problems.push(`the key ${quote(key)} is given twice (tag names are case-insensitive)`)
    else if (value.length > TAG_VALUE_MAX) problems.push(`the value of ${quote(key)} is ${value.length} characters; the limit is ${TAG_VALUE_MAX}`)
    else {
      seen.add(key.toLowerCase())
      tags[key] = value
    }
  }
  const count = Object.keys(tags).length
  if (problems.length === 0 && count > MAX_USER_TAGS) {
    problems.push(`there are ${count} tags; at most ${MAX_USER_TAGS} (Azure allows ${MAX_TAGS_PER_RESOURCE} per resource and the driver adds up to ${DRIVER_TAG_COUNT})`)
  }
  return { tags, problems }
}

/** `identities`: comma-separated user-assigned identity ids; spaces around each are ignored. */
export const parseIdentityList = (
  text: string
): { readonly identities: ReadonlyArray<string>; readonly problems: ReadonlyArray<string> } => {
  const identities: Array<string> = []
  const bad: Array<string> = []
  let empty = false
  for (const entry of text.split(",").map((id) => id.trim())) {
    if (entry === "") empty = true
    else if (!IDENTITY_PATTERN.test(entry)) bad.push(entry)
    else if (!identities.some((id) => id.toLowerCase() === entry.toLowerCase())) identities.push(entry)
  }
  const problems: Array<string> = []
  if (empty) problems.push("has an empty entry (separate the ids with single commas)")
  if (bad.length > 0) {
    problems.push(`${bad.length === 1 ? "has an entry that is not a user-assigned identity resource id" : "has entries that are not user-assigned identity resource ids"}: ${bad.map(quote).join(", ")}`)
  }
  return { identities, problems }
}

const TagList = checkedText("tags", (value) => {
  const { problems } = parseTagList(value)
  return problems.length === 0 ? undefined : `is refused: ${problems.join(", ")}; write tags as key1=value1,key2=value2`
}).pipe(Schema.decodeTo(Schema.Record(Schema.String, Schema.String), {
  decode: SchemaGetter.transform((value: string) => parseTagList(value).tags),
  encode: SchemaGetter.transform((tags: Readonly<Record<string, string>>) =>
    Object.entries(tags).map(([key, value]) => `${key}=${value}`).join(",")
  )
}))

const IdentityList = checkedText("identities", (value) => {
  const { problems } = parseIdentityList(value)
  return problems.length === 0 ? undefined : `${problems.join(" and ")}; write each as ${IDENTITY_FORM}, separated by ","`
}).pipe(Schema.decodeTo(Schema.Array(Schema.String), {
  decode: SchemaGetter.transform((value: string) => parseIdentityList(value).identities),
  encode: SchemaGetter.transform((identities: ReadonlyArray<string>) => identities.join(","))
}))

const Day = Schema.Literals(DAYS_OF_WEEK)
const dayList = DAYS_OF_WEEK.join(", ")

const zoneProblem = (value: string): string | undefined =>
  ZONE_PATTERN.test(value)
    ? undefined
    : `is not an availability zone: give one zone number such as "1", "2" or "3" (the zones the SKU offers in the location are checked when the volume is created)`

/** The parameters as a Schema: each field's check says what is wrong and what is allowed. */
export const DynamicParametersSchema = Schema.Struct({
  "sku-name": checkedText("sku-name", (value) =>
    SKU_PATTERN.test(value)
      ? undefined
      : `is not a SKU name: e.g. AMLFS-Durable-Premium-40, -125, -250 or -500 (letters, digits, "-", "_", ".")`
  ).pipe(required("sku-name", "the AMLFS SKU, e.g. AMLFS-Durable-Premium-125 (the SKUs offered in the location are checked when the volume is created)")),
  zone: Schema.optionalKey(checkedText("zone", zoneProblem)),
  zones: Schema.optionalKey(checkedText("zones", zoneProblem)),
  "maintenance-day-of-week": checkedText("maintenance-day-of-week", (value) =>
    (DAYS_OF_WEEK as ReadonlyArray<string>).includes(value) ? undefined : `is not a day of the week: use one of ${dayList}`
  ).pipe(
    Schema.decodeTo(Day),
    required("maintenance-day-of-week", `the day of the weekly 30-minute maintenance window, one of ${dayList}`)
  ),
  "maintenance-time-of-day-utc": checkedText("maintenance-time-of-day-utc", (value) =>
    TIME_OF_DAY_PATTERN.test(value) ? undefined : `is not a time of day: write HH:MM, 24-hour, in UTC (e.g. "23:00")`
  ).pipe(required("maintenance-time-of-day-utc", `the UTC start of the weekly maintenance window as HH:MM, 24-hour (e.g. "23:00")`)),
  location: Schema.optionalKey(checkedText("location", (value) =>
    LOCATION_PATTERN.test(value)
      ? undefined
      : `is not an Azure region name: use the name ARM uses, letters and digits such as "eastus" or "westeurope" (default: the location in the cloud config)`
  )),
  "resource-group-name": Schema.optionalKey(checkedText("resource-group-name", resourceGroupProblem)),
  "vnet-resource-group": Schema.optionalKey(checkedText("vnet-resource-group", resourceGroupProblem)),
  "vnet-name": Schema.optionalKey(checkedText("vnet-name", (value) =>
    VNET_PATTERN.test(value)
      ? undefined
      : `is not a virtual network name: 2-64 letters, digits, "-", "_" and ".", beginning with a letter or digit and ending with a letter, digit or "_"`
  )),
  "subnet-name": Schema.optionalKey(checkedText("subnet-name", (value) =>
    SUBNET_PATTERN.test(value)
      ? undefined
      : `is not a subnet name: 1-80 letters, digits, "-", "_" and ".", beginning with a letter or digit and ending with a letter, digit or "_"`
  )),
  identities: Schema.optionalKey(IdentityList),
  tags: Schema.optionalKey(TagList),
  "sub-dir": Schema.optionalKey(Schema.String.check(Schema.makeFilter((value: string) => {
    if (value.includes("#")) {
      return `sub-dir ${quote(value)} contains "#", which separates the parts of a volume id; rename the directory without "#"`
    }
    const checked = validateSubDirTemplate(value)
    return Result.isFailure(checked) ? checked.failure : undefined
  }))),
  "fs-name": Schema.optionalKey(checkedText("fs-name", (value) =>
    value === DEFAULT_FS_NAME
      ? undefined
      : `cannot be set for dynamic provisioning: every Azure Managed Lustre filesystem's Lustre fsname is "${DEFAULT_FS_NAME}"; remove fs-name`
  ))
})

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const parameterList = `${dynamicProvisioningParameterNames.join(", ")} (and ${KUBERNETES_KEY_PREFIX}* from Kubernetes)`

const knownNames: ReadonlyArray<string> = [...dynamicProvisioningParameterNames, ...compatibilityParameterNames]
/** Checked by hydrationParametersOf and blobIntegrationOf, not by the Schema. */
const hydrationNames: ReadonlyArray<string> = hsmHydrationParameterNames
const blobIntegrationNames: ReadonlyArray<string> = blobIntegrationParameterNames

/**
 * Reads the parameters of a volume whose filesystem CreateVolume creates. The failure is ONE
 * user-facing message naming every problem, separated by "; ": unknown keys first (sorted, with
 * the list of parameters), then each bad or missing parameter with what it allows. The HSM
 * hydration settings are checked against the mount options of each requested capability, where
 * `hsm-aware` or `auto-import` may be (the mount option, not the blob integration parameter).
 */
export const parseDynamicVolumeParameters = (
  parameters: Readonly<Record<string, string>>,
  mountFlagsOfCapabilities: ReadonlyArray<ReadonlyArray<string>> = []
): Result.Result<DynamicVolumeParameters, string> => {
  const kubernetesKeys: Record<string, string> = {}
  const known: Record<string, string> = {}
  const unknown: Array<string> = []
  const problems: Array<string> = []
  for (const [key, value] of Object.entries(parameters)) {
    if (key.startsWith(KUBERNETES_KEY_PREFIX)) kubernetesKeys[key] = value
    else if (key === "mgs-ip-address") {
      problems.push(
        "mgs-ip-address names an existing filesystem (static provisioning) and cannot be combined with creating " +
          "one: remove it to create a filesystem, or remove the dynamic provisioning parameters to use that filesystem"
      )
    } else if (hydrationNames.includes(key) || blobIntegrationNames.includes(key)) {
      // checked below, hydration with the mount options, blob integration as a whole
    } else if (knownNames.includes(key)) {
      if (value !== "") known[key] = value
    } else unknown.push(key)
  }
  if (unknown.length > 0) {
    problems.unshift(
      `unknown parameter(s) ${unknown.sort().map(quote).join(", ")}: the parameters of dynamic provisioning are ${parameterList}`
    )
  }
  const decoded = Schema.decodeUnknownResult(DynamicParametersSchema, { errors: "all" })(known)
  if (Result.isFailure(decoded)) {
    problems.push(...formatter(decoded.failure.issue).issues.map((issue) => issue.message))
  }
  if (known.zone !== undefined && known.zones !== undefined && known.zone !== known.zones) {
    problems.push(
      `zone ${quote(known.zone)} and zones ${quote(known.zones)} disagree: zones is another spelling of zone and an ` +
        `Azure Managed Lustre filesystem has one zone; set only zone`
    )
  }
  const hsmHydration = hydrationParametersOf(parameters, mountFlagsOfCapabilities)
  if (Result.isFailure(hsmHydration)) problems.push(hsmHydration.failure)
  const blobIntegration = blobIntegrationOf(parameters)
  if (Result.isFailure(blobIntegration)) problems.push(...blobIntegration.failure)
  if (problems.length > 0 || Result.isFailure(decoded) || Result.isFailure(hsmHydration) || Result.isFailure(blobIntegration)) {
    return Result.fail(problems.join("; "))
  }
  const p = decoded.success
  return Result.succeed({
    skuName: p["sku-name"],
    zone: p.zone ?? p.zones,
    maintenanceDayOfWeek: p["maintenance-day-of-week"],
    maintenanceTimeOfDayUtc: p["maintenance-time-of-day-utc"],
    location: p.location,
    resourceGroup: p["resource-group-name"],
    vnetResourceGroup: p["vnet-resource-group"],
    vnetName: p["vnet-name"],
    subnetName: p["subnet-name"],
    identities: p.identities ?? [],
    tags: p.tags ?? {},
    subDir: p["sub-dir"] ?? "",
    kubernetesKeys,
    hsmHydration: hsmHydration.success,
    blobIntegration: blobIntegration.success
  })
}
