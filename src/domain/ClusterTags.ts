/**
 * The Azure tags the driver writes on an Azure Managed Lustre filesystem it creates, spelled as
 * the Go driver spells them (pkg/azurelustre/controllerserver.go), so clusters created by either
 * driver are recognized by both. `k8s-azure-created-by` is what DeleteVolume checks before it
 * deletes anything; the other three say which Kubernetes objects the cluster was made for.
 */

export const CREATED_BY_TAG = "k8s-azure-created-by"
export const CREATED_BY_VALUE = "kubernetes-azurelustre-csi-driver"

/** Whether DeleteVolume archives the files of a cluster with blob integration to its container first ("false": not). */
export const ARCHIVE_ON_DELETE_TAG = "k8s-azure-archive-on-delete"

export const PV_NAME_TAG = "kubernetes.io-created-for-pv-name"
export const PVC_NAME_TAG = "kubernetes.io-created-for-pvc-name"
export const PVC_NAMESPACE_TAG = "kubernetes.io-created-for-pvc-namespace"

/** The csi-provisioner's --extra-create-metadata keys, and the tag each one becomes. */
export const metadataTags: ReadonlyArray<readonly [key: string, tag: string]> = [
  ["csi.storage.k8s.io/pv/name", PV_NAME_TAG],
  ["csi.storage.k8s.io/pvc/name", PVC_NAME_TAG],
  ["csi.storage.k8s.io/pvc/namespace", PVC_NAMESPACE_TAG]
]

/**
 * The prefix of the tags Kubernetes integrations write about the objects a resource was created
 * for (the Go driver and cloud-provider-azure use `kubernetes.io-created-for-pv-name` and its
 * siblings); users may not set any tag under it.
 */
export const RESERVED_TAG_PREFIX = "kubernetes.io-created-for-"

/** How many tags ARM allows on one resource. */
export const MAX_TAGS_PER_RESOURCE = 50

/** How many tags the driver may add itself: created-by, archive-on-delete, PV name, PVC name, PVC namespace. */
export const DRIVER_TAG_COUNT = 2 + metadataTags.length

/**
 * Whether a tag key is the driver's to write. Azure tag names are case-insensitive, so
 * `K8S-Azure-Created-By` is the same tag as `k8s-azure-created-by`.
 */
export const isReservedTagKey = (key: string): boolean => {
  const lower = key.toLowerCase()
  return lower === CREATED_BY_TAG || lower === ARCHIVE_ON_DELETE_TAG || lower.startsWith(RESERVED_TAG_PREFIX)
}

/**
 * The tags of a new cluster: the user's `tags` parameter (reserved keys dropped; the parameter
 * parser has refused them already), then the driver's created-by tag and, when the provisioner
 * passed them, the PV name, PVC name and PVC namespace.
 */
export const clusterTags = (
  userTags: Readonly<Record<string, string>>,
  kubernetesKeys: Readonly<Record<string, string>>
): Record<string, string> => {
  const tags: Record<string, string> = {}
  for (const [key, value] of Object.entries(userTags)) {
    if (!isReservedTagKey(key)) tags[key] = value
  }
  tags[CREATED_BY_TAG] = CREATED_BY_VALUE
  for (const [key, tag] of metadataTags) {
    const value = kubernetesKeys[key]
    if (value !== undefined && value !== "") tags[tag] = value
  }
  return tags
}

/** Reads a tag the way ARM compares tag names: case-insensitively. */
export const tagValue = (tags: Readonly<Record<string, string>>, name: string): string | undefined => {
  const lower = name.toLowerCase()
  const key = Object.keys(tags).find((k) => k.toLowerCase() === lower)
  return key === undefined ? undefined : tags[key]
}

/**
 * Whether a cluster carries the driver's created-by tag (name compared case-insensitively, as
 * ARM does; value exactly). Only such a cluster may be deleted by DeleteVolume.
 */
export const isCreatedByDriver = (tags: Readonly<Record<string, string>>): boolean =>
  tagValue(tags, CREATED_BY_TAG) === CREATED_BY_VALUE
