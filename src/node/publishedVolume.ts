import * as Effect from "effect/Effect"
import type { LustreFilesystem } from "../../layers/lustre/LustreShell.js"
import { invalidArgumentUnless, requireKnownVolume } from "../csi/requireValid.js"
import { parseFsName } from "../domain/FsName.js"
import { parseMgsAddress } from "../domain/MgsAddress.js"
import { pathComponents } from "../domain/NodePath.js"
import { checkVolumeAttributeKeys } from "../domain/VolumeAttributes.js"
import { resolveSubDir } from "../domain/SubDirTemplate.js"

export interface PublishedVolume {
  readonly filesystem: LustreFilesystem
  /** The directory inside the filesystem the pod sees, relative; "" for the whole filesystem. */
  readonly subDir: string
  /** Its components, each a valid file name. */
  readonly subDirComponents: ReadonlyArray<string>
}

/**
 * Which filesystem and directory a volume is, from its id and its context. The context (the PV's
 * volumeAttributes, plus the pod's details kubelet adds with podInfoOnMount) wins over the id, as
 * in the Go driver: a hand-written static PV may carry its MGS only there.
 */
export const publishedVolumeOf = Effect.fnUntraced(function*(
  volumeId: string,
  volumeContext: Readonly<Record<string, string>>
) {
  yield* invalidArgumentUnless(checkVolumeAttributeKeys(volumeContext))
  const id = yield* requireKnownVolume(volumeId)
  const mgsAddress = yield* invalidArgumentUnless(parseMgsAddress(volumeContext["mgs-ip-address"] ?? id.mgsAddress))
  const fsName = yield* invalidArgumentUnless(parseFsName(volumeContext["fs-name"] ?? id.fsName))
  const subDir = yield* invalidArgumentUnless(resolveSubDir(volumeContext["sub-dir"] ?? id.subDir, volumeContext))
  const subDirComponents = yield* invalidArgumentUnless(pathComponents("sub-dir", subDir))
  return { filesystem: { mgsAddress, fsName }, subDir, subDirComponents } satisfies PublishedVolume
})
