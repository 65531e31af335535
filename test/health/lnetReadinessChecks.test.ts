import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { LnetProbe, type LocalNi } from "../../layers/lnet/LnetProbe.js"
import { LnetProbeFake } from "../../layers/lnet/LnetProbeFake.js"
import { type LnetCheckOptions, lnetReadinessChecks } from "../../src/health/lnetReadinessChecks.js"
import { type CheckResult, NotReady, Readiness } from "../../src/health/Readiness.js"

const NAMES = ["lnet-modules", "lnet-nid", "lnet-self-ping", "lnet-interface"]

/** The LNet checks' results once, on the fake probe as the test scripted it. */
const results = (options: LnetCheckOptions = {}) =>
  Effect.gen(function*() {
    const group = yield* lnetReadinessChecks(yield* LnetProbe, options)
    return yield* group.results
  })

/** name → reason for each check that failed; passing checks map to "ok". */
const verdicts = (checks: ReadonlyArray<CheckResult>) =>
  Object.fromEntries(checks.map((check) => [check.name, check.ready ? "ok" : check.reason ?? "(no reason)"]))

const set = <A>(ref: (state: LnetProbeFake["Service"]) => Ref.Ref<A>, value: A) =>
  LnetProbeFake.use((state) => Ref.set(ref(state), value))
const calls = LnetProbeFake.use((state) => Ref.get(state.calls))

const NOT_CHECKED_PING = "not checked: LNet has no NID to ping (see lnet-nid)"
const NOT_CHECKED_INTERFACE = "not checked: LNet has no NID whose interface to look at (see lnet-nid)"

describe("lnetReadinessChecks", () => {
  it.effect("a node whose LNet works passes all four checks, in order, after one look each", () =>
    Effect.gen(function*() {
      const checks = yield* results()
      assert.deepStrictEqual(checks, NAMES.map((name) => ({ name, ready: true })))
      assert.deepStrictEqual(yield* calls, ["loadedModules", "localNis", "pingNid 10.0.0.5@tcp", "interfaceState eth0"])
    }).pipe(Effect.provide(LnetProbeFake.layer())))

  describe("lnet-modules", () => {
    it.effect("the Lustre client not installed: both modules named, and lnetctl not run at all", () =>
      Effect.gen(function*() {
        yield* set((state) => state.modules, new Set(["ext4"]))
        assert.deepStrictEqual(verdicts(yield* results()), {
          "lnet-modules": "kernel modules lnet and lustre are not loaded: the Lustre client is not installed on this node, " +
            "or was not loaded (install it with the AKS Lustre client DaemonSet, or run `modprobe lustre`, which loads lnet too)",
          "lnet-nid": "not checked: kernel module lnet is not loaded (see lnet-modules)",
          "lnet-self-ping": NOT_CHECKED_PING,
          "lnet-interface": NOT_CHECKED_INTERFACE
        })
        assert.deepStrictEqual(yield* calls, ["loadedModules"])
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("lnet loaded but not lustre: only lnet-modules fails, and names lustre", () =>
      Effect.gen(function*() {
        yield* set((state) => state.modules, new Set(["lnet", "ksocklnd"]))
        const checks = verdicts(yield* results())
        assert.strictEqual(
          checks["lnet-modules"],
          "kernel module lustre is not loaded: the Lustre client is not installed on this node, or was not loaded " +
            "(install it with the AKS Lustre client DaemonSet, or run `modprobe lustre`, which loads lnet too)"
        )
        assert.deepStrictEqual([checks["lnet-nid"], checks["lnet-self-ping"], checks["lnet-interface"]], ["ok", "ok", "ok"])
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("modules that cannot be read: says so, and the other checks still run", () =>
      Effect.gen(function*() {
        yield* set((state) => state.failing, new Map([["loadedModules", "ENOENT: no such file or directory"] as const]))
        const checks = verdicts(yield* results())
        assert.strictEqual(
          checks["lnet-modules"],
          "cannot tell whether the Lustre client is loaded: loadedModules (fake): ENOENT: no such file or directory"
        )
        assert.strictEqual(checks["lnet-self-ping"], "ok")
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("a configured list of required modules", () =>
      Effect.gen(function*() {
        const checks = verdicts(yield* results({ requiredModules: ["lnet", "lustre", "ksocklnd"] }))
        assert.strictEqual(checks["lnet-modules"], "ok")
        yield* set((state) => state.modules, new Set(["lnet", "lustre"]))
        assert.match(verdicts(yield* results({ requiredModules: ["lnet", "lustre", "ksocklnd"] }))["lnet-modules"] ?? "", /^kernel module ksocklnd is not loaded/)
      }).pipe(Effect.provide(LnetProbeFake.layer())))
  })

  describe("lnet-nid", () => {
    it.effect("only 0@lo: LNet runs without a network; the self-ping and interface checks say they could not run", () =>
      Effect.gen(function*() {
        yield* set((state) => state.nis, [{ nid: "0@lo", status: "up", interfaces: [] }])
        assert.deepStrictEqual(verdicts(yield* results()), {
          "lnet-modules": "ok",
          "lnet-nid": "LNet has no NID besides 0@lo: it runs, but no network is configured " +
            "(`lnetctl net add --net tcp --if eth0` adds one; check the Lustre client DaemonSet's logs)",
          "lnet-self-ping": NOT_CHECKED_PING,
          "lnet-interface": NOT_CHECKED_INTERFACE
        })
        assert.deepStrictEqual(yield* calls, ["loadedModules", "localNis"])
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("lnetctl net show failing: lnetctl's reason and where to look", () =>
      Effect.gen(function*() {
        yield* set((state) => state.failing, new Map([["localNis", "cannot get networks: Network is down"] as const]))
        const checks = verdicts(yield* results())
        assert.strictEqual(
          checks["lnet-nid"],
          "cannot list LNet's NIDs: localNis (fake): cannot get networks: Network is down; LNet is loaded but not running " +
            "or not configured (check `lnetctl net show` on the node and the Lustre client DaemonSet's logs)"
        )
        assert.strictEqual(checks["lnet-self-ping"], NOT_CHECKED_PING)
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("a NI that is up is preferred to one that is down", () =>
      Effect.gen(function*() {
        yield* set((state) => state.nis, [
          { nid: "0@lo", status: "up", interfaces: [] },
          { nid: "10.0.0.4@tcp", status: "down", interfaces: ["eth1"] },
          { nid: "10.0.0.5@tcp", status: "up", interfaces: ["eth0"] }
        ])
        assert.deepStrictEqual(verdicts(yield* results())["lnet-self-ping"], "ok")
        assert.deepStrictEqual(yield* calls, ["loadedModules", "localNis", "pingNid 10.0.0.5@tcp", "interfaceState eth0"])
      }).pipe(Effect.provide(LnetProbeFake.layer())))
  })

  describe("lnet-self-ping", () => {
    it.effect("LNet cannot reach its own NID: the error, and that lnetctl reports the NI down", () =>
      Effect.gen(function*() {
        yield* set((state) => state.unreachableNids, new Set(["10.0.0.5@tcp"]))
        assert.strictEqual(
          verdicts(yield* results())["lnet-self-ping"],
          "LNet cannot reach its own NID 10.0.0.5@tcp: failed to ping 10.0.0.5@tcp: Input/output error; LNet's network " +
            "does not work on this node (check `lnetctl net show -v` and dmesg for LNet errors)"
        )
        yield* set((state) => state.nis, [{ nid: "10.0.0.5@tcp", status: "down", interfaces: ["eth0"] }])
        assert.match(verdicts(yield* results())["lnet-self-ping"] ?? "", /Input\/output error \(lnetctl net show reports this NI down\); /)
      }).pipe(Effect.provide(LnetProbeFake.layer())))
  })

  describe("lnet-interface", () => {
    const interfaceVerdict = (nis: ReadonlyArray<LocalNi>, interfaces: ReadonlyArray<readonly [string, { operstate: string; administrativelyUp: boolean | undefined }]>, addresses: ReadonlyArray<readonly [string, string]> = []) =>
      Effect.gen(function*() {
        yield* set((state) => state.nis, nis)
        yield* set((state) => state.interfaces, new Map(interfaces))
        yield* set((state) => state.addresses, new Map(addresses))
        return verdicts(yield* results())["lnet-interface"]
      })
    const ni = (interfaces: ReadonlyArray<string>): ReadonlyArray<LocalNi> => [{ nid: "10.0.0.5@tcp", status: "up", interfaces }]

    it.effect("down, gone, administratively down, and unknown but up", () =>
      Effect.gen(function*() {
        assert.strictEqual(
          yield* interfaceVerdict(ni(["eth0"]), [["eth0", { operstate: "down", administrativelyUp: true }]]),
          "network interface eth0 of NID 10.0.0.5@tcp is not up (operstate down): LNet cannot send over it " +
            "(check `ip link show eth0` and the node's network)"
        )
        assert.strictEqual(
          yield* interfaceVerdict(ni(["eth1"]), [["eth0", { operstate: "up", administrativelyUp: true }]]),
          "network interface eth1 of NID 10.0.0.5@tcp does not exist on this node: LNet is configured for an interface the node " +
            "no longer has (reconfigure it: `lnetctl net del --net tcp`, then `lnetctl net add --net tcp --if <interface>`)"
        )
        assert.strictEqual(
          yield* interfaceVerdict(ni(["tun0"]), [["tun0", { operstate: "unknown", administrativelyUp: false }]]),
          "network interface tun0 of NID 10.0.0.5@tcp is administratively down: bring it up (`ip link set tun0 up`)"
        )
        assert.strictEqual(yield* interfaceVerdict(ni(["tun0"]), [["tun0", { operstate: "unknown", administrativelyUp: true }]]), "ok")
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("every interface of a multi-rail NI must be up; each one that is not is named", () =>
      Effect.gen(function*() {
        const verdict = yield* interfaceVerdict(ni(["eth0", "eth1", "eth2"]), [
          ["eth0", { operstate: "up", administrativelyUp: true }],
          ["eth1", { operstate: "lowerlayerdown", administrativelyUp: true }],
          ["eth2", { operstate: "dormant", administrativelyUp: true }]
        ])
        assert.match(verdict ?? "", /^network interface eth1 .* \(operstate lowerlayerdown\).*; network interface eth2 .* \(operstate dormant\)/)
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("a NI that names no interface: the interface that holds its address, else why not", () =>
      Effect.gen(function*() {
        assert.strictEqual(
          yield* interfaceVerdict(ni([]), [["eth0", { operstate: "up", administrativelyUp: true }]], [["10.0.0.5", "eth0"]]),
          "ok"
        )
        assert.strictEqual(
          yield* interfaceVerdict(ni([]), [["eth0", { operstate: "up", administrativelyUp: true }]]),
          "no network interface that is up holds 10.0.0.5, the address of NID 10.0.0.5@tcp: its interface is down or lost the " +
            "address (check `ip addr` on the node)"
        )
        assert.strictEqual(
          yield* interfaceVerdict([{ nid: "27@gni", status: "up", interfaces: [] }], []),
          "cannot tell which network interface NID 27@gni uses: LNet names none, and the NID holds no IP address"
        )
      }).pipe(Effect.provide(LnetProbeFake.layer())))
  })

  describe("timeouts", () => {
    it.effect("a probe that does not answer fails its own check when its time is up; the others report as usual", () =>
      Effect.gen(function*() {
        yield* set((state) => state.stuck, new Set(["pingNid"] as const))
        const run = yield* Effect.forkChild(results())
        yield* TestClock.adjust("4999 millis")
        assert.isUndefined(run.pollUnsafe())
        yield* TestClock.adjust("1 milli")
        assert.deepStrictEqual(verdicts(yield* Fiber.join(run)), {
          "lnet-modules": "ok",
          "lnet-nid": "ok",
          "lnet-self-ping": "LNet did not answer a ping of its own NID 10.0.0.5@tcp within 5s; LNet's network does not work on " +
            "this node (check `lnetctl net show -v` and dmesg for LNet errors)",
          "lnet-interface": "ok"
        })
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("each check has its own timeout, configurable", () =>
      Effect.gen(function*() {
        yield* set((state) => state.stuck, new Set(["loadedModules", "localNis"] as const))
        const run = yield* Effect.forkChild(results({ timeouts: { modules: "1 second", nid: "3 seconds" } }))
        yield* TestClock.adjust("4 seconds")
        assert.deepStrictEqual(verdicts(yield* Fiber.join(run)), {
          "lnet-modules": "reading the loaded kernel modules did not finish within 1s",
          "lnet-nid": "listing LNet's NIDs did not finish within 3s: LNet may be stuck (check dmesg on the node for LNet errors)",
          "lnet-self-ping": NOT_CHECKED_PING,
          "lnet-interface": NOT_CHECKED_INTERFACE
        })
        yield* set((state) => state.stuck, new Set(["interfaceState"] as const))
        const slowInterface = yield* Effect.forkChild(results({ timeouts: { interface: "500 millis" } }))
        yield* TestClock.adjust("500 millis")
        assert.strictEqual(
          verdicts(yield* Fiber.join(slowInterface))["lnet-interface"],
          "reading the state of the network interface of NID 10.0.0.5@tcp did not finish within 500ms"
        )
      }).pipe(Effect.provide(LnetProbeFake.layer())))
  })

  describe("caching", () => {
    // The fake's self-ping takes a second, so that callers arrive while a run is on.
    const slowPing = Effect.gen(function*() {
      const probe = yield* LnetProbe
      return LnetProbe.of({ ...probe, pingNid: (nid) => Effect.sleep("1 second").pipe(Effect.andThen(probe.pingNid(nid))) })
    })

    it.effect("concurrent report calls share one run: the probe is asked once", () =>
      Effect.gen(function*() {
        const readiness = Readiness.fromChecks([yield* lnetReadinessChecks(yield* slowPing)])
        const reports = yield* Effect.forkChild(Effect.all(Array.from({ length: 20 }, () => readiness.report), { concurrency: "unbounded" }))
        yield* TestClock.adjust("1 second")
        const answered = yield* Fiber.join(reports)
        assert.strictEqual(answered.length, 20)
        assert.isTrue(answered.every((report) => report.ready && report.checks.length === 4))
        // The interface is looked at while the (slow) self-ping is on.
        assert.deepStrictEqual(yield* calls, ["loadedModules", "localNis", "interfaceState eth0", "pingNid 10.0.0.5@tcp"])
      }).pipe(Effect.provide(LnetProbeFake.layer())))

    it.effect("a result is reused for cacheFor, failures included, then looked at again", () =>
      Effect.gen(function*() {
        const readiness = Readiness.fromChecks([yield* lnetReadinessChecks(yield* LnetProbe, { cacheFor: "3 seconds" })])
        assert.isTrue((yield* readiness.report).ready)
        yield* set((state) => state.modules, new Set<string>())
        yield* TestClock.adjust("2999 millis")
        assert.isTrue((yield* readiness.report).ready)
        assert.strictEqual((yield* calls).length, 4)
        yield* TestClock.adjust("1 milli")
        const broken = yield* readiness.report
        assert.isFalse(broken.ready)
        assert.deepStrictEqual(broken.checks.filter((check) => !check.ready).map((check) => check.name), NAMES)
        yield* set((state) => state.modules, new Set(["lnet", "lustre"]))
        yield* TestClock.adjust("2 seconds")
        assert.isFalse((yield* readiness.report).ready)
        yield* TestClock.adjust("1 second")
        assert.isTrue((yield* readiness.report).ready)
        assert.deepStrictEqual((yield* calls).filter((call) => call === "loadedModules").length, 3)
      }).pipe(Effect.provide(LnetProbeFake.layer())))
  })

  it.effect("joins other checks in a readiness report, each result under its own name", () =>
    Effect.gen(function*() {
      const readiness = Readiness.fromChecks([
        { name: "first", run: Effect.void },
        yield* lnetReadinessChecks(yield* LnetProbe),
        { name: "last", run: Effect.fail(new NotReady({ reason: "switched off" })) }
      ])
      const report = yield* readiness.report
      assert.isFalse(report.ready)
      assert.deepStrictEqual(report.checks.map((check) => check.name), ["first", ...NAMES, "last"])
    }).pipe(Effect.provide(LnetProbeFake.layer())))
})
