import { it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  parseStaticVolumeParameters,
  staticParameterNames,
  toVolumeContext
} from "../../src/domain/StaticVolumeParameters.js"
import { MgsAddress } from "../../src/domain/MgsAddress.js"

/** Host addresses, as the MgsAddress Schema generates them. */
const Ip = MgsAddress
const FsNameText = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,8}$/))
const SubDir = Schema.Literals(["", "shared", "a/b", "${pvc.metadata.namespace}/${pvc.metadata.name}", "pods/${pod.metadata.uid}"])
const KubeKeys = Schema.Record(
  Schema.Literals(["csi.storage.k8s.io/pvc/name", "csi.storage.k8s.io/pvc/namespace", "csi.storage.k8s.io/pv/name"]),
  Schema.String.check(Schema.isPattern(/^[a-z0-9-]{1,20}$/))
)
const UnknownKey = Schema.String.check(Schema.isPattern(/^[a-z][a-z-]{0,15}$/))
const Hydration = Schema.Union([
  Schema.Struct({}),
  Schema.Struct({ "hsm-hydrate": Schema.Literals(["off", "background", "before-start"]) }),
  Schema.Struct({
    "hsm-hydrate": Schema.Literals(["background", "before-start"]),
    "hsm-hydrate-paths": Schema.Literals(["datasets", "/datasets/imagenet, models", "/"])
  })
])

const failure = <A>(result: Result.Result<A, string>): string => Result.isFailure(result) ? result.failure : "succeeded"

describe("StaticVolumeParameters (mgs-ip-address, fs-name, sub-dir, hsm-hydrate, hsm-hydrate-paths)", () => {
  it.prop("reads valid parameters and gives them back as the volume context", [Ip, Schema.UndefinedOr(FsNameText), SubDir, KubeKeys, Hydration], ([ip, fsName, subDir, kube, hydration]) => {
    const parameters: Record<string, string> = { ...kube, ...hydration, "mgs-ip-address": ip }
    if (fsName !== undefined) parameters["fs-name"] = fsName
    if (subDir !== "") parameters["sub-dir"] = subDir
    const parsed = parseStaticVolumeParameters(parameters)
    expect(parsed).toEqual(Result.succeed({
      mgsAddress: ip,
      fsName: fsName ?? "lustrefs",
      subDir,
      kubernetesKeys: kube,
      hsmHydration: hydration
    }))
    if (Result.isSuccess(parsed)) {
      expect(toVolumeContext(parsed.success)).toEqual({ ...parameters, "fs-name": fsName ?? "lustrefs" })
      expect(parseStaticVolumeParameters(toVolumeContext(parsed.success))).toEqual(parsed)
    }
  })

  it.prop("names every unknown key, sorted", [Ip, Schema.Array(UnknownKey).check(Schema.isMinLength(1))], ([ip, keys]) => {
    const unknown = [...new Set(keys)].filter((key) => !(staticParameterNames as ReadonlyArray<string>).includes(key))
    const parameters = Object.fromEntries([["mgs-ip-address", ip], ...unknown.map((key) => [key, "v"])])
    const message = failure(parseStaticVolumeParameters(parameters))
    if (unknown.length === 0) expect(message).toBe("succeeded")
    else {
      expect(message.startsWith(
        `unknown parameter(s) ${unknown.toSorted().map((key) => JSON.stringify(key)).join(", ")}: ` +
          "the parameters are mgs-ip-address, fs-name, sub-dir, hsm-hydrate, hsm-hydrate-paths (and csi.storage.k8s.io/* from Kubernetes)"
      )).toBe(true)
    }
  })

  it("examples", () => {
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.4", "sku-nme": "x" }))).toBe(
      "unknown parameter(s) \"sku-nme\": the parameters are mgs-ip-address, fs-name, sub-dir, hsm-hydrate, hsm-hydrate-paths " +
        "(and csi.storage.k8s.io/* from Kubernetes)"
    )
    expect(failure(parseStaticVolumeParameters({ "sku-name": "AMLFS-Durable-Premium-40", zone: "1" })))
      .toContain("sku-name, zone are parameters of dynamic provisioning")
    expect(failure(parseStaticVolumeParameters({}))).toBe(
      "mgs-ip-address is required for a static volume: set it to the MGS address of an existing Azure Managed " +
        "Lustre filesystem, or leave it out to create one (dynamic provisioning)"
    )
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.256" }))).toContain("mgs-ip-address \"10.0.0.256\"")
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "0.0.0.0" }))).toContain("mgs-ip-address \"0.0.0.0\" is in 0.0.0.0/8")
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "255.255.255.255" }))).toContain("is the broadcast address")
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.4", "fs-name": "toolongname" }))).toContain("fs-name \"toolongname\"")
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.4", "sub-dir": "../x" }))).toContain("sub-dir")
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.4", "sub-dir": "${nope}" }))).toContain("unknown placeholder")
    expect(failure(parseStaticVolumeParameters({ "mgs-ip-address": "10.0.0.4", "sub-dir": "a#b" }))).toContain("\"#\"")
    expect(toVolumeContext({ mgsAddress: "10.0.0.4", fsName: "lustrefs", subDir: "", kubernetesKeys: {}, hsmHydration: {} }))
      .toEqual({ "mgs-ip-address": "10.0.0.4", "fs-name": "lustrefs" })
  })

  it("HSM hydration: checked against each capability's mount options, copied as given", () => {
    const ip = { "mgs-ip-address": "10.0.0.4" }
    expect(failure(parseStaticVolumeParameters({ ...ip, "hsm-hydrate": "always" })))
      .toContain(`StorageClass parameter "hsm-hydrate" is "always", not a hydration mode`)
    expect(failure(parseStaticVolumeParameters({ ...ip, "hsm-hydrate-paths": "a/../b", "hsm-hydrate": "background" })))
      .toContain(`StorageClass parameter "hsm-hydrate-paths" prefix "a/../b" contains a ".." component`)
    expect(failure(parseStaticVolumeParameters({ ...ip, "hsm-hydrate-paths": "models" })))
      .toContain(`StorageClass parameter "hsm-hydrate-paths" has no effect while hsm-hydrate is off`)
    const withAlias = parseStaticVolumeParameters({ ...ip, "hsm-hydrate-paths": "models", "hsm-hydrate": "" }, [["noatime,auto-import"]])
    expect(Result.isSuccess(withAlias) && toVolumeContext(withAlias.success)).toEqual({ ...ip, "fs-name": "lustrefs", "hsm-hydrate-paths": "models" })
    expect(failure(parseStaticVolumeParameters({ ...ip, "hsm-hydrate": "background" }, [["auto-import"]])))
      .toContain(`mount option "auto-import" stands for hsm-hydrate=before-start but StorageClass parameter "hsm-hydrate" is "background"`)
  })
})
