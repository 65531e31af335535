import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runDriver } from "../support/driverProcess.js"

// The command line as a user meets it: the built driver as its own process. Exit codes are one
// rule for every command: 0 done, 1 failed, 2 a bad command line (or request).

const scratch = Fs.mkdtempSync(Path.join(Os.tmpdir(), "csi-cli-"))
afterAll(() => Fs.rmSync(scratch, { recursive: true, force: true }))
const nowhere = Path.join(scratch, "csi.sock")

const runToEnd = async (args: ReadonlyArray<string>) => {
  const driver = runDriver(args)
  const code = await driver.exited
  return { code, output: driver.output() }
}

describe("azurelustre-csi's command line", () => {
  it("without a command prints its usage and exits 2", async () => {
    const { code, output } = await runToEnd([])
    expect(code).toBe(2)
    expect(output).toContain("usage: azurelustre-csi <command> [flags]")
  })

  it.each([
    [["help"], "usage: azurelustre-csi <command> [flags]"],
    [["--help"], "usage: azurelustre-csi <command> [flags]"],
    [["serve", "--help"], "usage: azurelustre-csi serve [flags]"],
    [["sim", "-h"], "usage: azurelustre-csi sim [flags]"],
    [["call", "--help"], "usage: azurelustre-csi call <Method> [request-json] [flags]"],
    [["version", "--help"], "usage: azurelustre-csi version"],
    [["help", "call"], "usage: azurelustre-csi call <Method> [request-json] [flags]"],
    // Asking for help is never wrong, whatever else is on the line.
    [["serve", "--bogus", "--help"], "usage: azurelustre-csi serve [flags]"],
    [["call", "--help", "NoSuchMethod", "{"], "usage: azurelustre-csi call <Method> [request-json] [flags]"]
  ])("%j prints help and exits 0", async (args, usage) => {
    const { code, output } = await runToEnd(args)
    expect({ code, firstLine: output.split("\n").find((line) => line.startsWith("usage:")) }).toEqual({ code: 0, firstLine: usage })
  })

  it.each([
    [["frobnicate"], 'azurelustre-csi: unknown command "frobnicate"'],
    [["version", "now"], 'azurelustre-csi: unexpected argument "now" for `version`'],
    [["sim", "--drain-timeout", "soon"], 'azurelustre-csi: invalid --drain-timeout "soon"'],
    [["call", "NoSuchMethod"], "azurelustre-csi: unknown CSI method NoSuchMethod; the methods are GetPluginInfo"],
    [["call", "Probe", "{not json"], "azurelustre-csi: the request is not JSON"]
  ])("%j is a bad command line: exit 2", async (args, message) => {
    const { code, output } = await runToEnd(args)
    expect({ code, output: output.split("\n")[0] }).toEqual({ code: 2, output: expect.stringContaining(message) })
  })
})

describe("azurelustre-csi call", () => {
  it("refuses a request field the method does not have, by name and where, before calling: exit 2", async () => {
    const request = { volumId: "v1", targetPath: "/mnt/x" }
    const { code, output } = await runToEnd(["call", "NodePublishVolume", JSON.stringify(request), "--endpoint", nowhere])
    expect(code).toBe(2)
    expect(output).toBe(
      "azurelustre-csi: NodePublishVolumeRequest has no field volumId (the fields there: publishContext, readonly, " +
        "secrets, stagingTargetPath, targetPath, volumeCapability, volumeContext, volumeId)\n"
    )
  })

  it("finds a misspelled field inside a nested message, and an enum value the message does not know", async () => {
    const nested = { volumeId: "v1", volumeCapability: { mount: { fsTyp: "ext4" }, accessMode: { mode: "MULTI_NODE_MULTI_WRITER" } } }
    const misspelled = await runToEnd(["call", "NodePublishVolume", JSON.stringify(nested), "--endpoint", nowhere])
    expect(misspelled).toEqual({
      code: 2,
      output: "azurelustre-csi: NodePublishVolumeRequest has no field volumeCapability.mount.fsTyp " +
        "(the fields there: fsType, mountFlags, volumeMountGroup)\n"
    })
    const badMode = { volume_capability: { mount: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITR" } }, volume_context: { any: "key" } }
    const unknownValue = await runToEnd(["call", "NodePublishVolume", JSON.stringify(badMode), "--endpoint", nowhere])
    expect(unknownValue).toEqual({
      code: 2,
      output: 'azurelustre-csi: NodePublishVolumeRequest has no value volumeCapability.accessMode.mode "MULTI_NODE_MULTI_WRITR"\n'
    })
  })

  it("against a socket no driver listens on, says so and asks whether npm start runs: exit 1", async () => {
    const missing = await runToEnd(["call", "Probe", "--endpoint", nowhere])
    expect(missing).toEqual({
      code: 1,
      output: `no driver is listening on unix://${nowhere} (ENOENT), is \`npm start\` running? (or name the driver's socket with --endpoint)\n`
    })
    // A file left where the socket was (a driver killed before it removed its socket): nobody accepts on it.
    const stale = Path.join(scratch, "stale.sock")
    Fs.writeFileSync(stale, "")
    const refused = await runToEnd(["call", "Probe", "--endpoint", `unix://${stale}`])
    expect(refused).toEqual({
      code: 1,
      output: `no driver is listening on unix://${stale} (ECONNREFUSED), is \`npm start\` running? (or name the driver's socket with --endpoint)\n`
    })
  })
})
