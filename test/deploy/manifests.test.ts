/**
 * Every YAML document under deploy/ (plain manifests, examples, the cloud-config-secret variant)
 * is a valid Kubernetes object, and the manifests keep the properties the driver depends on.
 */
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Yaml from "yaml"
import { describe, expect, it } from "vitest"
import { parseDynamicVolumeParameters } from "../../src/domain/DynamicVolumeParameters.js"
import { validateMountOptions } from "../../src/domain/MountOptions.js"
import { parseStaticVolumeParameters } from "../../src/domain/StaticVolumeParameters.js"
import { decodeVolumeId } from "../../src/domain/VolumeId.js"
import { CONTROLLER_HEALTH_PORT, NODE_HEALTH_PORT } from "../../src/health/healthPorts.js"
import { STARTUP_TAINT_KEY } from "../../src/domain/KubernetesKeys.js"
import { parseCommandLine } from "../../src/cli/options.js"
import { DEFAULT_CLIENT_VERSIONS } from "../../src/node/setup/clientVersions.js"
import { deployDir, type KubeObject, plainManifestFiles, readDocuments, yamlFiles } from "./deployFiles.js"
import { problemsOf } from "./kubernetes.js"
import {
  at,
  container,
  containersOf,
  envOf,
  flag,
  keyOf,
  kindOf,
  map,
  maps,
  nameOf,
  namespaceOf,
  ofKind,
  only,
  podSpecOf,
  probePort,
  quantityBytes,
  text,
  texts,
  volume,
  volumeMount
} from "./objects.js"

const kubernetesFiles = yamlFiles().filter((file) => !file.startsWith("chart/"))
const plain: ReadonlyArray<KubeObject> = plainManifestFiles().flatMap(readDocuments)
const examples = (dir: string): ReadonlyArray<KubeObject> =>
  kubernetesFiles.filter((file) => file.startsWith(`example/${dir}/`)).flatMap(readDocuments)
const everything: ReadonlyArray<KubeObject> = kubernetesFiles.flatMap(readDocuments)

const readRaw = (fileInDeploy: string): string => Fs.readFileSync(Path.join(deployDir, fileInDeploy), "utf8")

const driverName = nameOf(only(plain, "CSIDriver"))
const controller = only(plain, "Deployment", "csi-azurelustre-controller")
const node = only(plain, "DaemonSet", "csi-azurelustre-node")

/** Seconds of a Go duration such as 120s or 2m. */
const seconds = (duration: string | true | undefined): number => {
  const match = typeof duration === "string" ? /^(\d+)(s|m)$/.exec(duration) : null
  if (match === null) throw new Error(`not a duration: ${String(duration)}`)
  return Number(match[1]) * (match[2] === "m" ? 60 : 1)
}

describe("deploy/: Kubernetes schemas", () => {
  it("finds the manifests, the examples and every kind they need", () => {
    expect(plainManifestFiles()).toEqual(["controller.yaml", "csidriver.yaml", "node.yaml", "rbac-controller.yaml", "rbac-node.yaml"])
    const kinds = new Set(everything.map(kindOf))
    for (
      const kind of [
        "CSIDriver", "Deployment", "DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
        "RoleBinding", "StorageClass", "PersistentVolumeClaim", "PersistentVolume", "Pod"
      ]
    ) expect(kinds, kind).toContain(kind)
  })

  it.each(kubernetesFiles)("%s: every document is valid, with no unknown field", (file) => {
    const documents = readDocuments(file)
    expect(documents.length).toBeGreaterThan(0)
    for (const document of documents) expect(problemsOf(document), `${file}: ${kindOf(document)} ${nameOf(document)}`).toEqual([])
  })

  it("the validator catches typos, wrong enums, wrong types and missing fields", () => {
    const typo = structuredClone(node) as Record<string, unknown>
    const spec = (typo["spec"] as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec
    spec.containers[0]!["imagePullPolicyy"] = "Always"
    expect(problemsOf(typo)).toContain("/spec/template/spec/containers/0/imagePullPolicyy: unknown field")

    const wrongEnum = { ...node, spec: { ...map(node["spec"], "spec"), updateStrategy: { type: "Sometimes" } } }
    expect(problemsOf(wrongEnum).join("\n")).toMatch(/updateStrategy\/type: enum/)

    expect(problemsOf({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: {} }).join("\n")).toMatch(/required.*containers/)
    expect(problemsOf({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: 7 } }).join("\n")).toMatch(/metadata\/name: type/)
    expect(problemsOf({ apiVersion: "v9", kind: "Widget" })).toEqual(["no schema for v9 Widget"])
  })
})

describe("deploy/: CSIDriver", () => {
  it("needs no attach, passes pod info, lets kubelet apply fsGroup, serves persistent volumes", () => {
    const spec = map(only(plain, "CSIDriver")["spec"], "spec")
    expect(driverName).toBe("azurelustre.csi.azure.com")
    expect(spec).toEqual({ attachRequired: false, podInfoOnMount: true, fsGroupPolicy: "File", volumeLifecycleModes: ["Persistent"] })
  })
})

describe("deploy/: node DaemonSet", () => {
  const driver = container(node, "azurelustre")
  const pod = podSpecOf(node)

  it("runs on the host network (LNet), with a privileged driver and unprivileged sidecars", () => {
    expect(pod["hostNetwork"]).toBe(true)
    expect(at(driver, "securityContext.privileged")).toBe(true)
    for (const c of containersOf(node).filter((c) => c !== driver)) {
      expect(at(c, "securityContext.privileged"), String(c["name"])).not.toBe(true)
      expect(at(c, "securityContext.allowPrivilegeEscalation"), String(c["name"])).toBe(false)
    }
  })

  it("mounts the kubelet directory with Bidirectional propagation, where its Lustre mounts live", () => {
    const mount = volumeMount(driver, "kubelet-dir")
    expect(mount).toMatchObject({ mountPath: "/var/lib/kubelet", mountPropagation: "Bidirectional" })
    expect(at(volume(node, "kubelet-dir"), "hostPath.path")).toBe("/var/lib/kubelet")
    expect(flag(driver, "mount-root")).toBe(`/var/lib/kubelet/plugins/${driverName}/mounts`)
    expect(flag(driver, "kubelet-dir")).toBe("/var/lib/kubelet")
    // Only the driver propagates mounts back to the host.
    for (const c of containersOf(node).filter((c) => c !== driver)) {
      for (const m of maps(c["volumeMounts"] ?? [], "volumeMounts")) expect(m["mountPropagation"]).toBeUndefined()
    }
  })

  it("serves its socket where node-driver-registrar tells kubelet it is", () => {
    const registrar = container(node, "node-driver-registrar")
    const hostSocket = `/var/lib/kubelet/plugins/${driverName}/csi.sock`
    expect(at(volume(node, "socket-dir"), "hostPath.path")).toBe(`/var/lib/kubelet/plugins/${driverName}`)
    expect(flag(driver, "endpoint")).toBe("unix:///csi/csi.sock")
    expect(volumeMount(driver, "socket-dir")["mountPath"]).toBe("/csi")
    expect(volumeMount(registrar, "socket-dir")["mountPath"]).toBe("/csi")
    expect(flag(registrar, "csi-address")).toBe("/csi/csi.sock")
    expect(flag(registrar, "kubelet-registration-path")).toBe("$(DRIVER_REG_SOCK_PATH)")
    expect(envOf(registrar, "DRIVER_REG_SOCK_PATH")?.["value"]).toBe(hostSocket)
    expect(at(volume(node, "registration-dir"), "hostPath.path")).toBe("/var/lib/kubelet/plugins_registry")
    expect(texts(at(registrar, "livenessProbe.exec.command"), "command")).toContain("--mode=kubelet-registration-probe")
  })

  it("is the node plugin of this node, named by the downward API", () => {
    expect(flag(driver, "mode")).toBe("node")
    expect(flag(driver, "node-id")).toBe("$(NODE_ID)")
    expect(at(envOf(driver, "NODE_ID"), "valueFrom.fieldRef.fieldPath")).toBe("spec.nodeName")
    expect(flag(driver, "driver-name")).toBe(driverName)
    expect(flag(driver, "remove-node-taint")).toBe("true")
  })

  it("probes the driver's own health port: started and alive on /livez, ready on /healthz", () => {
    expect(flag(driver, "health-port")).toBe(String(NODE_HEALTH_PORT))
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(probePort(driver, probe), probe).toBe(NODE_HEALTH_PORT)
    expect(at(driver, "startupProbe.httpGet.path")).toBe("/livez")
    expect(at(driver, "readinessProbe.httpGet.path")).toBe("/healthz")
    expect(at(driver, "livenessProbe.httpGet.path")).toBe("/livez")
    // On the host network every port is the node's: none may be taken twice.
    const ports = containersOf(node).flatMap((c) => maps(c["ports"] ?? [], "ports").map((p) => p["containerPort"]))
    expect(new Set(ports).size).toBe(ports.length)
    expect(ports).not.toContain(CONTROLLER_HEALTH_PORT)
  })

  it("tolerates every taint, the start-up taint included, and documents that taint", () => {
    const tolerations = maps(pod["tolerations"], "tolerations")
    expect(tolerations).toContainEqual({ operator: "Exists" })
    const source = readRaw("node.yaml")
    expect(source).toContain(`${STARTUP_TAINT_KEY}=true:NoExecute`)
    expect(source).toContain("--remove-node-taint=false")
  })

  it("gets the node's Lustre tools read-only, and the devices the Lustre modules create", () => {
    for (const name of ["host-usr", "host-lib", "host-lib64", "host-sbin", "host-modprobe-d"]) {
      expect(volumeMount(driver, name)["readOnly"], name).toBe(true)
    }
    expect(volumeMount(driver, "host-dev")["mountPath"]).toBe("/dev")
    expect(text(envOf(driver, "PATH")?.["value"], "PATH").split(":")[0]).toBe("/bin")
  })

  it("installs the Lustre client through the node's root: mounted writable at --host-root, unmounts seen (HostToContainer)", () => {
    expect(flag(driver, "host-root")).toBe("/host")
    expect(volumeMount(driver, "host-root")).toEqual({ name: "host-root", mountPath: "/host", mountPropagation: "HostToContainer" })
    expect(at(volume(node, "host-root"), "hostPath")).toEqual({ path: "/", type: "Directory" })
    expect(envOf(driver, "AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT")?.["value"]).toBe("yes")
    // Only the driver is privileged, and only it sees the node's root.
    for (const c of containersOf(node).filter((c) => c !== driver)) {
      expect(maps(c["volumeMounts"] ?? [], "volumeMounts").map((m) => m["name"])).not.toContain("host-root")
    }
  })

  it("pins the Go driver's client versions per Ubuntu release, in the variables the driver reads", () => {
    const env = {
      LUSTRE_VERSION: text(envOf(driver, "LUSTRE_VERSION")?.["value"], "LUSTRE_VERSION"),
      CLIENT_SHA_SUFFIX: text(envOf(driver, "CLIENT_SHA_SUFFIX")?.["value"], "CLIENT_SHA_SUFFIX")
    }
    expect(env).toEqual({ LUSTRE_VERSION: "jammy=2.15.7 noble=2.16.1", CLIENT_SHA_SUFFIX: "jammy=33-g79ddf99 noble=14-gbc76088" })
    const parsed = Result.getOrThrow(parseCommandLine(["serve", "--node-id", "n"], env))
    expect(parsed._tag === "Serve" && parsed.options.nodeSetup.versions).toEqual(DEFAULT_CLIENT_VERSIONS)
  })
})

describe("deploy/: controller Deployment", () => {
  const driver = container(controller, "azurelustre")

  it("installs no Lustre client (the Go driver's switch) and does not see the node's root", () => {
    expect(envOf(driver, "AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT")?.["value"]).toBe("no")
    expect(maps(podSpecOf(controller)["volumes"], "volumes").map((v) => v["name"])).not.toContain("host-root")
  })
  const provisioner = container(controller, "csi-provisioner")
  const resizer = container(controller, "csi-resizer")

  it("runs two replicas whose sidecars elect a leader in the driver's namespace", () => {
    expect(at(controller, "spec.replicas")).toBe(2)
    for (const sidecar of [provisioner, resizer]) {
      expect(flag(sidecar, "leader-election"), String(sidecar["name"])).toBe(true)
      expect(flag(sidecar, "leader-election-namespace")).toBe(namespaceOf(controller))
      expect(flag(sidecar, "csi-address")).toBe("/csi/csi.sock")
      expect(volumeMount(sidecar, "socket-dir")["mountPath"]).toBe("/csi")
    }
    expect(flag(driver, "endpoint")).toBe("unix:///csi/csi.sock")
    expect(flag(driver, "mode")).toBe("controller")
  })

  it("has the provisioner pass PVC metadata and wait long enough per call", () => {
    expect(flag(provisioner, "extra-create-metadata")).toBe(true)
    expect(seconds(flag(provisioner, "timeout"))).toBeGreaterThanOrEqual(60)
    expect(seconds(flag(provisioner, "retry-interval-max"))).toBeLessThanOrEqual(300)
  })

  it("has a resizer that waits on expansion jobs and does not watch pods", () => {
    expect(seconds(flag(resizer, "timeout"))).toBeGreaterThanOrEqual(60)
    expect(flag(resizer, "handle-volume-inuse-error")).toBe("false")
  })

  it("probes the driver's own health port: ready on /healthz, alive on /livez", () => {
    expect(flag(driver, "health-port")).toBe(String(CONTROLLER_HEALTH_PORT))
    expect(probePort(driver, "readinessProbe")).toBe(CONTROLLER_HEALTH_PORT)
    expect(probePort(driver, "livenessProbe")).toBe(CONTROLLER_HEALTH_PORT)
    expect(at(driver, "readinessProbe.httpGet.path")).toBe("/healthz")
    expect(at(driver, "livenessProbe.httpGet.path")).toBe("/livez")
  })

  it("runs nothing privileged, with read-only root filesystems, and reads the cloud config file read-only", () => {
    expect(podSpecOf(controller)["hostNetwork"]).toBe(false)
    for (const c of containersOf(controller)) {
      expect(at(c, "securityContext.privileged"), String(c["name"])).not.toBe(true)
      expect(at(c, "securityContext.readOnlyRootFilesystem"), String(c["name"])).toBe(true)
      expect(at(c, "securityContext.capabilities.drop"), String(c["name"])).toEqual(["ALL"])
    }
    expect(volumeMount(driver, "azure-config")).toMatchObject({ mountPath: "/etc/kubernetes/azure.json", readOnly: true })
    expect(at(volume(controller, "azure-config"), "hostPath")).toEqual({ path: "/etc/kubernetes/azure.json", type: "File" })
    expect(envOf(driver, "AZURE_CONFIG_FILE")?.["value"]).toBe("/etc/kubernetes/azure.json")
    expect(at(envOf(driver, "POD_NAME"), "valueFrom.fieldRef.fieldPath")).toBe("metadata.name")
  })

  it("gives every container memory requests and limits", () => {
    for (const workload of [controller, node]) {
      for (const c of containersOf(workload)) {
        expect(at(c, "resources.requests.memory"), String(c["name"])).toBeTypeOf("string")
        expect(at(c, "resources.limits.memory"), String(c["name"])).toBeTypeOf("string")
      }
    }
  })
})

describe("deploy/: images", () => {
  it("pins every container's image to a version", () => {
    const workloads = everything.filter((o) => ["Deployment", "DaemonSet", "Pod"].includes(kindOf(o)))
    expect(workloads.length).toBeGreaterThanOrEqual(4)
    for (const workload of workloads) {
      for (const c of containersOf(workload)) {
        const image = text(c["image"], "image")
        const tag = /:([^/:@]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1]
        expect(tag, image).toBeDefined()
        expect(tag, image).not.toBe("latest")
      }
    }
  })

  it("takes the sidecars from registry.k8s.io/sig-storage", () => {
    const sidecars = [...containersOf(controller), ...containersOf(node)].filter((c) => c["name"] !== "azurelustre")
    expect(sidecars.map((c) => c["name"]).sort()).toEqual(["csi-provisioner", "csi-resizer", "node-driver-registrar"])
    for (const c of sidecars) expect(text(c["image"], "image")).toMatch(/^registry\.k8s\.io\/sig-storage\/[a-z-]+:v\d+\.\d+\.\d+$/)
  })
})

describe("deploy/: RBAC, least privilege", () => {
  const roles = [...ofKind(everything, "ClusterRole"), ...ofKind(everything, "Role")]
  const rulesOf = (role: KubeObject) => maps(role["rules"], `${nameOf(role)}.rules`)

  it("has no wildcard group, resource or verb anywhere", () => {
    expect(roles.length).toBeGreaterThanOrEqual(5)
    for (const role of roles) {
      for (const rule of rulesOf(role)) {
        for (const field of ["apiGroups", "resources", "verbs", "resourceNames"]) {
          for (const value of texts(rule[field] ?? [], field)) expect(value, `${nameOf(role)} ${field}`).not.toContain("*")
        }
      }
    }
  })

  it("lets the node plugin get and patch nodes, get csinodes, create Events and get PVCs and Pods, nothing else", () => {
    const role = only(plain, "ClusterRole", "azurelustre-csi-node")
    expect(rulesOf(role)).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] },
      { apiGroups: ["storage.k8s.io"], resources: ["csinodes"], verbs: ["get"] },
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] },
      { apiGroups: [""], resources: ["persistentvolumeclaims", "pods"], verbs: ["get"] }
    ])
  })

  it("grants the node plugin's Events as the controller's: the same group and verbs", () => {
    const eventRules = (name: string) =>
      rulesOf(only(plain, "ClusterRole", name)).filter((rule) => texts(rule["resources"], "resources").includes("events"))
    expect(eventRules("azurelustre-csi-node")).toEqual(eventRules("azurelustre-csi-controller"))
  })

  it("lets the controller driver create Events, read, list and annotate PVCs and list PVs, nothing else", () => {
    expect(rulesOf(only(plain, "ClusterRole", "azurelustre-csi-controller"))).toEqual([
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] },
      { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "list", "watch", "patch"] },
      { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["list"] }
    ])
  })

  it("keeps leases namespaced, secrets out of every ClusterRole, and pods to the node plugin's get", () => {
    for (const role of ofKind(everything, "ClusterRole")) {
      const resources = rulesOf(role).flatMap((rule) => texts(rule["resources"], "resources"))
      expect(resources, nameOf(role)).not.toContain("leases")
      expect(resources, nameOf(role)).not.toContain("secrets")
    }
    // The node plugin reads a Pod for its Events' uid; nothing lists or watches Pods (the resizer would, with
    // --handle-volume-inuse-error=true).
    const podRules = roles.flatMap((role) =>
      rulesOf(role).filter((rule) => texts(rule["resources"], "resources").includes("pods")).map((rule) => ({
        role: nameOf(role),
        verbs: rule["verbs"]
      }))
    )
    expect(podRules).toEqual([{ role: "azurelustre-csi-node", verbs: ["get"] }])
    const election = only(plain, "Role", "azurelustre-csi-leader-election")
    expect(namespaceOf(election)).toBe(namespaceOf(controller))
    expect(rulesOf(election).map((rule) => rule["resources"])).toEqual([["leases"]])
  })

  it("grants the cloud-config Secret only by name, in kube-system, and not by default", () => {
    const secretRules = roles.flatMap((role) =>
      rulesOf(role).filter((rule) => texts(rule["resources"], "resources").includes("secrets")).map((rule) => ({ role, rule }))
    )
    expect(secretRules).toHaveLength(1)
    const { role, rule } = secretRules[0]!
    expect(kindOf(role)).toBe("Role")
    expect(namespaceOf(role)).toBe("kube-system")
    expect(rule).toEqual({ apiGroups: [""], resources: ["secrets"], resourceNames: ["azure-cloud-provider"], verbs: ["get"] })
    expect(plain.map(keyOf)).not.toContain(keyOf(role))
  })

  it("binds every role to the service account its workload runs as", () => {
    const accounts = new Set(ofKind(plain, "ServiceAccount").map((sa) => `${namespaceOf(sa)}/${nameOf(sa)}`))
    for (const workload of [controller, node]) {
      expect(accounts).toContain(`${namespaceOf(workload)}/${text(podSpecOf(workload)["serviceAccountName"], "serviceAccountName")}`)
    }
    const roleNames = new Set(roles.map((role) => `${kindOf(role)}/${namespaceOf(role) ?? ""}/${nameOf(role)}`))
    for (const binding of [...ofKind(everything, "ClusterRoleBinding"), ...ofKind(everything, "RoleBinding")]) {
      const ref = map(binding["roleRef"], "roleRef")
      const scope = text(ref["kind"], "kind") === "Role" ? namespaceOf(binding) ?? "" : ""
      expect(roleNames, nameOf(binding)).toContain(`${text(ref["kind"], "kind")}/${scope}/${text(ref["name"], "name")}`)
      for (const subject of maps(binding["subjects"], "subjects")) {
        expect(accounts, nameOf(binding)).toContain(`${text(subject["namespace"], "namespace")}/${text(subject["name"], "name")}`)
      }
    }
  })
})

describe("deploy/example/", () => {
  const classes = ofKind(everything, "StorageClass")
  const staticClass = only(examples("static"), "StorageClass")
  const dynamicClass = only(examples("dynamic"), "StorageClass")
  const parametersOf = (sc: KubeObject): Record<string, string> =>
    Object.fromEntries(Object.entries(map(sc["parameters"], "parameters")).map(([k, v]) => [k, text(v, k)]))
  const mountOptionsOf = (o: KubeObject, path: string) => texts(at(o, path) ?? [], path)

  it("uses this driver in every StorageClass and PV", () => {
    for (const sc of classes) expect(sc["provisioner"], nameOf(sc)).toBe(driverName)
    for (const pv of ofKind(everything, "PersistentVolume")) expect(at(pv, "spec.csi.driver")).toBe(driverName)
  })

  it("lets dynamic volumes grow, and does not claim that static ones can", () => {
    expect(dynamicClass["allowVolumeExpansion"]).toBe(true)
    expect(staticClass["allowVolumeExpansion"]).not.toBe(true)
  })

  it("has StorageClass parameters and mount options the driver accepts", () => {
    expect(Result.isSuccess(parseStaticVolumeParameters(parametersOf(staticClass)))).toBe(true)
    const dynamic = parseDynamicVolumeParameters(parametersOf(dynamicClass))
    expect(Result.isSuccess(dynamic) ? "" : dynamic.failure).toBe("")
    expect(parametersOf(staticClass)["sub-dir"]).toBe("${pvc.metadata.namespace}/${pvc.metadata.name}")
    for (const sc of classes) expect(Result.isSuccess(validateMountOptions(mountOptionsOf(sc, "mountOptions")))).toBe(true)
    for (const pv of ofKind(everything, "PersistentVolume")) {
      expect(Result.isSuccess(validateMountOptions(mountOptionsOf(pv, "spec.mountOptions")))).toBe(true)
    }
  })

  it("has a hand-written PV whose volume handle and attributes name the same directory", () => {
    const pv = only(examples("static"), "PersistentVolume")
    const attributes = Object.fromEntries(
      Object.entries(map(at(pv, "spec.csi.volumeAttributes"), "volumeAttributes")).map(([k, v]) => [k, text(v, k)])
    )
    const parsed = parseStaticVolumeParameters(attributes)
    const id = decodeVolumeId(text(at(pv, "spec.csi.volumeHandle"), "volumeHandle"))
    if (Result.isFailure(parsed) || Result.isFailure(id)) throw new Error("the PV's attributes or handle do not parse")
    expect(id.success).toMatchObject({ fsName: parsed.success.fsName, mgsAddress: parsed.success.mgsAddress, subDir: parsed.success.subDir })
  })

  it("binds every claim to a StorageClass or PV of the examples, and every pod to a claim", () => {
    const classNames = classes.map(nameOf)
    const pvNames = ofKind(everything, "PersistentVolume").map(nameOf)
    const claims = ofKind(everything, "PersistentVolumeClaim")
    for (const claim of claims) {
      const className = at(claim, "spec.storageClassName")
      if (className === "") expect(pvNames).toContain(at(claim, "spec.volumeName"))
      else expect(classNames).toContain(className)
    }
    for (const pod of ofKind(everything, "Pod")) {
      for (const v of maps(podSpecOf(pod)["volumes"], "volumes")) {
        expect(claims.map(nameOf)).toContain(at(v, "persistentVolumeClaim.claimName"))
      }
    }
  })

  it("expands the dynamic claim to a larger whole number of the SKU's 16 TiB steps", () => {
    const before = only(examples("dynamic"), "PersistentVolumeClaim")
    const after = only(examples("expansion"), "PersistentVolumeClaim")
    expect(nameOf(after)).toBe(nameOf(before))
    expect(at(after, "spec.storageClassName")).toBe(nameOf(dynamicClass))
    expect(parametersOf(dynamicClass)["sku-name"]).toBe("AMLFS-Durable-Premium-125")
    const step = 16n * 1024n ** 4n
    const size = (claim: KubeObject) => quantityBytes(text(at(claim, "spec.resources.requests.storage"), "storage"))
    expect(size(before) % step).toBe(0n)
    expect(size(after) % step).toBe(0n)
    expect(size(after)).toBeGreaterThan(size(before))
    expect(readRaw("example/expansion/pvc.yaml")).toContain(`kubectl patch pvc ${nameOf(after)}`)
  })

  it("leaves the examples' namespace to kubectl (but the Azure Monitor add-on's, which lives in kube-system)", () => {
    const exampleObjects = kubernetesFiles.filter((f) => f.startsWith("example/") && !f.startsWith("example/azure-monitor/"))
      .flatMap(readDocuments)
    expect(exampleObjects.length).toBeGreaterThanOrEqual(9)
    for (const object of exampleObjects) expect(namespaceOf(object), nameOf(object)).toBeUndefined()
  })
})

describe("deploy/example/azure-monitor/", () => {
  const config = only(examples("azure-monitor"), "ConfigMap", "ama-metrics-prometheus-config")
  const scrape = Yaml.parse(text(at(config, "data.prometheus-config"), "data.prometheus-config")) as {
    scrape_configs: Array<{ metrics_path: string; relabel_configs: Array<{ source_labels: Array<string>; action?: string; regex?: string }> }>
  }

  it("is the ConfigMap the ama-metrics add-on reads, in kube-system", () => {
    expect(namespaceOf(config)).toBe("kube-system")
  })

  it("keeps the driver's pods on the port the manifests name healthz, and scrapes /metrics there", () => {
    const [job] = scrape.scrape_configs
    expect(job?.metrics_path).toBe("/metrics")
    const keeps = (label: string) => job?.relabel_configs.find((rule) => rule.action === "keep" && rule.source_labels.includes(label))?.regex
    const appName = keeps("__meta_kubernetes_pod_label_app_kubernetes_io_name")
    const portName = keeps("__meta_kubernetes_pod_container_port_name")
    for (const workload of [controller, node]) {
      expect(at(workload, "spec.template.metadata")).toMatchObject({ labels: { "app.kubernetes.io/name": appName } })
      expect(JSON.stringify(podSpecOf(workload))).toContain(`"name":"${portName}"`)
    }
  })
})
