/** Parameters and volume attributes Kubernetes adds itself (PVC/PV names, the pod's details). */
export const KUBERNETES_KEY_PREFIX = "csi.storage.k8s.io/"
