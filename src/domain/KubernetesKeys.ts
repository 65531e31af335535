/** Parameters and volume attributes Kubernetes adds itself (PVC/PV names, the pod's details). */
export const KUBERNETES_KEY_PREFIX = "csi.storage.k8s.io/"

/**
 * The taint operators put on Lustre node pools so that no pod lands on a node before its Lustre
 * client works; the node plugin removes it (any effect) once the node is ready.
 */
export const STARTUP_TAINT_KEY = "azurelustre.csi.azure.com/agent-not-ready"
