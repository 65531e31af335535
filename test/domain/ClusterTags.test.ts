import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import {
  clusterTags,
  CREATED_BY_TAG,
  CREATED_BY_VALUE,
  isCreatedByDriver,
  isReservedTagKey,
  PV_NAME_TAG,
  PVC_NAME_TAG,
  PVC_NAMESPACE_TAG
} from "../../src/domain/ClusterTags.js"

const UserTags = Schema.Record(
  Schema.String.check(Schema.isPattern(/^[a-zA-Z][a-zA-Z0-9-]{0,20}$/)),
  Schema.String.check(Schema.isPattern(/^[a-z0-9 ]{0,10}$/))
)
const KubeName = Schema.String.check(Schema.isPattern(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/))

describe("ClusterTags", () => {
  it.prop("the user's tags, the created-by tag and the PV/PVC names from the provisioner's metadata", [UserTags, KubeName, KubeName, KubeName], ([user, pv, pvc, namespace]) => {
    const kube = {
      "csi.storage.k8s.io/pv/name": pv,
      "csi.storage.k8s.io/pvc/name": pvc,
      "csi.storage.k8s.io/pvc/namespace": namespace
    }
    const tags = clusterTags(user, kube)
    const userKept = Object.fromEntries(Object.entries(user).filter(([key]) => !isReservedTagKey(key)))
    expect(tags).toEqual({
      ...userKept,
      [CREATED_BY_TAG]: CREATED_BY_VALUE,
      [PV_NAME_TAG]: pv,
      [PVC_NAME_TAG]: pvc,
      [PVC_NAMESPACE_TAG]: namespace
    })
    expect(isCreatedByDriver(tags)).toBe(true)
  })

  it("spells the tags as the Go driver does", () => {
    expect(clusterTags({ env: "prod" }, {})).toEqual({ env: "prod", "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver" })
    expect(clusterTags({}, { "csi.storage.k8s.io/pvc/name": "data", "csi.storage.k8s.io/pvc/namespace": "ml" })).toEqual({
      "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver",
      "kubernetes.io-created-for-pvc-name": "data",
      "kubernetes.io-created-for-pvc-namespace": "ml"
    })
    expect(clusterTags({ "k8s-azure-created-by": "me", "kubernetes.io-created-for-pv-name": "x" }, {}))
      .toEqual({ "k8s-azure-created-by": "kubernetes-azurelustre-csi-driver" })
  })

  it("recognizes the created-by tag as ARM compares tag names (case-insensitively); the value must match", () => {
    expect(isCreatedByDriver({ "K8S-Azure-Created-By": CREATED_BY_VALUE })).toBe(true)
    expect(isCreatedByDriver({ [CREATED_BY_TAG]: "someone-else" })).toBe(false)
    expect(isCreatedByDriver({})).toBe(false)
    expect(isReservedTagKey("Kubernetes.io-Created-For-Anything")).toBe(true)
    expect(isReservedTagKey("kubernetes.io-other")).toBe(false)
  })
})
