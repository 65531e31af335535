import * as Path from "node:path"

/** The longest unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
const MAX_SOCKET_PATH_BYTES = 107

export type SocketPathResult =
  | { readonly _tag: "SocketPath"; readonly path: string }
  | { readonly _tag: "BadEndpoint"; readonly reason: string }

/**
 * The socket path behind a CSI endpoint: `unix:///abs/path`, `unix:/abs/path` or a plain path
 * (made absolute against the working directory). Only unix sockets are served: CSI plugins talk
 * to kubelet and the sidecars through the filesystem.
 */
export const socketPathOf = (endpoint: string): SocketPathResult => {
  const raw = endpoint.startsWith("unix://")
    ? endpoint.slice("unix://".length)
    : endpoint.startsWith("unix:")
    ? endpoint.slice("unix:".length)
    : endpoint
  if (raw.length === 0) return { _tag: "BadEndpoint", reason: "it names no socket path; use unix:///csi/csi.sock" }
  if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) {
    return { _tag: "BadEndpoint", reason: "only unix sockets are served; use unix:///path/to/csi.sock" }
  }
  if (raw.includes("\0")) return { _tag: "BadEndpoint", reason: "the path contains a NUL byte" }
  const path = Path.resolve(raw)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    return {
      _tag: "BadEndpoint",
      reason: `the socket path ${path} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes Linux allows; use a shorter one`
    }
  }
  return { _tag: "SocketPath", path }
}
