/**
 * What bench/hsm.ts asks of the driver: the blob containers it fills (in the HSM simulation's
 * layout, HsmPaths), the CreateVolume calls the csi-provisioner would make for its PVCs, and the
 * files a workload writes into a cluster.
 */
import * as grpc from "@grpc/grpc-js"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import {
  type ControllerClient,
  type CreateVolumeRequest,
  type CreateVolumeResponse,
  VolumeCapability_AccessMode_Mode
} from "../src/gen/csi.js"
import { RESOURCE_GROUP } from "./controllerProcess.js"
import { sleep } from "./driverProcess.js"

export const STORAGE_ACCOUNT = "benchhsm"
export const LOGGING_CONTAINER = "amlfs-logs"
/** Imported at creation (`import-prefixes`). */
export const INITIAL_PREFIX = "/data"
export const INITIAL_FILES = 150
/** Imported on demand (the import annotation). */
export const EXTRA_PREFIX = "/extra"
export const EXTRA_FILES = 50
/** Archived on demand (the archive annotation), after the benchmark wrote a file there. */
export const RESULTS_PATH = "/results"
const FILES_PER_SHARD = 50
const FILE_BYTES = 1024

export const containerName = (volume: number) => `data-${String(volume).padStart(2, "0")}`

const containerId = (subscriptionId: string, container: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/` +
  `${STORAGE_ACCOUNT}/blobServices/default/containers/${container}`

/** A blob container's folder in the simulation's state directory. */
export const containerFolder = (stateDir: string, container: string) => join(stateDir, "blob", STORAGE_ACCOUNT, container)

/** A cluster's Lustre filesystem in the simulation's state directory (every AMLFS fsname is lustrefs). */
export const filesystemFolder = (stateDir: string, mgsAddress: string) => join(stateDir, "filesystems", mgsAddress, "lustrefs")

const smallFile = (text: string) => `${text}\n`.padEnd(FILE_BYTES, ".")

/**
 * A container of INITIAL_FILES blobs under `data/shard-N/` and EXTRA_FILES under `extra/`, each
 * FILE_BYTES long and unlike the others; and the (shared) logging container.
 */
export const fillContainer = (stateDir: string, volume: number) => {
  const root = containerFolder(stateDir, containerName(volume))
  for (let file = 0; file < INITIAL_FILES; file++) {
    const shard = join(root, INITIAL_PREFIX, `shard-${Math.floor(file / FILES_PER_SHARD)}`)
    if (file % FILES_PER_SHARD === 0) mkdirSync(shard, { recursive: true })
    writeFileSync(join(shard, `file-${String(file).padStart(4, "0")}.txt`), smallFile(`container ${volume} data file ${file}`))
  }
  mkdirSync(join(root, EXTRA_PREFIX), { recursive: true })
  for (let file = 0; file < EXTRA_FILES; file++) {
    writeFileSync(join(root, EXTRA_PREFIX, `file-${String(file).padStart(4, "0")}.txt`), smallFile(`container ${volume} extra file ${file}`))
  }
  mkdirSync(containerFolder(stateDir, LOGGING_CONTAINER), { recursive: true })
}

/** What a workload leaves in RESULTS_PATH for the archive to export; answers the file's path in the filesystem. */
export const writeResult = (stateDir: string, mgsAddress: string, claim: string): { readonly path: string; readonly content: string } => {
  const folder = join(filesystemFolder(stateDir, mgsAddress), RESULTS_PATH)
  mkdirSync(folder, { recursive: true })
  const content = `results of ${claim}, written at ${new Date().toISOString()}\n`
  writeFileSync(join(folder, `${claim}.txt`), content)
  return { path: `${RESULTS_PATH.slice(1)}/${claim}.txt`, content }
}

export interface ClaimToProvision {
  readonly namespace: string
  readonly claim: string
  readonly volumeName: string
  readonly container: string
}

/** The CreateVolume the csi-provisioner sends (with --extra-create-metadata) for a PVC of a blob-linked StorageClass. */
export const createRequest = (subscriptionId: string, target: ClaimToProvision): CreateVolumeRequest => ({
  name: target.volumeName,
  volumeCapabilities: [{
    accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
    accessMode: { mode: VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER }
  }],
  parameters: {
    "sku-name": "AMLFS-Durable-Premium-125",
    zone: "1",
    "maintenance-day-of-week": "Sunday",
    "maintenance-time-of-day-utc": "02:00",
    "blob-container": containerId(subscriptionId, target.container),
    "blob-logging-container": containerId(subscriptionId, LOGGING_CONTAINER),
    "import-prefixes": INITIAL_PREFIX,
    "csi.storage.k8s.io/pvc/name": target.claim,
    "csi.storage.k8s.io/pvc/namespace": target.namespace,
    "csi.storage.k8s.io/pv/name": target.volumeName
  },
  secrets: {},
  mutableParameters: {}
})

/** The csi-provisioner's default --timeout. */
export const CALL_DEADLINE_MS = 10_000
/** After ABORTED or UNAVAILABLE the provisioner's loop waits (DEADLINE_EXCEEDED: called again at once). */
export const RETRY_PAUSE_MS = 1_000
const RETRIED = new Set([grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED, grpc.status.UNAVAILABLE])

export interface Provisioned {
  readonly volumeId: string | undefined
  readonly firstCallAt: number
  readonly okAt: number | undefined
  readonly calls: Readonly<Record<string, number>>
  readonly error: string | undefined
}

/** CreateVolume until OK, retried as the csi-provisioner retries it; gives up at `giveUpAt` or at a code it does not retry. */
export const provisionUntilOk = async (client: ControllerClient, request: CreateVolumeRequest, giveUpAt: number): Promise<Provisioned> => {
  const firstCallAt = Date.now()
  const calls: Record<string, number> = {}
  while (Date.now() < giveUpAt) {
    try {
      const answer = await new Promise<CreateVolumeResponse>((resolve, reject) =>
        client.createVolume(request, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) =>
          error ? reject(error) : resolve(response))
      )
      calls["OK"] = (calls["OK"] ?? 0) + 1
      return { volumeId: answer.volume?.volumeId, firstCallAt, okAt: Date.now(), calls, error: undefined }
    } catch (error) {
      const code = (error as grpc.ServiceError).code
      const name = grpc.status[code] ?? String(code)
      calls[name] = (calls[name] ?? 0) + 1
      if (!RETRIED.has(code)) return { volumeId: undefined, firstCallAt, okAt: undefined, calls, error: (error as Error).message }
      if (code !== grpc.status.DEADLINE_EXCEEDED) await sleep(RETRY_PAUSE_MS)
    }
  }
  return { volumeId: undefined, firstCallAt, okAt: undefined, calls, error: "gave up" }
}
