import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { InvalidArgument, OutOfRange } from "../../csi/errors.js"
import { invalidArgumentUnless } from "../../csi/requireValid.js"
import { clusterNameFor } from "../../domain/ClusterName.js"
import { ARCHIVE_ON_DELETE_TAG, clusterTags } from "../../domain/ClusterTags.js"
import { parseDynamicVolumeParameters } from "../../domain/DynamicVolumeParameters.js"
import { mountFlagsOfCapabilities } from "../../domain/MountOptions.js"
import { capacityForSku } from "../../domain/SkuCapacity.js"
import { encodeVolumeId } from "../../domain/VolumeId.js"
import type { CreateVolumeRequest, CreateVolumeResponse } from "../../gen/csi.js"
import { ClusterProvisioner } from "./ClusterProvisioner.js"
import { ControllerConfig, subnetIdOf } from "./ControllerConfig.js"
import { SkuCatalog } from "./SkuCatalog.js"

const TIB = 1n << 40n
const PVC_NAME = "csi.storage.k8s.io/pvc/name"
const PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace"

/**
 * Dynamic provisioning: an AMLFS cluster per volume, created through ARM. The call returns when
 * the cluster is ready, or fails when its deadline passes while ARM is still creating it: the
 * creation goes on, and the provisioner's retry joins it.
 */
export const createDynamicVolume = Effect.fn("CreateVolume.dynamic")(function*(name: string, request: CreateVolumeRequest) {
  const parameters = yield* invalidArgumentUnless(
    parseDynamicVolumeParameters(request.parameters, mountFlagsOfCapabilities(request.volumeCapabilities))
  )
  const config = yield* ControllerConfig
  const location = parameters.location ?? config.location
  const resourceGroup = parameters.resourceGroup ?? config.resourceGroup

  const skus = yield* (yield* SkuCatalog).skusIn(location)
  const sku = skus.find((candidate) => candidate.name.toLowerCase() === parameters.skuName.toLowerCase())
  if (sku === undefined) {
    return yield* new InvalidArgument({
      message: `sku-name ${parameters.skuName} is not offered in ${location}; the SKUs there are ` +
        `${skus.map((s) => s.name).join(", ") || "none"}`
    })
  }
  if (sku.zones.length > 0 && parameters.zone === undefined) {
    return yield* new InvalidArgument({
      message: `zone is required for ${sku.name} in ${location}: one of ${sku.zones.join(", ")}`
    })
  }
  if (parameters.zone !== undefined && !sku.zones.includes(parameters.zone)) {
    return yield* new InvalidArgument({
      message: `zone ${parameters.zone} is not offered for ${sku.name} in ${location}: ` +
        (sku.zones.length > 0 ? `use one of ${sku.zones.join(", ")}` : "remove the zone parameter")
    })
  }
  const capacity = capacityForSku(
    { requiredBytes: request.capacityRange?.requiredBytes ?? 0n, limitBytes: request.capacityRange?.limitBytes ?? 0n },
    sku
  )
  if (Result.isFailure(capacity)) {
    return yield* (capacity.failure.code === "OutOfRange"
      ? new OutOfRange({ message: capacity.failure.message })
      : new InvalidArgument({ message: capacity.failure.message }))
  }

  const clusterName = clusterNameFor(name)
  const blob = parameters.blobIntegration
  const pvcName = parameters.kubernetesKeys[PVC_NAME]
  const pvcNamespace = parameters.kubernetesKeys[PVC_NAMESPACE]
  const cluster = yield* (yield* ClusterProvisioner).ensureCreated({
    resourceGroup,
    name: clusterName,
    pvc: pvcName !== undefined && pvcNamespace !== undefined ? { name: pvcName, namespace: pvcNamespace } : undefined,
    blob,
    spec: {
      location,
      skuName: sku.name,
      storageCapacityTiB: capacity.success.tib,
      filesystemSubnet: subnetIdOf({
        subscriptionId: config.networkSubscriptionId,
        vnetResourceGroup: parameters.vnetResourceGroup ?? config.vnetResourceGroup,
        vnetName: parameters.vnetName ?? config.vnetName,
        subnetName: parameters.subnetName ?? config.subnetName
      }),
      zones: parameters.zone === undefined ? [] : [parameters.zone],
      maintenanceWindow: { dayOfWeek: parameters.maintenanceDayOfWeek, timeOfDayUTC: parameters.maintenanceTimeOfDayUtc },
      tags: {
        ...clusterTags(parameters.tags, parameters.kubernetesKeys),
        ...(blob !== undefined && { [ARCHIVE_ON_DELETE_TAG]: String(blob.archiveOnDelete) })
      },
      identities: parameters.identities,
      ...(blob !== undefined && {
        hsm: {
          container: blob.container.id,
          loggingContainer: blob.loggingContainer.id,
          importPrefixesInitial: blob.importPrefixes
        }
      })
    }
  })

  const mgsAddress = cluster.mgsAddress ?? ""
  const response: CreateVolumeResponse = {
    volume: {
      volumeId: encodeVolumeId({
        name: clusterName,
        fsName: "lustrefs",
        mgsAddress,
        subDir: parameters.subDir,
        createdByDriver: true,
        resourceGroup
      }),
      capacityBytes: BigInt(Math.ceil(cluster.storageCapacityTiB)) * TIB,
      volumeContext: {
        "mgs-ip-address": mgsAddress,
        "fs-name": "lustrefs",
        ...(parameters.subDir !== "" && { "sub-dir": parameters.subDir }),
        ...parameters.hsmHydration,
        ...parameters.kubernetesKeys
      },
      contentSource: undefined,
      accessibleTopology: []
    }
  }
  return response
})
