import * as Effect from "effect/Effect"
import type { CheckResult, ReadinessCheckGroup } from "../../health/Readiness.js"
import { isSetUp, type NodeSetup, notSetUpReason } from "./NodeSetup.js"

export const LUSTRE_CLIENT_CHECK = "lustre-client"

/**
 * The node's readiness with its setup first: `lustre-client` passes once the node setup has
 * succeeded; until then the checks behind it (LNet's) are not run and say why, so a node being
 * set up runs no lnetctl for its probes and reports one reason. Without a setup
 * (AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no) there is no `lustre-client` check.
 */
export const gatedByNodeSetup = (
  setup: NodeSetup["Service"],
  behind: ReadinessCheckGroup,
  behindNames: ReadonlyArray<string>
): ReadinessCheckGroup => ({
  results: Effect.flatMap(setup.status, (status): Effect.Effect<ReadonlyArray<CheckResult>> => {
    if (status._tag === "Skipped") return behind.results
    if (isSetUp(status)) return Effect.map(behind.results, (results) => [{ name: LUSTRE_CLIENT_CHECK, ready: true }, ...results])
    return Effect.succeed([
      { name: LUSTRE_CLIENT_CHECK, ready: false, reason: notSetUpReason(status) },
      ...behindNames.map((name) => ({ name, ready: false, reason: `not checked: the Lustre client is not set up yet (see ${LUSTRE_CLIENT_CHECK})` }))
    ])
  })
})
