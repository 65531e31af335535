import type { TokenCredential } from "@azure/core-auth"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { AmlfsApi, ArmError } from "../../layers/azure/AmlfsApi.js"
import { AmlfsApiFake } from "../../layers/azure/AmlfsApiFake.js"
import { staticCredential } from "../../layers/azure/AzureCredential.js"
import { armReachableCheck, armTokenCheck } from "../../src/health/armReadinessChecks.js"
import { Readiness, type ReadinessCheck } from "../../src/health/Readiness.js"

const SCOPE = "https://management.azure.com/.default"

const reportOf = (check: Effect.Effect<ReadinessCheck>) => Effect.flatMap(check, (made) => Readiness.fromChecks([made]).report)

describe("the controller's readiness checks", () => {
  it.effect("arm-token passes when the credential gives a token", () =>
    Effect.gen(function*() {
      const report = yield* reportOf(armTokenCheck(staticCredential("t"), SCOPE, "WorkloadIdentity"))
      assert.deepStrictEqual(report, { ready: true, checks: [{ name: "arm-token", ready: true }] })
    }))

  it.effect("arm-token fails with the credential's reason and what to check", () =>
    Effect.gen(function*() {
      const refusing: TokenCredential = {
        getToken: () => Promise.reject(new Error("AADSTS700213: No matching federated identity record found"))
      }
      const report = yield* reportOf(armTokenCheck(refusing, SCOPE, "WorkloadIdentity"))
      assert.isFalse(report.ready)
      assert.strictEqual(
        report.checks[0]?.reason,
        "cannot obtain an Azure Resource Manager token (WorkloadIdentity): AADSTS700213: No matching federated identity " +
          "record found; check the controller's identity (workload identity federation, the managed identity, or azure.json)"
      )
    }))

  it.effect("arm-token keeps each outcome for its cache period: probes do not pile up sign-ins", () =>
    Effect.gen(function*() {
      let attempts = 0
      const refusing: TokenCredential = {
        getToken: () => {
          attempts++
          return Promise.reject(new Error("Network unreachable"))
        }
      }
      const check = yield* armTokenCheck(refusing, SCOPE, "ManagedIdentity", { cacheFor: "10 seconds" })
      const readiness = Readiness.fromChecks([check])
      yield* Effect.all([readiness.report, readiness.report, readiness.report], { concurrency: "unbounded" })
      assert.strictEqual(attempts, 1)
      yield* TestClock.adjust("11 seconds")
      assert.isFalse((yield* readiness.report).ready)
      assert.strictEqual(attempts, 2)
    }))

  it.effect("arm-token gives up after its timeout when Entra ID does not answer", () =>
    Effect.gen(function*() {
      const silent: TokenCredential = { getToken: () => new Promise(() => {}) }
      const fiber = yield* Effect.forkChild(reportOf(armTokenCheck(silent, SCOPE, "ManagedIdentity", { timeout: "10 seconds" })))
      yield* TestClock.adjust("10 seconds")
      const report = yield* Fiber.join(fiber)
      assert.isFalse(report.ready)
      assert.include(report.checks[0]?.reason ?? "", "no Azure Resource Manager token within 10s (ManagedIdentity)")
    }))

  it.effect("arm-reachable asks ARM at most once per cache period and reports its failure", () =>
    Effect.gen(function*() {
      const api = yield* AmlfsApi
      const fake = yield* AmlfsApiFake
      const check = yield* armReachableCheck(api, "eastus", "60 seconds")
      const readiness = Readiness.fromChecks([check])
      assert.isTrue((yield* readiness.report).ready)
      assert.isTrue((yield* readiness.report).ready)
      assert.strictEqual(yield* fake.count("listSkus"), 1)

      yield* Ref.set(fake.failures, [{
        operation: "listSkus",
        error: new ArmError({
          operation: "listSkus",
          statusCode: 503,
          code: "ServiceUnavailable",
          message: "ARM is unavailable",
          retryAfterMillis: undefined
        })
      }])
      yield* TestClock.adjust("61 seconds")
      const failing = yield* readiness.report
      assert.isFalse(failing.ready)
      assert.include(failing.checks[0]?.reason ?? "", "did not answer listing the AMLFS SKUs of eastus: ARM is unavailable")
      assert.strictEqual(yield* fake.count("listSkus"), 2)
    }).pipe(Effect.provide(AmlfsApiFake.layer())))
})
