import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import { compatibilityParameterNames, dynamicProvisioningParameterNames } from "../../src/domain/DynamicVolumeParameters.js"
import { staticParameterNames } from "../../src/domain/StaticVolumeParameters.js"
import { checkVolumeAttributeKeys } from "../../src/domain/VolumeAttributes.js"

const known = [...staticParameterNames, ...dynamicProvisioningParameterNames, ...compatibilityParameterNames]
const KnownKey = Schema.Literals([...known, "storage.kubernetes.io/csiProvisionerIdentity"])
const KubernetesKey = Schema.String.check(Schema.isPattern(/^csi\.storage\.k8s\.io\/[a-zA-Z./]{1,30}$/))
const Value = Schema.String.check(Schema.isMaxLength(20))
const Typo = Schema.Struct({
  key: Schema.Literals(known),
  at: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })),
  letter: Schema.Literals(["q", "x", "z"])
})

const failure = (result: Result.Result<void, string>): string => Result.isFailure(result) ? result.failure : "accepted"

describe("volume attribute keys (a PV's volumeAttributes)", () => {
  it.prop("accepts the parameters, the Go driver's copies of StorageClass parameters and Kubernetes' keys", [
    Schema.Record(KnownKey, Value),
    Schema.Record(KubernetesKey, Value)
  ], ([parameters, kubernetes]) => {
    expect(checkVolumeAttributeKeys({ ...parameters, ...kubernetes })).toEqual(Result.void)
  })

  it.prop("refuses a misspelled key by name and suggests the key meant", [Typo, Schema.Record(KnownKey, Value)], ([{ key, at, letter }, others]) => {
    const index = at % key.length
    const misspelled = `${key.slice(0, index)}${letter}${key.slice(index + 1)}`
    if ((known as ReadonlyArray<string>).includes(misspelled)) return
    const message = failure(checkVolumeAttributeKeys({ ...others, [misspelled]: "x" }))
    expect(message).toContain(`"${misspelled}"`)
    expect(message).toMatch(/did you mean "[a-z-]+"\?/)
    expect(message).toContain("spec.csi.volumeAttributes")
  })

  it("names each unknown key, sorted, without a suggestion when none is close", () => {
    expect(failure(checkVolumeAttributeKeys({ zzz: "1", "sub-dri": "a", "mgs-ip-address": "10.0.0.4" }))).toContain(
      '"sub-dri" (did you mean "sub-dir"?), "zzz"; the keys are mgs-ip-address, fs-name, sub-dir'
    )
  })

  it("knows the HSM hydration settings, and points the mount option aliases to mountOptions", () => {
    expect(checkVolumeAttributeKeys({ "hsm-hydrate": "background", "hsm-hydrate-paths": "datasets", "mgs-ip-address": "10.0.0.4" })).toEqual(Result.void)
    expect(failure(checkVolumeAttributeKeys({ "hsm-hydrat": "background" }))).toContain('"hsm-hydrat" (did you mean "hsm-hydrate"?)')
    expect(failure(checkVolumeAttributeKeys({ "hsm-hydrate-path": "a" }))).toContain('"hsm-hydrate-path" (did you mean "hsm-hydrate-paths"?)')
    // "auto-import" is also a StorageClass parameter (blob integration's auto-import prefixes), so a PV may carry it
    expect(checkVolumeAttributeKeys({ "auto-import": "/datasets" })).toEqual(Result.void)
    expect(failure(checkVolumeAttributeKeys({ "hsm-aware": "" }))).toContain(`set "hsm-hydrate": "background"`)
    expect(failure(checkVolumeAttributeKeys({ x: "" }))).toContain("the keys are mgs-ip-address, fs-name, sub-dir, hsm-hydrate, hsm-hydrate-paths,")
  })
})
