import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { ubuntuJammy } from "../../layers/lustreClient/modelHost.js"
import { microsoftAmlfsRepository } from "../../layers/lustreClient/packageRepository.js"
import { parseCommandLine } from "../../src/cli/options.js"
import { DEFAULT_CLIENT_VERSIONS, parseClientVersions } from "../../src/node/setup/clientVersions.js"
import { planSetup } from "../../src/node/setup/setupPlan.js"

const jammy = ubuntuJammy
const release = (id: string, codename: string, prettyName: string) => ({ ...jammy, release: { id, versionId: "", codename, prettyName } })
const reasonOf = (result: ReturnType<typeof planSetup>) => (Result.isFailure(result) ? result.failure.reason : "planned")

describe("release matching: which client a node gets", () => {
  it("jammy and noble get the Go driver's pins, from their own repository, at the kernel's version", () => {
    const plan = Result.getOrThrow(planSetup(jammy, DEFAULT_CLIENT_VERSIONS, microsoftAmlfsRepository))
    assert.deepStrictEqual(
      { packageName: plan.packageName, kernel: plan.kernel, url: plan.repository.url, describe: plan.describe },
      {
        packageName: "amlfs-lustre-client-2.15.7-33-g79ddf99",
        kernel: "5.15.0-1079-azure",
        url: "https://packages.microsoft.com/repos/amlfs-jammy/",
        describe: "amlfs-lustre-client-2.15.7-33-g79ddf99 for 5.15.0-1079-azure"
      }
    )
    const noble = Result.getOrThrow(planSetup({ ...release("ubuntu", "noble", "Ubuntu 24.04.2 LTS"), machine: "aarch64" }, DEFAULT_CLIENT_VERSIONS, microsoftAmlfsRepository))
    assert.strictEqual(noble.packageName, "amlfs-lustre-client-2.16.1-14-gbc76088")
    assert.strictEqual(noble.repository.sourceLine,
      "deb [arch=arm64 signed-by=/etc/apt/keyrings/microsoft-amlfs.asc] https://packages.microsoft.com/repos/amlfs-noble/ noble main")
  })

  it("refuses for good, saying what to do: another distribution, an Ubuntu release without a client, another architecture", () => {
    const azureLinux = planSetup(release("azurelinux", "", "Microsoft Azure Linux 3.0"), DEFAULT_CLIENT_VERSIONS, microsoftAmlfsRepository)
    assert.isTrue(Result.isFailure(azureLinux) && azureLinux.failure.permanent)
    assert.strictEqual(reasonOf(azureLinux),
      "this node runs Microsoft Azure Linux 3.0: the AMLFS Lustre client is published for Ubuntu only (jammy, noble); run Lustre " +
        "workloads on an Ubuntu node pool (az aks nodepool add --os-sku Ubuntu), or install a Lustre client on these nodes yourself " +
        "and set AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no (node.lustreClient.install: false)")
    assert.strictEqual(reasonOf(planSetup(release("ubuntu", "focal", "Ubuntu 20.04.6 LTS"), DEFAULT_CLIENT_VERSIONS, microsoftAmlfsRepository)),
      "no AMLFS Lustre client version is configured for Ubuntu 20.04.6 LTS (focal) (the driver knows jammy, noble): if Microsoft " +
        "publishes amlfs-focal, set LUSTRE_VERSION and CLIENT_SHA_SUFFIX for focal (node.lustreClient.versions.focal in the chart); " +
        "otherwise move the node pool to a supported Ubuntu release")
    assert.strictEqual(reasonOf(planSetup({ ...jammy, machine: "s390x" }, DEFAULT_CLIENT_VERSIONS, microsoftAmlfsRepository)),
      "this node's architecture is s390x: AMLFS Lustre client packages are published for x86_64 and aarch64 only")
  })

  it("a plain LUSTRE_VERSION and CLIENT_SHA_SUFFIX (the Go driver's) applies to every Ubuntu release", () => {
    const versions = Result.getOrThrow(parseClientVersions("2.15.6", "41-g1234567"))
    const plan = Result.getOrThrow(planSetup(release("ubuntu", "focal", "Ubuntu 20.04.6 LTS"), versions, microsoftAmlfsRepository))
    assert.strictEqual(plan.packageName, "amlfs-lustre-client-2.15.6-41-g1234567")
    assert.strictEqual(plan.repository.url, "https://packages.microsoft.com/repos/amlfs-focal/")
  })
})

describe("LUSTRE_VERSION and CLIENT_SHA_SUFFIX", () => {
  const Codename = Schema.Literals(["jammy", "noble", "focal", "resolute"])
  const Entry = Schema.Struct({
    lustre: Schema.Literals(["2.15.7", "2.16.1", "2.15.10", "2.17.0.1"]),
    suffix: Schema.Literals(["33-g79ddf99", "14-gbc76088", "0-gabcdef0"])
  })

  it.prop("per-release values, as the chart writes them (spaces or commas), give each release its client", [
    Schema.Record(Codename, Entry),
    Schema.Literals([" ", ",", ", "])
  ], ([entries, separator]) => {
    const releases = Object.keys(entries)
    if (releases.length === 0) return
    const write = (field: "lustre" | "suffix") => releases.map((r) => `${r}=${entries[r as keyof typeof entries]?.[field]}`).join(separator)
    const parsed = Result.getOrThrow(parseClientVersions(write("lustre"), write("suffix")))
    assert.deepStrictEqual(parsed.otherwise, undefined)
    assert.deepStrictEqual(
      [...parsed.byRelease].sort(),
      releases.map((r): [string, unknown] => [r, { lustreVersion: entries[r as keyof typeof entries]?.lustre, shaSuffix: entries[r as keyof typeof entries]?.suffix }]).sort()
    )
  })

  it("neither: the defaults; one without the other, a bad version, a release named twice or missing from one: refused, naming the variable and the fix", () => {
    assert.deepStrictEqual(parseClientVersions(undefined, undefined), Result.succeed(DEFAULT_CLIENT_VERSIONS))
    const refused = (lustre: string | undefined, suffix: string | undefined) => {
      const parsed = parseClientVersions(lustre, suffix)
      return Result.isFailure(parsed) ? parsed.failure : "parsed"
    }
    assert.strictEqual(refused("2.15.7", undefined),
      "LUSTRE_VERSION is set without CLIENT_SHA_SUFFIX: set both (a client package is amlfs-lustre-client-<LUSTRE_VERSION>-<CLIENT_SHA_SUFFIX>), or neither for the driver's defaults")
    assert.strictEqual(refused("2.15", "33-g79ddf99"), "parsed")
    assert.strictEqual(refused("v2.15.7", "33-g79ddf99"), "LUSTRE_VERSION: \"v2.15.7\" is not a version like 2.15.7")
    assert.strictEqual(refused("2.15.7", "g79ddf99"), "CLIENT_SHA_SUFFIX: \"g79ddf99\" is not a version like 33-g79ddf99")
    assert.strictEqual(refused("jammy=2.15.7 jammy=2.15.8", "33-g79ddf99"), "LUSTRE_VERSION names jammy twice")
    assert.strictEqual(refused("jammy=2.15.7 noble=2.16.1", "jammy=33-g79ddf99"),
      "CLIENT_SHA_SUFFIX names no suffix for noble, which LUSTRE_VERSION names: add noble=<suffix>")
    assert.strictEqual(refused("Jammy=2.15.7", "33-g79ddf99"), "LUSTRE_VERSION: \"Jammy\" is not an Ubuntu release codename (jammy, noble, ...)")
  })

  it("serve: the flags and the Go driver's variables; a bad value is a usage error naming both", () => {
    const options = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
      const parsed = parseCommandLine(["serve", "--node-id", "n", ...argv], env)
      return Result.isFailure(parsed) ? parsed.failure.message : parsed.success._tag === "Serve" ? parsed.success.options.nodeSetup : "other"
    }
    assert.deepStrictEqual(options([], { AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT: "no", HOST_ROOT: "/node" }), {
      install: false,
      versions: DEFAULT_CLIENT_VERSIONS,
      hostRoot: "/node"
    })
    assert.deepStrictEqual(options(["--lustre-version", "2.15.6", "--client-sha-suffix", "41-g1234567"]), {
      install: true,
      versions: { byRelease: new Map(), otherwise: { lustreVersion: "2.15.6", shaSuffix: "41-g1234567" } },
      hostRoot: "/host"
    })
    assert.strictEqual(options([], { AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT: "maybe" }),
      "invalid --install-lustre-client (from AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT) \"maybe\": expected yes or no")
    assert.strictEqual(options([], { LUSTRE_VERSION: "2.15.7" }),
      "invalid --lustre-version (from LUSTRE_VERSION) / --client-sha-suffix (from CLIENT_SHA_SUFFIX): LUSTRE_VERSION is set without " +
        "CLIENT_SHA_SUFFIX: set both (a client package is amlfs-lustre-client-<LUSTRE_VERSION>-<CLIENT_SHA_SUFFIX>), or neither for the driver's defaults")
    assert.strictEqual(options(["--host-root", "host"]), "invalid --host-root \"host\": expected an absolute path")
  })
})
