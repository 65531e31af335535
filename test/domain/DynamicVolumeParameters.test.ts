import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { blobContainerIdOf } from "../../src/domain/BlobContainerId.js"
import {
  DAYS_OF_WEEK,
  dynamicProvisioningParameterNames,
  MAX_USER_TAGS,
  parseDynamicVolumeParameters,
  parseIdentityList,
  parseTagList,
  TIME_OF_DAY_PATTERN
} from "../../src/domain/DynamicVolumeParameters.js"
import { Container, ContainerParts } from "./blobArbitraries.js"

const failure = <A>(result: Result.Result<A, string>): string => Result.isFailure(result) ? result.failure : "succeeded"

const Sku = Schema.Literals(["AMLFS-Durable-Premium-40", "AMLFS-Durable-Premium-125", "AMLFS-Durable-Premium-250", "AMLFS-Durable-Premium-500"])
const Day = Schema.Literals(DAYS_OF_WEEK)
const Time = Schema.Struct({
  hour: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 23 })),
  minute: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 59 })),
  padded: Schema.Boolean
})
const timeText = (t: typeof Time.Type) => `${t.padded ? String(t.hour).padStart(2, "0") : t.hour}:${String(t.minute).padStart(2, "0")}`
const ResourceGroup = Schema.String.check(Schema.isPattern(/^[-a-zA-Z0-9_.()]{0,40}[-a-zA-Z0-9_()]$/))
const Guid = Schema.String.check(Schema.isPattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/))
const IdentityName = Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,20}$/))
const Identity = Schema.Struct({ subscription: Guid, group: ResourceGroup, name: IdentityName })
const identityId = (i: typeof Identity.Type) =>
  `/subscriptions/${i.subscription}/resourceGroups/${i.group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${i.name}`
const Tags = Schema.Record(
  Schema.String.check(Schema.isPattern(/^[a-j][a-z0-9_.-]{0,15}$/)),
  Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9 :_.-]{0,20}$/))
)
const SubDir = Schema.Literals(["", "shared", "a/b", "${pvc.metadata.namespace}/${pvc.metadata.name}", "pods/${pod.metadata.uid}"])
const KubeKeys = Schema.Record(
  Schema.Literals(["csi.storage.k8s.io/pvc/name", "csi.storage.k8s.io/pvc/namespace", "csi.storage.k8s.io/pv/name"]),
  Schema.String.check(Schema.isPattern(/^[a-z0-9-]{1,20}$/))
)

const Valid = Schema.Struct({
  sku: Sku,
  zone: Schema.UndefinedOr(Schema.Literals(["1", "2", "3"])),
  day: Day,
  time: Time,
  location: Schema.UndefinedOr(Schema.String.check(Schema.isPattern(/^[a-z]{2,12}[0-9]?$/))),
  resourceGroup: Schema.UndefinedOr(ResourceGroup),
  vnetResourceGroup: Schema.UndefinedOr(ResourceGroup),
  vnetName: Schema.UndefinedOr(Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,30}[a-zA-Z0-9_]$/))),
  subnetName: Schema.UndefinedOr(Schema.String.check(Schema.isPattern(/^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,30}[a-zA-Z0-9_])?$/))),
  identities: Schema.Array(Identity).check(Schema.isMaxLength(3)),
  tags: Tags,
  subDir: SubDir,
  kube: KubeKeys,
  hydration: Schema.Union([
    Schema.Struct({}),
    Schema.Struct({ "hsm-hydrate": Schema.Literals(["", "off", "background", "before-start"]) }),
    Schema.Struct({
      "hsm-hydrate": Schema.Literals(["background", "before-start"]),
      "hsm-hydrate-paths": Schema.Literals(["", "datasets", "/datasets/imagenet, models", "/"])
    })
  ]),
  blob: Schema.UndefinedOr(Schema.Struct({ container: ContainerParts, loggingName: Container }).check(
    Schema.makeFilter((blob) => blob.loggingName !== blob.container.name)
  ))
})

/** The StorageClass parameters for a generated valid set; undefined ones left out. */
const storageClassOf = (v: typeof Valid.Type): Record<string, string> => {
  const optional: Record<string, string | undefined> = {
    zone: v.zone,
    location: v.location,
    "resource-group-name": v.resourceGroup,
    "vnet-resource-group": v.vnetResourceGroup,
    "vnet-name": v.vnetName,
    "subnet-name": v.subnetName,
    identities: v.identities.length === 0 ? undefined : v.identities.map(identityId).join(","),
    tags: Object.keys(v.tags).length === 0 ? undefined : Object.entries(v.tags).map(([k, val]) => `${k}=${val}`).join(","),
    "sub-dir": v.subDir === "" ? undefined : v.subDir,
    "blob-container": v.blob === undefined ? undefined : blobContainerIdOf(v.blob.container).id,
    "blob-logging-container": v.blob === undefined ? undefined : blobContainerIdOf({ ...v.blob.container, name: v.blob.loggingName }).id
  }
  return {
    ...v.kube,
    ...v.hydration,
    "sku-name": v.sku,
    "maintenance-day-of-week": v.day,
    "maintenance-time-of-day-utc": timeText(v.time),
    ...Object.fromEntries(Object.entries(optional).filter((entry): entry is [string, string] => entry[1] !== undefined))
  }
}

const minimal = {
  "sku-name": "AMLFS-Durable-Premium-125",
  "maintenance-day-of-week": "Saturday",
  "maintenance-time-of-day-utc": "22:00"
}

/** A string that is not empty and fails `valid`: what a user might mistype. */
const badText = (valid: (value: string) => boolean, near: ReadonlyArray<string>) =>
  Schema.Union([Schema.Literals(near as [string, ...Array<string>]), Schema.String]).check(
    Schema.makeFilter((value: string) => value !== "" && !valid(value))
  )

/** For each parameter: generated bad values, and words of the allowed values its message must carry. */
const badValues: ReadonlyArray<readonly [string, Schema.Schema<string>, string]> = [
  ["sku-name", badText((v) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/.test(v), [" AMLFS-Durable-Premium-40", "premium 40"]), "AMLFS-Durable-Premium-40"],
  ["zone", badText((v) => /^[1-9][0-9]?$/.test(v), ["0", "1,2", "zone1", "eastus-1", "100"]), `"1", "2" or "3"`],
  ["zones", badText((v) => /^[1-9][0-9]?$/.test(v), ["0", "1,2"]), `"1", "2" or "3"`],
  ["maintenance-day-of-week", badText((v) => (DAYS_OF_WEEK as ReadonlyArray<string>).includes(v), ["monday", "Mon", "SUNDAY"]), "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"],
  ["maintenance-time-of-day-utc", badText((v) => TIME_OF_DAY_PATTERN.test(v), ["24:00", "12:60", "1:5", "12:00:00", "noon"]), "HH:MM"],
  ["location", badText((v) => /^[A-Za-z0-9]{1,64}$/.test(v), ["East US", "east-us"]), `"eastus"`],
  ["resource-group-name", badText((v) => /^[-\p{L}\p{N}_.()]{1,90}$/u.test(v) && !v.endsWith("."), ["rg.", "a/b", "x".repeat(91)]), "1-90 letters"],
  ["vnet-resource-group", badText((v) => /^[-\p{L}\p{N}_.()]{1,90}$/u.test(v) && !v.endsWith("."), ["rg.", "a b"]), "1-90 letters"],
  ["vnet-name", badText((v) => /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])$/.test(v), ["v", "-vnet", "vnet.", "x".repeat(65)]), "2-64 letters"],
  ["subnet-name", badText((v) => /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/.test(v), ["_s", "s-", "x".repeat(81)]), "1-80 letters"],
  ["identities", badText((v) => parseIdentityList(v).problems.length === 0, ["/subscriptions/x/resourceGroups/rg", "a,,b", "id1 id2"]), "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"],
  ["tags", badText((v) => parseTagList(v).problems.length === 0, ["a", "a=b=c", "=v", "a=1,", "x/y=1", "k8s-azure-created-by=me"]), "key1=value1,key2=value2"],
  ["fs-name", badText((v) => v === "lustrefs", ["lustre", "LUSTREFS"]), `"lustrefs"`]
]

describe("DynamicVolumeParameters", () => {
  it.prop("reads every valid parameter set", [Valid], ([valid]) => {
    const parsed = parseDynamicVolumeParameters(storageClassOf(valid))
    expect(parsed).toEqual(Result.succeed({
      skuName: valid.sku,
      zone: valid.zone,
      maintenanceDayOfWeek: valid.day,
      maintenanceTimeOfDayUtc: timeText(valid.time),
      location: valid.location,
      resourceGroup: valid.resourceGroup,
      vnetResourceGroup: valid.vnetResourceGroup,
      vnetName: valid.vnetName,
      subnetName: valid.subnetName,
      identities: valid.identities.map(identityId).filter((id, i, all) =>
        all.findIndex((other) => other.toLowerCase() === id.toLowerCase()) === i
      ),
      tags: Object.fromEntries(Object.entries(valid.tags).map(([k, v]) => [k, v.trim()])),
      subDir: valid.subDir,
      kubernetesKeys: valid.kube,
      hsmHydration: Object.fromEntries(Object.entries(valid.hydration).filter(([, value]) => value !== "")),
      blobIntegration: valid.blob === undefined ? undefined : {
        container: blobContainerIdOf(valid.blob.container),
        loggingContainer: blobContainerIdOf({ ...valid.blob.container, name: valid.blob.loggingName }),
        importPrefixes: ["/"],
        autoImport: undefined,
        autoExport: undefined,
        archiveOnDelete: true
      }
    }))
  })

  for (const [name, Bad, allowed] of badValues) {
    it.prop(`refuses a bad ${name}, naming it, its value and what is allowed`, [Bad], ([value]) => {
      const message = failure(parseDynamicVolumeParameters({ ...minimal, [name]: value }))
      expect(message).toContain(`${name} ${JSON.stringify(value)}`)
      expect(message).toContain(allowed)
    })
  }

  it.prop("names every bad parameter in one message", [Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: badValues.length - 1 })))], ([picks]) => {
    const chosen = [...new Set(picks)].map((i) => badValues[i]?.[0]).filter((name): name is string => name !== undefined && name !== "zones")
    const values: Record<string, string> = {
      "sku-name": "sku name",
      zone: "0",
      "maintenance-day-of-week": "monday",
      "maintenance-time-of-day-utc": "24:00",
      location: "East US",
      "resource-group-name": "rg.",
      "vnet-resource-group": "a/b",
      "vnet-name": "v",
      "subnet-name": "s-",
      identities: "id",
      tags: "a",
      "fs-name": "lustre"
    }
    const parameters = { ...minimal, ...Object.fromEntries(chosen.map((name) => [name, values[name] ?? ""])) }
    const message = failure(parseDynamicVolumeParameters(parameters))
    if (chosen.length === 0) expect(message).toBe("succeeded")
    for (const name of chosen) expect(message).toContain(`${name} ${JSON.stringify(values[name])}`)
    expect(message).not.toContain("is required")
  })

  it.prop("the required ones: sku-name, maintenance-day-of-week, maintenance-time-of-day-utc (empty counts as missing)", [Schema.Array(Schema.Literals(["sku-name", "maintenance-day-of-week", "maintenance-time-of-day-utc"])), Schema.Boolean], ([missing, empty]) => {
    const parameters: Record<string, string> = { ...minimal }
    for (const name of missing) {
      if (empty) parameters[name] = ""
      else delete parameters[name]
    }
    const message = failure(parseDynamicVolumeParameters(parameters))
    if (missing.length === 0) expect(message).toBe("succeeded")
    for (const name of new Set(missing)) expect(message).toContain(`${name} is required for dynamic provisioning`)
  })

  it.prop("names every unknown key, sorted, with the list of parameters", [Schema.Array(Schema.String.check(Schema.isPattern(/^[a-z][a-z-]{0,15}$/))).check(Schema.isMinLength(1))], ([keys]) => {
    const known: ReadonlyArray<string> = [...dynamicProvisioningParameterNames, "zones", "fs-name", "mgs-ip-address"]
    const unknown = [...new Set(keys)].filter((key) => !known.includes(key))
    const message = failure(parseDynamicVolumeParameters({ ...minimal, ...Object.fromEntries(unknown.map((key) => [key, "v"])) }))
    if (unknown.length === 0) expect(message).toBe("succeeded")
    else {
      expect(message).toBe(
        `unknown parameter(s) ${unknown.toSorted().map((key) => JSON.stringify(key)).join(", ")}: the parameters of ` +
          "dynamic provisioning are sku-name, zone, maintenance-day-of-week, maintenance-time-of-day-utc, location, " +
          "resource-group-name, vnet-resource-group, vnet-name, subnet-name, identities, tags, sub-dir, hsm-hydrate, " +
          "hsm-hydrate-paths, blob-container, blob-logging-container, import-prefixes, auto-import, " +
          "auto-import-conflict-resolution, auto-export, archive-on-delete " +
          "(and csi.storage.k8s.io/* from Kubernetes)"
      )
    }
  })

  it.prop("refuses the driver's own tags, however they are spelled", [
    Schema.Literals([
      "k8s-azure-created-by",
      "K8S-Azure-Created-By",
      "kubernetes.io-created-for-pv-name",
      "kubernetes.io-created-for-pvc-name",
      "Kubernetes.io-Created-For-PVC-Namespace",
      "kubernetes.io-created-for-anything"
    ]),
    Schema.String.check(Schema.isPattern(/^[a-z0-9]{0,10}$/))
  ], ([key, value]) => {
    const message = failure(parseDynamicVolumeParameters({ ...minimal, tags: `env=prod,${key}=${value}` }))
    expect(message).toContain(`the key ${JSON.stringify(key)} is the driver's own`)
  })

  it("examples", () => {
    expect(parseDynamicVolumeParameters({ ...minimal, zones: "2", "fs-name": "lustrefs", tags: " env = prod , team=ml" })).toEqual(
      Result.succeed({
        skuName: "AMLFS-Durable-Premium-125",
        zone: "2",
        maintenanceDayOfWeek: "Saturday",
        maintenanceTimeOfDayUtc: "22:00",
        location: undefined,
        resourceGroup: undefined,
        vnetResourceGroup: undefined,
        vnetName: undefined,
        subnetName: undefined,
        identities: [],
        tags: { env: "prod", team: "ml" },
        subDir: "",
        kubernetesKeys: {},
        hsmHydration: {},
        blobIntegration: undefined
      })
    )
    const empty = parseDynamicVolumeParameters({ ...minimal, zone: "", location: "", tags: "", identities: "", "sub-dir": "" })
    expect(Result.isSuccess(empty) && [empty.success.zone, empty.success.location, empty.success.tags, empty.success.identities])
      .toEqual([undefined, undefined, {}, []])
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "mgs-ip-address": "10.0.0.4" })))
      .toContain("mgs-ip-address names an existing filesystem (static provisioning)")
    expect(failure(parseDynamicVolumeParameters({ ...minimal, zone: "1", zones: "2" })))
      .toContain("zone \"1\" and zones \"2\" disagree")
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "fs-name": "other" }))).toBe(
      "fs-name \"other\" cannot be set for dynamic provisioning: every Azure Managed Lustre filesystem's Lustre fsname is " +
        "\"lustrefs\"; remove fs-name"
    )
    expect(failure(parseDynamicVolumeParameters({ "sku-name": "AMLFS-Durable-Premium-40", "maintenance-day-of-week": "funday" }))).toBe(
      "maintenance-day-of-week \"funday\" is not a day of the week: use one of Monday, Tuesday, Wednesday, Thursday, " +
        "Friday, Saturday, Sunday; maintenance-time-of-day-utc is required for dynamic provisioning: the UTC start of the " +
        "weekly maintenance window as HH:MM, 24-hour (e.g. \"23:00\")"
    )
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "sub-dir": "../x" }))).toContain("has a \"..\" segment")
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "sub-dir": "a#b" }))).toContain("contains \"#\"")
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "sub-dir": "${nope}" }))).toContain("unknown placeholder")
    expect(failure(parseDynamicVolumeParameters({ ...minimal, tags: "env=prod,Env=test" })))
      .toContain("the key \"Env\" is given twice (tag names are case-insensitive)")
    const many = Array.from({ length: MAX_USER_TAGS + 1 }, (_, i) => `t${i}=v`).join(",")
    expect(failure(parseDynamicVolumeParameters({ ...minimal, tags: many }))).toContain(`there are ${MAX_USER_TAGS + 1} tags; at most ${MAX_USER_TAGS}`)
    expect(failure(parseDynamicVolumeParameters({ ...minimal, tags: `k=${"v".repeat(257)}` }))).toContain("the limit is 256")
    const id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/amlfs-id"
    const parsed = parseDynamicVolumeParameters({ ...minimal, identities: `${id}, ${id.toUpperCase().replace("MICROSOFT.MANAGEDIDENTITY", "Microsoft.ManagedIdentity")}` })
    expect(Result.isSuccess(parsed) && parsed.success.identities).toEqual([id])
    expect(failure(parseDynamicVolumeParameters({ ...minimal, identities: `${id},bad` })))
      .toContain(`identities "${id},bad" has an entry that is not a user-assigned identity resource id: "bad"`)
  })

  it("HSM hydration: one of the problems named together, checked against each capability's mount options", () => {
    expect(failure(parseDynamicVolumeParameters({ ...minimal, zone: "0", "hsm-hydrate": "always" }))).toBe(
      `zone "0" is not an availability zone: give one zone number such as "1", "2" or "3" (the zones the SKU offers in ` +
        `the location are checked when the volume is created); StorageClass parameter "hsm-hydrate" is "always", not a ` +
        "hydration mode: set it to off (the default), background (restore released files while the pod runs) or " +
        "before-start (restore them before the pod starts)"
    )
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "hsm-hydrate-paths": "datasets" })))
      .toContain(`StorageClass parameter "hsm-hydrate-paths" has no effect while hsm-hydrate is off`)
    const parsed = parseDynamicVolumeParameters({ ...minimal, "hsm-hydrate-paths": "datasets" }, [["hsm-aware"]])
    expect(Result.isSuccess(parsed) && parsed.success.hsmHydration).toEqual({ "hsm-hydrate-paths": "datasets" })
    expect(failure(parseDynamicVolumeParameters({ ...minimal, "hsm-hydrate": "off" }, [["noatime"], ["hsm-aware"]])))
      .toContain(`mount option "hsm-aware" stands for hsm-hydrate=background but StorageClass parameter "hsm-hydrate" is "off"`)
  })

  describe("blob integration", () => {
    const parts = { subscription: "00000000-0000-0000-0000-000000000001", resourceGroup: "rg", storageAccount: "datasets01", name: "training" }
    const containers = {
      "blob-container": blobContainerIdOf(parts).id,
      "blob-logging-container": blobContainerIdOf({ ...parts, name: "logs" }).id
    }

    it("reads the blob integration parameters; the parameter auto-import is not the mount option auto-import", () => {
      const parsed = parseDynamicVolumeParameters(
        { ...minimal, ...containers, "import-prefixes": "datasets", "auto-import": "/datasets", "auto-export": "/results", "archive-on-delete": "false" },
        [["auto-import"]]
      )
      expect(Result.isSuccess(parsed) && [parsed.success.blobIntegration, parsed.success.hsmHydration]).toEqual([
        {
          container: { id: containers["blob-container"], ...parts },
          loggingContainer: { id: containers["blob-logging-container"], ...parts, name: "logs" },
          importPrefixes: ["/datasets"],
          autoImport: { prefixes: ["/datasets"], conflictResolution: "Skip" },
          autoExport: { prefix: "/results" },
          archiveOnDelete: false
        },
        {}
      ])
    })

    it("names the blob integration's problems with the others, in one message", () => {
      expect(failure(parseDynamicVolumeParameters({ ...minimal, zone: "0", "blob-containr": "x", "auto-export": "/a,/b", "blob-container": containers["blob-container"] }))).toBe(
        `unknown parameter(s) "blob-containr": the parameters of dynamic provisioning are ${dynamicProvisioningParameterNames.join(", ")} ` +
          `(and csi.storage.k8s.io/* from Kubernetes); zone "0" is not an availability zone: give one zone number such as ` +
          `"1", "2" or "3" (the zones the SKU offers in the location are checked when the volume is created); ` +
          `StorageClass parameter "auto-export" is "/a,/b": it has 2 different prefixes; Azure Managed Lustre takes at ` +
          `most 1; write the one path an auto-export job exports new and changed files from, such as /results (Azure ` +
          `Managed Lustre allows one per job; "/" for the whole filesystem); StorageClass parameter ` +
          `"blob-logging-container" is required with blob-container: Azure Managed Lustre writes its job logs to a ` +
          `second container of the same storage account; create one (az storage container create --account-name ` +
          `datasets01 --name <logging-container> --auth-mode login) and set blob-logging-container to ` +
          `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/` +
          `storageAccounts/datasets01/blobServices/default/containers/<logging-container>`
      )
    })

    it.prop("a blob integration parameter without blob-container is refused by name, empty ones ignored", [
      Schema.Literals(["blob-logging-container", "import-prefixes", "auto-import", "auto-import-conflict-resolution", "auto-export", "archive-on-delete"]),
      Schema.Boolean
    ], ([name, empty]) => {
      const parsed = parseDynamicVolumeParameters({ ...minimal, [name]: empty ? "" : "/" })
      if (empty) expect(Result.isSuccess(parsed) && parsed.success.blobIntegration).toBeUndefined()
      else expect(failure(parsed)).toContain(`StorageClass parameter ${JSON.stringify(name)} needs blob-container`)
    })
  })
})
