import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseCommandLine } from "../../src/cli/options.js"
import { DEFAULT_CLIENT_VERSIONS } from "../../src/node/setup/clientVersions.js"

const parse = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => parseCommandLine(argv, env)
const failureOf = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const result = parse(argv, env)
  return Result.isFailure(result) ? result.failure.message : "parsed"
}

describe("the command line", () => {
  it("serve reads each flag from the command line, then its environment variable, then its default", () => {
    const fromEnv = parse(["serve"], {
      CSI_ENDPOINT: "unix:///var/lib/kubelet/plugins/x/csi.sock",
      NODE_ID: "aks-node-1",
      DRIVER_NAME: "lustre.example.com",
      CSI_MODE: "node",
      LOG_LEVEL: "debug"
    })
    expect(fromEnv).toEqual(Result.succeed({
      _tag: "Serve",
      options: {
        socketPath: "/var/lib/kubelet/plugins/x/csi.sock",
        nodeId: "aks-node-1",
        zone: undefined,
        mountRoot: "/var/lib/kubelet/plugins/lustre.example.com/mounts",
        kubeletDir: "/var/lib/kubelet",
        driverName: "lustre.example.com",
        mode: "node",
        logLevel: "debug",
        drainTimeoutSeconds: 20,
        mountTimeoutSeconds: 60,
        armPollQuietSeconds: 450,
        hsmResyncSeconds: 30,
        healthPort: 29763,
        removeNodeTaint: true,
        checkArm: false,
        nodeSetup: { install: true, versions: DEFAULT_CLIENT_VERSIONS, hostRoot: "/host" }
      }
    }))
    const flagsWin = parse(["serve", "--mode=controller", "--endpoint", "/csi/c.sock"], { CSI_MODE: "node" })
    expect(Result.getOrThrow(flagsWin)).toMatchObject({
      options: { mode: "controller", socketPath: "/csi/c.sock", nodeId: undefined, healthPort: 29762 }
    })
    expect(Result.getOrThrow(parse(["serve", "--node-id", "n", "--hsm-resync", "120"], { HSM_RESYNC_SECONDS: "60" }))).toMatchObject({
      options: { hsmResyncSeconds: 120 }
    })
    expect(Result.getOrThrow(parse(["serve", "--node-id", "n"], { HSM_RESYNC_SECONDS: "60" }))).toMatchObject({ options: { hsmResyncSeconds: 60 } })
    expect(Result.getOrThrow(parse(["serve", "--node-id", "n", "--health-port", "9000", "--remove-node-taint=false"], {
      HEALTH_PORT: "9100",
      REMOVE_NODE_TAINT: "true"
    }))).toMatchObject({ options: { healthPort: 9000, removeNodeTaint: false } })
    // The mount root follows kubelet's directory unless given.
    expect(Result.getOrThrow(parse(["serve", "--node-id", "n", "--kubelet-dir", "/data/kubelet"]))).toMatchObject({
      options: { kubeletDir: "/data/kubelet", mountRoot: "/data/kubelet/plugins/azurelustre.csi.azure.com/mounts" }
    })
    expect(Result.getOrThrow(parse(["serve", "--node-id", "n1"]))).toMatchObject({
      options: { socketPath: "/csi/csi.sock", driverName: "azurelustre.csi.azure.com", mode: "all", logLevel: "info" }
    })
  })

  it.each([
    [["serve", "--bogus", "1"], "unknown flag --bogus for `serve`"],
    [["serve", "--bogus=1"], "unknown flag --bogus for `serve`"],
    [["sim", "--node", "x"], "unknown flag --node for `sim`"],
    [["serve", "--mode", "both"], 'invalid --mode "both": expected controller, node or all'],
    [["serve", "--node-id", "n", "--log-level", "loud"], 'invalid --log-level "loud"'],
    [["serve", "--node-id", "n", "--driver-name", "bad_name"], 'invalid --driver-name "bad_name"'],
    [["serve", "--node-id", "n", "--endpoint", "tcp://0.0.0.0:1"], 'invalid --endpoint "tcp://0.0.0.0:1"'],
    [["serve", "--node-id", "n", "--drain-timeout", "-3"], 'invalid --drain-timeout "-3"'],
    [["serve", "--node-id", "n", "--hsm-resync", "soon"], 'invalid --hsm-resync "soon"'],
    [["serve", "--mode", "node"], "--node-id (or NODE_ID) is required in node mode"],
    [["serve", "--node-id", "n", "--health-port", "70000"], 'invalid --health-port "70000": expected a port number from 0 to 65535'],
    [["serve", "--node-id", "n", "--remove-node-taint", "yes"], 'invalid --remove-node-taint "yes": expected true or false'],
    [["serve", "--node-id"], "flag --node-id needs a value"],
    [["serve", "--node-id", "n", "--kubelet-dir", "kubelet"], 'invalid --kubelet-dir "kubelet": expected an absolute path'],
    [["serve", "--node-id", "n", "--mount-root", "mounts"], 'invalid --mount-root "mounts": expected an absolute path'],
    [["serve", "extra"], 'unexpected argument "extra" for `serve`'],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["call"], "`call` needs a CSI method name"]
  ])("%j is refused: %s", (argv, message) => {
    expect(failureOf(argv)).toContain(message)
  })

  it("names the environment variable when a bad value came from it", () => {
    expect(failureOf(["serve", "--node-id", "n"], { CSI_MODE: "sideways" })).toBe(
      'invalid --mode (from CSI_MODE) "sideways": expected controller, node or all'
    )
  })

  it("sim needs no flags and call defaults to the sim's socket and an empty request", () => {
    const sim = Result.getOrThrow(parse(["sim"]))
    const call = Result.getOrThrow(parse(["call", "Probe"]))
    expect(sim._tag === "Sim" && call._tag === "Call" && call.options.socketPath).toBe(sim._tag === "Sim" && sim.options.socketPath)
    expect(call).toMatchObject({ options: { method: "Probe", requestJson: "{}" } })
    expect(sim).toMatchObject({ options: { kubeletDir: `${sim._tag === "Sim" ? sim.options.stateDir : ""}/kubelet` } })
  })

  it("sim drains for serve's default 20 s, or --drain-timeout", () => {
    expect(Result.getOrThrow(parse(["sim"]))).toMatchObject({ options: { drainTimeoutSeconds: 20 } })
    expect(Result.getOrThrow(parse(["sim", "--drain-timeout", "2.5"]))).toMatchObject({ options: { drainTimeoutSeconds: 2.5 } })
  })

  it("no command is help given as a misuse (exit 2); help and --help on any command are help", () => {
    expect(Result.getOrThrow(parse([]))).toMatchObject({ _tag: "Help", misuse: true })
    for (const argv of [["help"], ["help", "sim"], ["version", "--help"], ["call", "-h"], ["serve", "--nope", "--help"]]) {
      const help = Result.getOrThrow(parse(argv))
      expect(help._tag === "Help" && help.misuse).toBe(undefined)
    }
  })

  it("help for each command lists its flags and their environment variables", () => {
    const help = Result.getOrThrow(parse(["serve", "--help"]))
    expect(help._tag === "Help" && help.text).toContain("--node-id")
    expect(help._tag === "Help" && help.text).toContain("[env NODE_ID]")
  })
})
