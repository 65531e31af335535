import { Schema } from "effect"

/** Valid parts of a blob container's resource id, with the edges of each rule over-represented. */
const Subscription = Schema.String.check(Schema.isPattern(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/))
const ResourceGroup = Schema.Union([
  Schema.String.check(Schema.isPattern(/^[-a-zA-Zé0-9_.()]{0,40}[-a-zA-Zé0-9_()]$/)),
  Schema.Literals(["r".repeat(90), "rg-(prod)_1.a"])
])
const StorageAccount = Schema.Union([
  Schema.String.check(Schema.isPattern(/^[a-z0-9]{3,24}$/)),
  Schema.Literals(["abc", "a".repeat(24)])
])
export const Container = Schema.Union([
  Schema.String.check(Schema.isPattern(/^[a-z0-9]{3,12}(?:-[a-z0-9]{1,10}){0,4}$/)),
  Schema.Literals(["a-b", "a".repeat(63), "0-0-0"])
])
export const ContainerParts = Schema.Struct({
  subscription: Subscription,
  resourceGroup: ResourceGroup,
  storageAccount: StorageAccount,
  name: Container
})

