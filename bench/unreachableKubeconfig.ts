/**
 * A kubeconfig naming no reachable cluster: the controller's Kubernetes client needs one to start,
 * and a controller that is sent no PVC names (no provisioner extra metadata) records no Events, so
 * it never calls the API server. Used by the benchmarks that run `serve --mode controller` and by
 * test/e2e/controllerReadiness.test.ts; it imports nothing, so a test can import it from source.
 */
export const UNREACHABLE_KUBECONFIG = [
  "apiVersion: v1",
  "kind: Config",
  "clusters: [{name: none, cluster: {server: \"https://127.0.0.1:1\"}}]",
  "users: [{name: none, user: {token: none}}]",
  "contexts: [{name: none, context: {cluster: none, user: none}}]",
  "current-context: none",
  ""
].join("\n")
