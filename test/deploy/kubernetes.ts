/**
 * Validates Kubernetes objects against the API's OpenAPI schemas (the `kubernetes-models`
 * package's compiled validators), strictly: besides types, enums and required fields, a field
 * the schema does not know is an error, as `kubectl apply --validate=strict` would say.
 *
 * The package's validators do not reject unknown fields, but they read every field they know,
 * and only those (maps such as labels are read key by key). So each object is validated through
 * a Proxy that records the paths the validator reads; any path present in the object and never
 * read is a field the schema does not have.
 */
import { validate as validateDaemonSet } from "kubernetes-models/_schemas/IoK8sApiAppsV1DaemonSet"
import { validate as validateConfigMap } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap"
import { validate as validateDeployment } from "kubernetes-models/_schemas/IoK8sApiAppsV1Deployment"
import { validate as validatePersistentVolume } from "kubernetes-models/_schemas/IoK8sApiCoreV1PersistentVolume"
import { validate as validatePersistentVolumeClaim } from "kubernetes-models/_schemas/IoK8sApiCoreV1PersistentVolumeClaim"
import { validate as validatePod } from "kubernetes-models/_schemas/IoK8sApiCoreV1Pod"
import { validate as validateServiceAccount } from "kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount"
import { validate as validateClusterRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole"
import { validate as validateClusterRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRoleBinding"
import { validate as validateRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1Role"
import { validate as validateRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding"
import { validate as validateCSIDriver } from "kubernetes-models/_schemas/IoK8sApiStorageV1CSIDriver"
import { validate as validateStorageClass } from "kubernetes-models/_schemas/IoK8sApiStorageV1StorageClass"

type Validator = (data: unknown) => boolean

/** The kinds the manifests may hold, by `apiVersion/kind`. */
export const validators: Readonly<Record<string, Validator>> = {
  "storage.k8s.io/v1/CSIDriver": validateCSIDriver,
  "storage.k8s.io/v1/StorageClass": validateStorageClass,
  "v1/ServiceAccount": validateServiceAccount,
  "v1/ConfigMap": validateConfigMap,
  "v1/PersistentVolume": validatePersistentVolume,
  "v1/PersistentVolumeClaim": validatePersistentVolumeClaim,
  "v1/Pod": validatePod,
  "rbac.authorization.k8s.io/v1/ClusterRole": validateClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": validateClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": validateRole,
  "rbac.authorization.k8s.io/v1/RoleBinding": validateRoleBinding,
  "apps/v1/Deployment": validateDeployment,
  "apps/v1/DaemonSet": validateDaemonSet
}

interface SchemaError {
  readonly instancePath: string
  readonly keyword: string
  readonly params: unknown
}

const isSchemaError = (value: unknown): value is SchemaError =>
  typeof value === "object" && value !== null && "instancePath" in value && "keyword" in value

/** The errors the last call of an ajv-compiled validator left on it. */
const errorsOf = (validator: Validator): ReadonlyArray<string> => {
  const errors: unknown = Reflect.get(validator, "errors")
  if (!Array.isArray(errors)) return []
  return errors.filter(isSchemaError).map((error) => `${error.instancePath || "/"}: ${error.keyword} ${JSON.stringify(error.params)}`)
}

/** A view of `value` that adds to `read` the path of every own property read through it. */
const tracked = (value: unknown, path: string, read: Set<string>): unknown => {
  if (typeof value !== "object" || value === null) return value
  return new Proxy(value, {
    get(target, property, receiver) {
      const result: unknown = Reflect.get(target, property, receiver)
      if (typeof property === "string" && Object.hasOwn(target, property)) {
        const child = `${path}/${property}`
        read.add(child)
        return tracked(result, child, read)
      }
      return result
    }
  })
}

/** Paths of `value`'s fields (not array elements themselves) that `read` lacks. */
const unread = (value: unknown, path: string, read: ReadonlySet<string>, out: Array<string>): void => {
  if (typeof value !== "object" || value === null) return
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}/${key}`
    if (!read.has(childPath)) out.push(childPath)
    else unread(child, childPath, read, out)
  }
}

/** What is wrong with one object: schema errors, then fields the schema does not have. */
export const problemsOf = (object: unknown): ReadonlyArray<string> => {
  if (typeof object !== "object" || object === null) return ["not an object"]
  const apiVersion: unknown = Reflect.get(object, "apiVersion")
  const kind: unknown = Reflect.get(object, "kind")
  const validator = validators[`${String(apiVersion)}/${String(kind)}`]
  if (validator === undefined) return [`no schema for ${String(apiVersion)} ${String(kind)}`]
  const read = new Set<string>()
  const valid = validator(tracked(object, "", read))
  const errors = errorsOf(validator)
  const problems = valid ? [] : errors.length > 0 ? errors : ["invalid (no details)"]
  const unknown: Array<string> = []
  unread(object, "", read, unknown)
  return [...problems, ...unknown.map((path) => `${path}: unknown field`)]
}
