import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  BLOB_CONTAINER_ID_FORM,
  blobContainerIdOf,
  inSameStorageAccount,
  parseBlobContainerId
} from "../../src/domain/BlobContainerId.js"
import { Container, ContainerParts } from "./blobArbitraries.js"

const failure = <A>(result: Result.Result<A, string>): string => (Result.isFailure(result) ? result.failure : "accepted")

/** How the fixed segments may be spelled: ARM compares them case-insensitively. */
const Casing = Schema.Literals(["as ARM writes them", "lower case", "upper case"])
const spell = (parts: typeof ContainerParts.Type, casing: typeof Casing.Type): string => {
  const fixed = (segment: string) =>
    casing === "lower case" ? segment.toLowerCase() : casing === "upper case" ? segment.toUpperCase() : segment
  return `/${fixed("subscriptions")}/${parts.subscription}/${fixed("resourceGroups")}/${parts.resourceGroup}/` +
    `${fixed("providers")}/${fixed("Microsoft.Storage")}/${fixed("storageAccounts")}/${parts.storageAccount}/` +
    `${fixed("blobServices")}/${fixed("default")}/${fixed("containers")}/${parts.name}`
}

/** Anything a user could type, with the pieces of an id over-represented. */
const Hostile = Schema.Union([
  Schema.String,
  Schema.String.check(
    Schema.isPattern(/^(?:\/|subscriptions|resourceGroups|providers|Microsoft\.Storage|storageAccounts|blobServices|default|containers|00000000-0000-0000-0000-000000000000|[a-zA-Z0-9]{1,4}|-|\.|\0|é){0,16}$/)
  )
])

describe("a blob container's resource id", () => {
  it.prop("an id built from valid parts reads back to the same parts, its fixed segments spelled as ARM writes them", [ContainerParts, Casing], ([parts, casing]) => {
    const parsed = parseBlobContainerId(spell(parts, casing))
    expect(parsed).toEqual(Result.succeed({ ...parts, id: spell(parts, "as ARM writes them") }))
    expect(parsed).toEqual(Result.succeed(blobContainerIdOf(parts)))
    if (Result.isSuccess(parsed)) expect(parseBlobContainerId(parsed.success.id)).toEqual(parsed)
  })

  it.prop("never throws; accepts only ids whose parts follow Azure's naming rules", [
    Hostile,
    ContainerParts,
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 300 }))
  ], ([hostile, parts, at]) => {
    const valid = spell(parts, "as ARM writes them")
    const spliced = `${valid.slice(0, at % valid.length)}${hostile}${valid.slice(at % valid.length)}`
    for (const text of [hostile, spliced]) {
      const parsed = parseBlobContainerId(text)
      if (Result.isFailure(parsed)) {
        expect(parsed.failure).toMatch(/^it (does not begin with "\/"|has )|^its (subscription|resource group|storage account|container) /)
        continue
      }
      const { subscription, resourceGroup, storageAccount, name } = parsed.success
      expect(subscription).toMatch(/^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i)
      expect(resourceGroup).toMatch(/^[-\p{L}\p{N}_.()]{1,90}$/u)
      expect(storageAccount).toMatch(/^[a-z0-9]{3,24}$/)
      expect(name).toMatch(/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/)
      expect(parsed.success.id.toLowerCase()).toBe(text.toLowerCase())
    }
  })

  const Broken = Schema.Union([
    Schema.Struct({ part: Schema.Literal("subscription"), bad: Schema.Literals(["", "sub1", "0000000-0000-0000-0000-000000000001", "g0000000-0000-0000-0000-000000000001"]) }),
    Schema.Struct({ part: Schema.Literal("resourceGroup"), bad: Schema.Literals(["", "rg.", "a b", "x".repeat(91), "a\u0000b", "rg:1"]) }),
    Schema.Struct({ part: Schema.Literal("storageAccount"), bad: Schema.Literals(["", "ab", "a".repeat(25), "my-account", "Acct", "acct_1", "accté"]) }),
    Schema.Struct({ part: Schema.Literal("name"), bad: Schema.Literals(["", "ab", "a".repeat(64), "-abc", "abc-", "a--b", "Data", "da_ta", "da.ta"]) })
  ])
  const partNames = { subscription: "subscription", resourceGroup: "resource group", storageAccount: "storage account", name: "container" }

  it.prop("a part that breaks its rule is named, quoted, with the rule", [ContainerParts, Broken, Casing], ([parts, { part, bad }, casing]) => {
    const message = failure(parseBlobContainerId(spell({ ...parts, [part]: bad }, casing)))
    expect(message).toMatch(new RegExp(`^its ${partNames[part]} ${JSON.stringify(bad).replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")} is not an? [a-z ]+ \\(`))
  })

  it("refusals say where the text leaves the form, or which part breaks which rule", () => {
    const parts = { subscription: "00000000-0000-0000-0000-000000000001", resourceGroup: "rg", storageAccount: "acct", name: "data" }
    const id = blobContainerIdOf(parts).id
    expect(failure(parseBlobContainerId("subscriptions/x"))).toBe(`it does not begin with "/"`)
    expect(failure(parseBlobContainerId(id.replace(/\/blobServices.*$/, "")))).toBe(`it has 8 parts separated by "/" where the form has 12`)
    expect(failure(parseBlobContainerId(`${id}/`))).toBe(`it has 13 parts separated by "/" where the form has 12`)
    expect(failure(parseBlobContainerId(id.replace("Microsoft.Storage", "Microsoft.Network")))).toBe(
      `it has "Microsoft.Network" where the form has "Microsoft.Storage"`
    )
    expect(failure(parseBlobContainerId(id.replace("/default/", "/main/")))).toBe(`it has "main" where the form has "default"`)
    expect(failure(parseBlobContainerId(blobContainerIdOf({ ...parts, subscription: "sub1", storageAccount: "My_Account" }).id))).toBe(
      `its subscription "sub1" is not a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000), ` +
        `its storage account "My_Account" is not a storage account name (3-24 lowercase letters and digits)`
    )
    expect(failure(parseBlobContainerId(blobContainerIdOf({ ...parts, resourceGroup: "rg." }).id))).toBe(
      `its resource group "rg." is not a resource group name (1-90 letters, digits, "-", "_", ".", "(" and ")", not ending with ".")`
    )
    expect(failure(parseBlobContainerId(blobContainerIdOf({ ...parts, name: "a--b" }).id))).toBe(
      `its container "a--b" is not a container name (3-63 lowercase letters, digits and single hyphens, beginning and ending with a letter or digit)`
    )
    for (const name of ["ab", "a".repeat(64), "-abc", "abc-", "Data", "da_ta"]) {
      expect(failure(parseBlobContainerId(blobContainerIdOf({ ...parts, name }).id))).toContain(`its container ${JSON.stringify(name)}`)
    }
    for (const storageAccount of ["ab", "a".repeat(25), "my-account", "Acct"]) {
      expect(failure(parseBlobContainerId(blobContainerIdOf({ ...parts, storageAccount }).id))).toContain(`its storage account ${JSON.stringify(storageAccount)}`)
    }
    expect(BLOB_CONTAINER_ID_FORM).toBe(
      "/subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.Storage/storageAccounts/<storage-account>/blobServices/default/containers/<container>"
    )
  })

  it("a long id is quoted bounded", () => {
    const parts = { subscription: "00000000-0000-0000-0000-000000000001", resourceGroup: "rg", storageAccount: "acct", name: "x".repeat(100_000) }
    const message = failure(parseBlobContainerId(blobContainerIdOf(parts).id))
    expect(message).toContain("(100000 characters)")
    expect(message.length).toBeLessThan(500)
  })

  it.prop("same storage account: subscription and resource group compared case-insensitively, the account exactly", [ContainerParts, Container], ([parts, other]) => {
    const container = blobContainerIdOf(parts)
    const sibling = { ...parts, subscription: parts.subscription.toUpperCase(), resourceGroup: parts.resourceGroup.toUpperCase(), name: other }
    expect(inSameStorageAccount(container, blobContainerIdOf(sibling))).toBe(true)
    const otherAccount = parts.storageAccount === "abc" ? "abd" : "abc"
    const otherSubscription = `${parts.subscription.slice(0, -1)}${parts.subscription.endsWith("0") ? "1" : "0"}`
    expect(inSameStorageAccount(container, blobContainerIdOf({ ...sibling, storageAccount: otherAccount }))).toBe(false)
    expect(inSameStorageAccount(container, blobContainerIdOf({ ...sibling, resourceGroup: `${parts.resourceGroup}x` }))).toBe(false)
    expect(inSameStorageAccount(container, blobContainerIdOf({ ...sibling, subscription: otherSubscription }))).toBe(false)
  })
})
