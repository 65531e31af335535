import type * as Pipeline from "@azure/core-rest-pipeline"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { ArmError } from "./AmlfsApi.js"
import { loose } from "./AmlfsHsmWire.js"
import { type ArmClientOptions, makeArmClient } from "./ArmClient.js"
import { type RoleAssignment, StorageAccess, storageApiVersions } from "./StorageAccess.js"

/** A blob container as ARM sends it; the preflight only needs to know it is one. */
const decodeContainerWire = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({
  id: loose(Schema.String),
  name: loose(Schema.String),
  type: loose(Schema.String)
})))

const RoleAssignmentWire = Schema.Struct({
  properties: loose(Schema.Struct({
    roleDefinitionId: loose(Schema.String),
    principalId: loose(Schema.String),
    principalType: loose(Schema.String)
  }))
})
const decodeRoleAssignmentPage = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({
  value: loose(Schema.Array(RoleAssignmentWire)),
  nextLink: loose(Schema.String)
})))

/** ARM lists at most a few hundred assignments a page; the bound only guards against a nextLink that loops. */
const MAX_PAGES = 100

/** An ARM resource id as a URL path: each segment encoded (ids the driver checked have nothing to encode). */
const pathOf = (resourceId: string) => `/${resourceId.split("/").filter((segment) => segment !== "").map(encodeURIComponent).join("/")}`

const make = (options: ArmClientOptions) =>
  Effect.gen(function*() {
    const { client, sendRaw, isAbsent, decodeCode, unexpected, invalidResponse, onArmHost } = yield* makeArmClient(options)

    const containerExists = Effect.fn("StorageAccess.containerExists")(function*(containerId: string) {
      const operation = "getBlobContainer"
      const url = `${client.$host}${pathOf(containerId)}?api-version=${storageApiVersions.containers}`
      const response = yield* sendRaw(operation, "GET", url, undefined)
      // ARM says so of a subscription the identity may not see, too: that is not an answer about the container.
      if (isAbsent(response) && decodeCode(response.bodyAsText) !== "SubscriptionNotFound") return false
      if (response.status !== 200) return yield* unexpected(operation, containerId, response)
      if (Option.isNone(decodeContainerWire(response.bodyAsText ?? ""))) return yield* invalidResponse(operation, containerId)
      return true
    })

    const roleAssignmentsAt = Effect.fn("StorageAccess.roleAssignmentsAt")(function*(scope: string) {
      const operation = "listRoleAssignments"
      const assignments: Array<RoleAssignment> = []
      let url: string | undefined = `${client.$host}${pathOf(scope)}/providers/Microsoft.Authorization/roleAssignments` +
        `?api-version=${storageApiVersions.roleAssignments}&$filter=${encodeURIComponent("atScope()")}`
      for (let page = 0; url !== undefined && page < MAX_PAGES; page++) {
        const response: Pipeline.PipelineResponse = yield* sendRaw(operation, "GET", url, undefined)
        if (response.status !== 200) return yield* unexpected(operation, scope, response)
        const decoded = decodeRoleAssignmentPage(response.bodyAsText ?? "")
        if (Option.isNone(decoded)) return yield* invalidResponse(operation, scope)
        for (const assignment of decoded.value.value ?? []) {
          const properties = assignment.properties ?? undefined
          assignments.push({
            roleDefinitionId: properties?.roleDefinitionId ?? "",
            principalId: properties?.principalId ?? "",
            principalType: properties?.principalType ?? ""
          })
        }
        const next = decoded.value.nextLink ?? undefined
        // The credential goes with every request: follow ARM's own host only.
        url = next !== undefined && onArmHost(next) ? next : undefined
      }
      const all: ReadonlyArray<RoleAssignment> = assignments
      return all
    })

    return StorageAccess.of({ containerExists, roleAssignmentsAt })
  })

/**
 * The storage reads through the same ARM client as AmlfsApiLive (ArmClient: endpoint,
 * credential, TLS, request timeout, `onRequest` counting), as raw requests decoded with Schema.
 */
export const StorageAccessLive = {
  /** Fails with an ArmError (status 0) only when the SDK cannot be loaded. */
  layer: (options: ArmClientOptions): Layer.Layer<StorageAccess, ArmError> => Layer.effect(StorageAccess, make(options))
} as const
