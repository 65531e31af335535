import * as Result from "effect/Result"
import { quote } from "./BoundedText.js"
import { DEFAULT_FS_NAME, parseFsName } from "./FsName.js"
import { hsmHydrationParameterNames, hydrationParametersOf } from "./HsmHydration.js"
import { parseMgsAddress } from "./MgsAddress.js"
import { validateSubDirTemplate } from "./SubDirTemplate.js"
import { dynamicProvisioningParameterNames } from "./DynamicVolumeParameters.js"
import { KUBERNETES_KEY_PREFIX } from "./KubernetesKeys.js"

/** The StorageClass parameters / PV volumeAttributes of a volume on an existing filesystem. */
export const staticParameterNames = ["mgs-ip-address", "fs-name", "sub-dir", ...hsmHydrationParameterNames] as const

export interface StaticVolumeParameters {
  readonly mgsAddress: string
  readonly fsName: string
  /** The `sub-dir` template as written (checked, not filled in); "" when there is none. */
  readonly subDir: string
  /** The `csi.storage.k8s.io/*` keys, kept for the volume context. */
  readonly kubernetesKeys: Readonly<Record<string, string>>
  /** `hsm-hydrate` and `hsm-hydrate-paths` as given (checked), those left empty left out, for the volume context. */
  readonly hsmHydration: Readonly<Record<string, string>>
}

const parameterList = `${staticParameterNames.join(", ")} (and ${KUBERNETES_KEY_PREFIX}* from Kubernetes)`

/**
 * Reads the parameters of a volume on an existing Azure Managed Lustre filesystem (static
 * provisioning). The failure is the user-facing message: unknown keys (all of them, sorted),
 * a missing or bad `mgs-ip-address`, a bad `fs-name`, `sub-dir` or HSM hydration setting (checked
 * against the mount options of each requested capability, where `hsm-aware` or `auto-import` may be).
 */
export const parseStaticVolumeParameters = (
  parameters: Readonly<Record<string, string>>,
  mountFlagsOfCapabilities: ReadonlyArray<ReadonlyArray<string>> = []
): Result.Result<StaticVolumeParameters, string> => {
  const kubernetesKeys: Record<string, string> = {}
  const unknown: Array<string> = []
  const dynamic: Array<string> = []
  for (const [key, value] of Object.entries(parameters)) {
    if (key.startsWith(KUBERNETES_KEY_PREFIX)) kubernetesKeys[key] = value
    else if (!(staticParameterNames as ReadonlyArray<string>).includes(key)) {
      unknown.push(key)
      if ((dynamicProvisioningParameterNames as ReadonlyArray<string>).includes(key)) dynamic.push(key)
    }
  }
  if (unknown.length > 0) {
    const names = unknown.sort().map((key) => quote(key)).join(", ")
    const hint = dynamic.length > 0
      ? `; ${dynamic.sort().join(", ")} ${dynamic.length === 1 ? "is a parameter" : "are parameters"} of dynamic ` +
        `provisioning, which creates a filesystem: remove mgs-ip-address to create one, or remove ${dynamic.length === 1 ? "it" : "them"} to use this filesystem`
      : ""
    return Result.fail(`unknown parameter(s) ${names}: the parameters are ${parameterList}${hint}`)
  }
  const mgsText = parameters["mgs-ip-address"]
  if (mgsText === undefined || mgsText === "") {
    return Result.fail(
      "mgs-ip-address is required for a static volume: set it to the MGS address of an existing Azure Managed " +
        "Lustre filesystem, or leave it out to create one (dynamic provisioning)"
    )
  }
  const mgsAddress = parseMgsAddress(mgsText)
  if (Result.isFailure(mgsAddress)) return Result.fail(mgsAddress.failure)
  const fsName = parseFsName(parameters["fs-name"] ?? DEFAULT_FS_NAME)
  if (Result.isFailure(fsName)) return Result.fail(fsName.failure)
  const subDir = parameters["sub-dir"] ?? ""
  if (subDir.includes("#")) {
    return Result.fail(
      `sub-dir ${quote(subDir)} contains "#", which separates the parts of a volume id; ` +
        `rename the directory without "#"`
    )
  }
  const checked = validateSubDirTemplate(subDir)
  if (Result.isFailure(checked)) return Result.fail(checked.failure)
  const hsmHydration = hydrationParametersOf(parameters, mountFlagsOfCapabilities)
  if (Result.isFailure(hsmHydration)) return Result.fail(hsmHydration.failure)
  return Result.succeed({
    mgsAddress: mgsAddress.success,
    fsName: fsName.success,
    subDir,
    kubernetesKeys,
    hsmHydration: hsmHydration.success
  })
}

/**
 * The volume context to hand back in CreateVolume: mgs-ip-address, fs-name, sub-dir (only when
 * set), the HSM hydration settings and the Kubernetes keys, so the node can fill in `sub-dir`
 * placeholders.
 */
export const toVolumeContext = (parameters: StaticVolumeParameters): Record<string, string> => ({
  ...parameters.kubernetesKeys,
  ...parameters.hsmHydration,
  "mgs-ip-address": parameters.mgsAddress,
  "fs-name": parameters.fsName,
  ...(parameters.subDir === "" ? {} : { "sub-dir": parameters.subDir })
})
