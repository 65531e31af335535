/** The default ports of /healthz, /livez and /metrics; two, so a controller and a node plugin can share a host. */
export const CONTROLLER_HEALTH_PORT = 29762
export const NODE_HEALTH_PORT = 29763
