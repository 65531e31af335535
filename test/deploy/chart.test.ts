/**
 * The Helm chart renders the plain manifests with its default values, and its values change
 * what they say they change. Rendering uses test/deploy/goTemplate.ts (Go templates with Helm's
 * functions), since no Helm binary is at hand.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { CONTROLLER_HEALTH_PORT, NODE_HEALTH_PORT } from "../../src/health/healthPorts.js"
import {
  allRendered,
  asValue,
  chartDir,
  chartMetadata,
  defaultValues,
  type KubeObject,
  plainManifestFiles,
  readDocuments,
  renderChart,
  renderChartFiles,
  repoRoot,
  templateFiles
} from "./deployFiles.js"
import { problemsOf } from "./kubernetes.js"
import * as Result from "effect/Result"
import { parseCommandLine } from "../../src/cli/options.js"
import {
  at,
  container,
  containersOf,
  envOf,
  flag,
  keyOf,
  maps,
  nameOf,
  namespaceOf,
  ofKind,
  only,
  podSpecOf,
  probePort,
  text,
  texts,
  volume,
  volumeMount
} from "./objects.js"

const packageJson: unknown = JSON.parse(Fs.readFileSync(Path.join(repoRoot, "package.json"), "utf8"))
const packageVersion = text(at(asValue(packageJson, "package.json"), "version"), "version")

const expectValidAndTight = (objects: ReadonlyArray<KubeObject>) => {
  for (const object of objects) expect(problemsOf(object), keyOf(object)).toEqual([])
  for (const role of [...ofKind(objects, "ClusterRole"), ...ofKind(objects, "Role")]) {
    for (const rule of maps(role["rules"], "rules")) {
      for (const field of ["apiGroups", "resources", "verbs"]) expect(texts(rule[field], field).join(",")).not.toContain("*")
    }
  }
}

describe("chart: default values", () => {
  it("has one template per plain manifest, and renders each to the same objects", () => {
    const rendered = renderChart()
    expect([...rendered.keys()].sort()).toEqual([...plainManifestFiles()])
    for (const [file, objects] of rendered) {
      expect(objects.length, file).toBeGreaterThan(0)
      expect(objects, file).toEqual(readDocuments(file))
    }
  })

  it("renders the cloud-config-secret variant's Role and RoleBinding when no host file is given", () => {
    const objects = allRendered({ values: { controller: { cloudConfig: { hostFile: "" } } } })
    const defaults = new Set(allRendered().map(keyOf))
    const added = objects.filter((o) => !defaults.has(keyOf(o)))
    expect(added).toEqual(readDocuments("cloud-config-secret/rbac-controller-cloud-config.yaml"))
    const deployment = only(objects, "Deployment")
    const driver = container(deployment, "azurelustre")
    expect(envOf(driver, "AZURE_CONFIG_FILE")).toBeUndefined()
    expect(maps(driver["volumeMounts"], "volumeMounts").map((m) => m["name"])).not.toContain("azure-config")
    expect(maps(podSpecOf(deployment)["volumes"], "volumes").map((v) => v["name"])).not.toContain("azure-config")
    expectValidAndTight(objects)
  })

  it("follows package.json's version, the image flake.nix builds, and the driver's default ports", () => {
    const metadata = chartMetadata()
    expect(metadata["version"]).toBe(packageVersion)
    expect(metadata["appVersion"]).toBe(packageVersion)
    const flake = Fs.readFileSync(Path.join(repoRoot, "flake.nix"), "utf8")
    expect(flake).toMatch(/buildLayeredImage \{\s*name = "azurelustre-csi";\s*tag = version;/)
    const objects = allRendered()
    expect(container(only(objects, "DaemonSet"), "azurelustre")["image"]).toBe(`azurelustre-csi:${packageVersion}`)
    const values = defaultValues()
    expect(at(values, "controller.healthPort")).toBe(CONTROLLER_HEALTH_PORT)
    expect(at(values, "node.healthPort")).toBe(NODE_HEALTH_PORT)
  })

  it("keeps the chart's templates in the subset the test renderer shares with Helm", () => {
    expect(templateFiles()).toEqual(["_helpers.tpl", "controller.yaml", "csidriver.yaml", "node.yaml", "rbac-controller.yaml", "rbac-node.yaml"])
    for (const text of renderChartFiles().values()) expect(text).not.toMatch(/<no value>|\{\{|\}\}/)
  })

  it("reads only values that values.yaml defines", () => {
    const values = defaultValues()
    const paths = new Set<string>()
    for (const file of templateFiles()) {
      const source = Fs.readFileSync(Path.join(chartDir, "templates", file), "utf8")
      for (const match of source.matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)) paths.add(match[1]!.slice(1))
    }
    expect(paths.size).toBeGreaterThan(40)
    for (const path of paths) {
      const parent = path.split(".").slice(0, -1).join(".")
      const key = path.split(".").at(-1)!
      const holder = parent === "" ? values : at(values, parent)
      expect(holder !== null && typeof holder === "object" && !Array.isArray(holder) && Object.hasOwn(holder, key), path).toBe(true)
    }
  })
})

describe("chart: values change what they say", () => {
  it("node tolerations, node selector and affinity (maps merge with the defaults, as in Helm; null removes)", () => {
    const tolerations = [{ key: "sku", operator: "Equal", value: "gpu", effect: "NoSchedule" }]
    const ds = only(allRendered({ values: { node: { tolerations, nodeSelector: { pool: "lustre" }, affinity: null } } }), "DaemonSet")
    expect(podSpecOf(ds)["tolerations"]).toEqual(tolerations)
    expect(podSpecOf(ds)["nodeSelector"]).toEqual({ "kubernetes.io/os": "linux", pool: "lustre" })
    expect(podSpecOf(ds)).not.toHaveProperty("affinity")
    const replaced = only(allRendered({ values: { node: { nodeSelector: { "kubernetes.io/os": null, pool: "lustre" } } } }), "DaemonSet")
    expect(podSpecOf(replaced)["nodeSelector"]).toEqual({ pool: "lustre" })
  })

  it("image repositories, tags and pull policies, per container", () => {
    const objects = allRendered({
      values: {
        image: { repository: "myregistry.azurecr.io/azurelustre-csi", tag: "0.2.0", pullPolicy: "Always" },
        sidecarImages: {
          csiProvisioner: { tag: "v6.4.0" },
          nodeDriverRegistrar: { repository: "mirror/registrar" }
        }
      }
    })
    const deployment = only(objects, "Deployment")
    const daemonSet = only(objects, "DaemonSet")
    for (const workload of [deployment, daemonSet]) {
      expect(container(workload, "azurelustre")).toMatchObject({ image: "myregistry.azurecr.io/azurelustre-csi:0.2.0", imagePullPolicy: "Always" })
    }
    expect(container(deployment, "csi-provisioner")["image"]).toBe("registry.k8s.io/sig-storage/csi-provisioner:v6.4.0")
    expect(container(daemonSet, "node-driver-registrar")["image"]).toBe("mirror/registrar:v2.18.0")
    expect(container(deployment, "csi-resizer")["image"]).toBe(`registry.k8s.io/sig-storage/csi-resizer:${String(at(defaultValues(), "sidecarImages.csiResizer.tag"))}`)
  })

  it("health ports, to the flag, the container port and every probe", () => {
    const objects = allRendered({ values: { node: { healthPort: 30001 }, controller: { healthPort: 30002 } } })
    const nodeDriver = container(only(objects, "DaemonSet"), "azurelustre")
    expect(flag(nodeDriver, "health-port")).toBe("30001")
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(probePort(nodeDriver, probe)).toBe(30001)
    const controllerDriver = container(only(objects, "Deployment"), "azurelustre")
    expect(flag(controllerDriver, "health-port")).toBe("30002")
    for (const probe of ["readinessProbe", "livenessProbe"]) expect(probePort(controllerDriver, probe)).toBe(30002)
  })

  it("driver flags: log level, timeouts, start-up taint removal (and its RBAC)", () => {
    const objects = allRendered({
      values: {
        logLevel: "debug",
        node: { removeNodeTaint: false, mountTimeoutSeconds: 90, drainTimeoutSeconds: 40 },
        controller: { armPollQuietSeconds: 300, hsmResyncSeconds: 120, checkArm: true, resizer: { timeout: "5m" }, provisioner: { timeout: "3m" } }
      }
    })
    const nodeDriver = container(only(objects, "DaemonSet"), "azurelustre")
    expect(flag(nodeDriver, "log-level")).toBe("debug")
    expect(flag(nodeDriver, "remove-node-taint")).toBe("false")
    expect(flag(nodeDriver, "mount-timeout")).toBe("90")
    expect(flag(nodeDriver, "drain-timeout")).toBe("40")
    // Without the taint to remove: no patch of nodes, no csinodes; Events stay.
    expect(maps(only(objects, "ClusterRole", "azurelustre-csi-node")["rules"], "rules")).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] },
      { apiGroups: [""], resources: ["persistentvolumeclaims", "pods"], verbs: ["get"] }
    ])
    const deployment = only(objects, "Deployment")
    expect(flag(container(deployment, "azurelustre"), "arm-poll-quiet")).toBe("300")
    expect(flag(container(deployment, "azurelustre"), "hsm-resync")).toBe("120")
    expect(flag(container(deployment, "azurelustre"), "check-arm")).toBe("true")
    expect(flag(container(deployment, "csi-resizer"), "timeout")).toBe("5m")
    expect(flag(container(deployment, "csi-provisioner"), "timeout")).toBe("3m")
    expectValidAndTight(objects)
  })

  it("the HPC Cache principal for the blob-integration preflight: set only when given", () => {
    const id = "0f2e7d7a-2b1c-4f5e-9a31-6c2d8e4b7a10"
    const given = container(only(allRendered({ values: { controller: { hpcCachePrincipalId: id } } }), "Deployment"), "azurelustre")
    expect(envOf(given, "HPC_CACHE_PRINCIPAL_ID")?.["value"]).toBe(id)
    expect(envOf(container(only(allRendered({}), "Deployment"), "azurelustre"), "HPC_CACHE_PRINCIPAL_ID")).toBeUndefined()
  })

  it("the driver name, everywhere it appears", () => {
    const name = "lustre.example.com"
    const objects = allRendered({ values: { driverName: name, kubeletDir: "/var/snap/k8s/common/var/lib/kubelet" } })
    const kubelet = "/var/snap/k8s/common/var/lib/kubelet"
    expect(nameOf(only(objects, "CSIDriver"))).toBe(name)
    const ds = only(objects, "DaemonSet")
    const driver = container(ds, "azurelustre")
    expect(flag(driver, "driver-name")).toBe(name)
    expect(flag(driver, "mount-root")).toBe(`${kubelet}/plugins/${name}/mounts`)
    expect(flag(driver, "kubelet-dir")).toBe(kubelet)
    expect(volumeMount(driver, "kubelet-dir")).toMatchObject({ mountPath: kubelet, mountPropagation: "Bidirectional" })
    expect(at(volume(ds, "socket-dir"), "hostPath.path")).toBe(`${kubelet}/plugins/${name}`)
    expect(at(volume(ds, "registration-dir"), "hostPath.path")).toBe(`${kubelet}/plugins_registry`)
    expect(envOf(container(ds, "node-driver-registrar"), "DRIVER_REG_SOCK_PATH")?.["value"]).toBe(`${kubelet}/plugins/${name}/csi.sock`)
    expect(flag(container(only(objects, "Deployment"), "azurelustre"), "driver-name")).toBe(name)
  })

  it("workload identity: the service account's client id and the pod label", () => {
    const clientId = "00000000-0000-0000-0000-000000000001"
    const objects = allRendered({ values: { controller: { workloadIdentity: { clientId, tenantId: "tenant" } } } })
    const account = only(objects, "ServiceAccount", "azurelustre-csi-controller")
    expect(at(account, "metadata.annotations")).toEqual({
      "azure.workload.identity/client-id": clientId,
      "azure.workload.identity/tenant-id": "tenant"
    })
    const labels = at(only(objects, "Deployment"), "spec.template.metadata.labels")
    expect(labels).toMatchObject({ "azure.workload.identity/use": "true" })
    // Not without a client id.
    expect(at(only(allRendered(), "ServiceAccount", "azurelustre-csi-controller"), "metadata.annotations")).toBeUndefined()
    expect(at(only(allRendered(), "Deployment"), "spec.template.metadata.labels")).not.toHaveProperty(["azure.workload.identity/use"])
  })

  it("the release namespace, for every namespaced object and subject, but the cloud-config Secret's Role stays in kube-system", () => {
    const objects = allRendered({ namespace: "storage", values: { controller: { cloudConfig: { hostFile: "" } } } })
    for (const object of objects) {
      const namespace = namespaceOf(object)
      if (nameOf(object) === "azurelustre-csi-cloud-config") expect(namespace).toBe("kube-system")
      else if (namespace !== undefined) expect(namespace, keyOf(object)).toBe("storage")
    }
    for (const binding of [...ofKind(objects, "ClusterRoleBinding"), ...ofKind(objects, "RoleBinding")]) {
      for (const subject of maps(binding["subjects"], "subjects")) expect(subject["namespace"]).toBe("storage")
    }
    const deployment = only(objects, "Deployment")
    for (const sidecar of ["csi-provisioner", "csi-resizer"]) expect(flag(container(deployment, sidecar), "leader-election-namespace")).toBe("storage")
  })

  it("replicas, resources, pull secrets and pod labels", () => {
    const objects = allRendered({
      values: {
        controller: { replicas: 3, resources: { driver: { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "1Gi" } } }, podLabels: { team: "storage" } },
        imagePullSecrets: [{ name: "acr" }]
      }
    })
    const deployment = only(objects, "Deployment")
    expect(at(deployment, "spec.replicas")).toBe(3)
    expect(container(deployment, "azurelustre")["resources"]).toEqual({ requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "1Gi" } })
    expect(at(deployment, "spec.template.metadata.labels")).toMatchObject({ team: "storage", app: "csi-azurelustre-controller" })
    for (const workload of [deployment, only(objects, "DaemonSet")]) expect(podSpecOf(workload)["imagePullSecrets"]).toEqual([{ name: "acr" }])
  })

  it("topology: the provisioner's feature gate and the Node and CSINode reads it needs", () => {
    const objects = allRendered({ values: { controller: { provisioner: { topology: true } } } })
    expect(flag(container(only(objects, "Deployment"), "csi-provisioner"), "feature-gates")).toBe("Topology=true")
    const resources = maps(only(objects, "ClusterRole", "azurelustre-csi-provisioner")["rules"], "rules").flatMap((r) => texts(r["resources"], "resources"))
    expect(resources).toEqual(expect.arrayContaining(["nodes", "csinodes"]))
    const defaults = maps(only(allRendered(), "ClusterRole", "azurelustre-csi-provisioner")["rules"], "rules").flatMap((r) => texts(r["resources"], "resources"))
    expect(defaults).not.toContain("nodes")
    expect(flag(container(only(allRendered(), "Deployment"), "csi-provisioner"), "feature-gates")).toBeUndefined()
  })

  it("the livenessprobe sidecars, on ports of their own", () => {
    const objects = allRendered({ values: { node: { livenessProbeSidecar: { enabled: true } }, controller: { livenessProbeSidecar: { enabled: true } } } })
    const sidecarPorts = { DaemonSet: at(defaultValues(), "node.livenessProbeSidecar.port"), Deployment: at(defaultValues(), "controller.livenessProbeSidecar.port") }
    for (const workload of [only(objects, "DaemonSet"), only(objects, "Deployment")]) {
      const sidecar = container(workload, "liveness-probe")
      expect(text(sidecar["image"], "image")).toMatch(/^registry\.k8s\.io\/sig-storage\/livenessprobe:v2\.\d+\.\d+$/)
      expect(flag(sidecar, "csi-address")).toBe("/csi/csi.sock")
      const ports = containersOf(workload).flatMap((c) => maps(c["ports"] ?? [], "ports").map((p) => p["containerPort"]))
      expect(new Set(ports).size, nameOf(workload)).toBe(ports.length)
      const port = workload["kind"] === "DaemonSet" ? sidecarPorts.DaemonSet : sidecarPorts.Deployment
      expect(flag(sidecar, "http-endpoint")).toBe(`:${String(port)}`)
      expect(maps(sidecar["ports"], "ports")[0]!["containerPort"]).toBe(port)
    }
    expect(containersOf(only(allRendered(), "DaemonSet")).map((c) => c["name"])).not.toContain("liveness-probe")
    expectValidAndTight(objects)
  })

  it("renders valid objects with every option turned away from its default at once", () => {
    const objects = allRendered({
      namespace: "storage",
      values: {
        driverName: "lustre.example.com",
        kubeletDir: "/var/lib/k0s/kubelet",
        imagePullSecrets: [{ name: "acr" }],
        logLevel: "warn",
        sidecarLogLevel: 5,
        controller: {
          hostNetwork: true,
          workloadIdentity: { clientId: "00000000-0000-0000-0000-000000000001", tenantId: "00000000-0000-0000-0000-000000000002" },
          cloudConfig: { hostFile: "" },
          provisioner: { topology: true },
          livenessProbeSidecar: { enabled: true },
          podLabels: { team: "storage" },
          podAnnotations: { "prometheus.io/scrape": "true" },
          nodeSelector: null,
          tolerations: [],
          affinity: null
        },
        node: {
          removeNodeTaint: false,
          hostLustreTools: false,
          lustreClient: { install: false },
          livenessProbeSidecar: { enabled: true },
          podAnnotations: { "prometheus.io/port": "29763" },
          updateStrategy: { rollingUpdate: { maxUnavailable: "10%" } }
        }
      }
    })
    expect(objects.length).toBe(allRendered().length + 2)
    expectValidAndTight(objects)
    expect(at(only(objects, "DaemonSet"), "spec.template.metadata.annotations")).toEqual({ "prometheus.io/port": "29763" })
    expect(podSpecOf(only(objects, "Deployment"))).not.toHaveProperty("tolerations")
  })

  it("without the node's Lustre tools, no host /usr, /lib, /lib64 or /sbin and no PATH", () => {
    const ds = only(allRendered({ values: { node: { hostLustreTools: false } } }), "DaemonSet")
    const mounts = maps(container(ds, "azurelustre")["volumeMounts"], "volumeMounts").map((m) => m["mountPath"])
    expect(mounts).toEqual(["/csi", "/var/lib/kubelet", "/dev", "/host"])
    expect(envOf(container(ds, "azurelustre"), "PATH")).toBeUndefined()
  })

  it("the Lustre client: versions per release into LUSTRE_VERSION and CLIENT_SHA_SUFFIX, the host root where it says", () => {
    const ds = only(allRendered({
      values: {
        node: {
          lustreClient: {
            versions: { noble: { lustreVersion: "2.16.2", clientShaSuffix: "3-gabcdef0" }, focal: { lustreVersion: "2.15.4", clientShaSuffix: "29-g1234567" } },
            hostRoot: "/node"
          }
        }
      }
    }), "DaemonSet")
    const driver = container(ds, "azurelustre")
    const env = {
      LUSTRE_VERSION: text(envOf(driver, "LUSTRE_VERSION")?.["value"], "LUSTRE_VERSION"),
      CLIENT_SHA_SUFFIX: text(envOf(driver, "CLIENT_SHA_SUFFIX")?.["value"], "CLIENT_SHA_SUFFIX")
    }
    // Maps merge with the defaults: jammy stays.
    expect(env).toEqual({
      LUSTRE_VERSION: "focal=2.15.4 jammy=2.15.7 noble=2.16.2",
      CLIENT_SHA_SUFFIX: "focal=29-g1234567 jammy=33-g79ddf99 noble=3-gabcdef0"
    })
    const parsed = Result.getOrThrow(parseCommandLine(["serve", "--node-id", "n", `--host-root=${String(flag(driver, "host-root"))}`], env))
    expect(parsed._tag === "Serve" && parsed.options.nodeSetup).toEqual({
      install: true,
      hostRoot: "/node",
      versions: {
        byRelease: new Map([
          ["focal", { lustreVersion: "2.15.4", shaSuffix: "29-g1234567" }],
          ["jammy", { lustreVersion: "2.15.7", shaSuffix: "33-g79ddf99" }],
          ["noble", { lustreVersion: "2.16.2", shaSuffix: "3-gabcdef0" }]
        ]),
        otherwise: undefined
      }
    })
    expect(volumeMount(driver, "host-root")).toMatchObject({ mountPath: "/node", mountPropagation: "HostToContainer" })
  })

  it("the Lustre client off: the driver told so, and no host root mounted", () => {
    const ds = only(allRendered({ values: { node: { lustreClient: { install: false } } } }), "DaemonSet")
    const driver = container(ds, "azurelustre")
    expect(envOf(driver, "AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT")?.["value"]).toBe("no")
    expect(envOf(driver, "LUSTRE_VERSION")).toBeUndefined()
    expect(maps(driver["volumeMounts"], "volumeMounts").map((m) => m["name"])).not.toContain("host-root")
    expect(maps(podSpecOf(ds)["volumes"], "volumes").map((v) => v["name"])).not.toContain("host-root")
    expectValidAndTight([ds])
  })
})
