import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { TestClock } from "effect/testing"
import { LustreClientFake } from "../../layers/lustreClient/LustreClientFake.js"
import { freshNode, type ModelHost, ubuntuJammy } from "../../layers/lustreClient/modelHost.js"
import { NodeSetup } from "../../src/node/setup/NodeSetup.js"
import { fakeCalls, fakeNode, packageManagerCalls, setupWorld } from "./setupWorld.js"

const PACKAGE = "amlfs-lustre-client-2.15.7-33-g79ddf99"
const KERNEL = "5.15.0-1079-azure"
const INSTALL = `apt-get install -y --reinstall --no-install-recommends -o DPkg::options::=--force-confdef -o DPkg::options::=--force-confold ${PACKAGE}=${KERNEL}`
const LOAD_AND_CONFIGURE = [
  "modprobe -v lnet",
  "modprobe -v ksocklnd skip_mr_route_setup=1",
  "lnetctl lnet configure",
  "ip -o link show",
  "ip route show",
  "lnetctl net show",
  "lnetctl net add --net tcp --if eth0",
  "modprobe -v mgc",
  "modprobe -v lustre"
]
const CONFIGURE_PENDING = "dpkg --configure -a --force-confdef --force-confold"
const ALREADY_SET_UP = ["lnetctl net show", "ip -o link show", "ip route show", "lnetctl net show", "modprobe -v mgc", "modprobe -v lustre"]

const status = Effect.gen(function*() {
  return yield* (yield* NodeSetup).status
})
const done = Effect.gen(function*() {
  yield* (yield* NodeSetup).done
})

/** A node set up by a first run of the setup: its client installed, LNet configured, modules loaded. */
const setUpNode = Effect.gen(function*() {
  yield* done
  return yield* fakeNode
}).pipe(Effect.provide(setupWorld().layer))

describe("the node setup (LustreClientFake)", () => {
  it.effect("on a fresh node: installs the client for the node's kernel, configures LNet as the Go driver does, loads the modules", () => {
    const world = setupWorld()
    return Effect.gen(function*() {
      yield* done
      assert.deepStrictEqual(yield* fakeCalls, ["apt-get update", INSTALL, ...LOAD_AND_CONFIGURE])
      const node = yield* fakeNode
      assert.deepStrictEqual(node.packages, [{ name: PACKAGE, version: KERNEL, state: "installed" }])
      assert.deepStrictEqual(node.nis, [{ nid: "10.224.0.4@tcp", status: "up", interfaces: ["eth0"] }])
      assert.strictEqual(node.repository?.sourceLine,
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/microsoft-amlfs.asc] https://packages.microsoft.com/repos/amlfs-jammy/ jammy main")
      assert.deepStrictEqual(yield* status, {
        _tag: "Ready",
        summary: `${PACKAGE} for ${KERNEL} installed, LNet tcp on eth0`
      })
      assert.deepStrictEqual(yield* Ref.get(world.events), [{
        type: "Normal",
        reason: "LustreClientInstalled",
        note: `installed ${PACKAGE} for ${KERNEL}; LNet tcp on eth0`
      }])
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("on a restart: installs nothing, adds no interface LNet has, runs no package manager", () =>
    Effect.gen(function*() {
      const node = yield* setUpNode
      const world = setupWorld(node)
      yield* Effect.gen(function*() {
        yield* done
        const calls = yield* fakeCalls
        assert.deepStrictEqual(calls, ALREADY_SET_UP)
        assert.deepStrictEqual(packageManagerCalls(calls), [])
        assert.deepStrictEqual((yield* status)._tag, "Ready")
        // No Event for a node that was set up already.
        assert.deepStrictEqual(yield* Ref.get(world.events), [])
      }).pipe(Effect.provide(world.layer))
    }))

  it.effect("the Noble node gets the noble client", () => {
    const noble = freshNode({ ...ubuntuJammy, release: { id: "ubuntu", versionId: "24.04", codename: "noble", prettyName: "Ubuntu 24.04.2 LTS" }, kernelRelease: "6.8.0-1021-azure" })
    const world = setupWorld(noble)
    return Effect.gen(function*() {
      yield* done
      assert.include((yield* fakeCalls)[1], "amlfs-lustre-client-2.16.1-14-gbc76088=6.8.0-1021-azure")
      assert.include((yield* fakeNode).repository?.url, "amlfs-noble")
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("LNet loaded with a tcp network but no interface (an old driver's default): deleted, then configured anew", () =>
    Effect.gen(function*() {
      const node = yield* setUpNode
      const stale: ModelHost = { ...node, nis: [{ nid: "10.224.0.4@tcp", status: "up", interfaces: [] }] }
      yield* Effect.gen(function*() {
        yield* done
        assert.deepStrictEqual(yield* fakeCalls, ["lnetctl net show", "lnetctl net del --net tcp", ...LOAD_AND_CONFIGURE])
      }).pipe(Effect.provide(setupWorld(stale).layer))
    }))

  it.effect("LNet loaded but not configured (lnetctl net show fails): configured as on a fresh node", () =>
    Effect.gen(function*() {
      const node = yield* setUpNode
      yield* Effect.gen(function*() {
        yield* done
        assert.deepStrictEqual(yield* fakeCalls, ["lnetctl net show", ...LOAD_AND_CONFIGURE])
      }).pipe(Effect.provide(setupWorld({ ...node, lnetConfigured: false, nis: [] }).layer))
    }))

  it.effect("an older client still loaded and unused: unloaded (lustre_rmmod), then the installed one loads", () =>
    Effect.gen(function*() {
      const node = yield* setUpNode
      const old: ModelHost = { ...node, lustreModuleVersion: "2.15.5_10_gabcdef0" }
      yield* Effect.gen(function*() {
        yield* done
        assert.deepStrictEqual(yield* fakeCalls, ["lustre_rmmod", ...LOAD_AND_CONFIGURE])
        assert.strictEqual((yield* fakeNode).lustreModuleVersion, "2.15.7_33_g79ddf99")
      }).pipe(Effect.provide(setupWorld(old).layer))
    }))

  it.effect("install=no (AZURELUSTRE_CSI_INSTALL_LUSTRE_CLIENT=no): nothing runs, the node counts as set up", () => {
    const world = setupWorld(freshNode(), { install: false })
    return Effect.gen(function*() {
      yield* done
      assert.deepStrictEqual(yield* status, { _tag: "Skipped" })
      assert.deepStrictEqual(yield* fakeCalls, [])
    }).pipe(Effect.provide(world.layer))
  })
})

describe("the node setup's retries (TestClock)", () => {
  const DPKG_CONFLICT = "dpkg: error processing archive /var/cache/apt/archives/x.deb (--unpack):\n" +
    " trying to overwrite '/usr/sbin/lctl', which is also in package amlfs-lustre-client-2.15.5-10-gabcdef0 5.15.0-1079-azure\n" +
    "E: Sub-process /usr/bin/dpkg returned an error code (1)"

  it.effect("an old client in the way: removed after lustre_rmmod (nothing mounted), the install tried again 15 s later, the readiness reason says which try", () => {
    const old = "amlfs-lustre-client-2.15.5-10-gabcdef0"
    const node: ModelHost = {
      ...freshNode(),
      packages: [{ name: old, version: KERNEL, state: "installed" }],
      available: new Map([...freshNode().available, [old, [KERNEL]]]),
      modules: new Map([["lnet", 0], ["lustre", 0], ["libcfs", 0]]),
      lustreModuleVersion: "2.15.5_10_gabcdef0",
      lnetConfigured: true
    }
    const world = setupWorld(node)
    return Effect.gen(function*() {
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* fakeCalls, [
        "apt-get update",
        INSTALL,
        "lustre_rmmod",
        `apt-get remove --purge -y ${old}`
      ])
      // Waiting 15 s before the second try.
      assert.deepStrictEqual(yield* status, { _tag: "InProgress", step: `removing ${old} before the next try` })
      yield* TestClock.adjust("14 seconds")
      assert.strictEqual((yield* fakeCalls).length, 4)
      yield* TestClock.adjust("1 seconds")
      yield* done
      assert.deepStrictEqual((yield* fakeCalls).slice(4), [INSTALL, ...LOAD_AND_CONFIGURE])
      assert.deepStrictEqual((yield* fakeNode).packages, [{ name: PACKAGE, version: KERNEL, state: "installed" }])
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("dpkg left interrupted (an earlier install cut at its time limit): dpkg --configure -a, as apt asks, then the next try installs; nothing removed", () => {
    const world = setupWorld({ ...freshNode(), dpkgInterrupted: true })
    return Effect.gen(function*() {
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* fakeCalls, ["apt-get update", INSTALL, CONFIGURE_PENDING])
      assert.isFalse((yield* fakeNode).dpkgInterrupted)
      yield* TestClock.adjust("15 seconds")
      yield* done
      assert.deepStrictEqual((yield* fakeCalls).slice(3), [INSTALL, ...LOAD_AND_CONFIGURE])
      assert.strictEqual((yield* status)._tag, "Ready")
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("dpkg --configure -a failing every time: three tries, each followed by it, and the reason says what apt said and where to look", () => {
    const world = setupWorld({ ...freshNode(), dpkgInterrupted: true })
    return Effect.gen(function*() {
      const fake = yield* LustreClientFake
      const broken = { command: "dpkg --configure -a", output: "dpkg: error processing package x (--configure):\n installed x package post-installation script subprocess returned error exit status 1" }
      yield* Ref.set(fake.failures, [broken, broken, broken])
      yield* TestClock.adjust("1 millis")
      yield* TestClock.adjust("15 seconds")
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(yield* fakeCalls, ["apt-get update", INSTALL, CONFIGURE_PENDING, INSTALL, CONFIGURE_PENDING, INSTALL, CONFIGURE_PENDING])
      const failed = yield* status
      assert.deepStrictEqual(failed, {
        _tag: "Failed",
        retrying: true,
        reason: `installing ${PACKAGE} for ${KERNEL} failed 3 times, the last with: E: dpkg was interrupted, you must manually run ` +
          "'dpkg --configure -a' to correct the problem.; `dpkg --configure -a` ran after each try cut or refused as interrupted: " +
          "the node's /var/log/dpkg.log names the package whose install does not finish"
      })
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("three failed tries 15 s and 30 s apart, \"try 2 of 3\" while the second runs, dpkg --configure -a after the one cut at its bound; then a Warning Event, not ready, a new round a minute later", () => {
    const world = setupWorld()
    return Effect.gen(function*() {
      const fake = yield* LustreClientFake
      yield* Ref.set(fake.failures, [{ command: "apt-get install", output: DPKG_CONFLICT }])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(packageManagerCalls(yield* fakeCalls), ["apt-get update", INSTALL])
      // The second try hangs a while: the readiness reason names it.
      yield* Ref.set(fake.stuck, new Set(["apt-get install"]))
      yield* TestClock.adjust("15 seconds")
      assert.deepStrictEqual(yield* status, {
        _tag: "InProgress",
        step: `installing ${PACKAGE} for ${KERNEL}, try 2 of 3`
      })
      yield* Ref.set(fake.stuck, new Set())
      yield* Ref.set(fake.failures, [{ command: "apt-get install", output: DPKG_CONFLICT }])
      // The stuck try is cut at 10 minutes (its bound), dpkg is told to finish what it left, then the third try 30 s later.
      yield* TestClock.adjust("10 minutes")
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(packageManagerCalls(yield* fakeCalls), ["apt-get update", INSTALL, INSTALL, CONFIGURE_PENDING, INSTALL])
      const failed = yield* status
      assert.strictEqual(failed._tag, "Failed")
      assert.isTrue(failed._tag === "Failed" && failed.retrying)
      assert.match(failed._tag === "Failed" ? failed.reason : "", new RegExp(`^installing ${PACKAGE} for ${KERNEL} failed 3 times, the last with: .*trying to overwrite '/usr/sbin/lctl'`))
      const events = yield* Ref.get(world.events)
      assert.deepStrictEqual(events.map((event) => [event.type, event.reason]), [["Warning", "LustreClientSetupFailed"]])
      // The failures are spent: the next round, a minute later, installs.
      yield* TestClock.adjust("1 minute")
      yield* done
      assert.strictEqual((yield* status)._tag, "Ready")
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("no package for the kernel: one try, nothing removed, the reason names kernel, package and what to do; one Event for the same reason", () => {
    const node: ModelHost = { ...freshNode(), available: new Map([[PACKAGE, ["5.15.0-1075-azure"]]]) }
    const world = setupWorld(node)
    return Effect.gen(function*() {
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* fakeCalls, ["apt-get update", INSTALL])
      const failed = yield* status
      assert.deepStrictEqual(failed, {
        _tag: "Failed",
        retrying: true,
        reason: `no ${PACKAGE} package for kernel ${KERNEL} in https://packages.microsoft.com/repos/amlfs-jammy/ ` +
          `(apt-get: E: Version '${KERNEL}' for '${PACKAGE}' was not found): the client is built per kernel and none is ` +
          "published for this one yet; upgrade the node image (az aks nodepool upgrade --node-image-only) to a kernel the " +
          "client is built for, or configure a client version built for this kernel (LUSTRE_VERSION and CLIENT_SHA_SUFFIX, node.lustreClient.versions)"
      })
      // Rounds go on, 1 min, 2 min, ... apart; the same reason is not recorded again.
      yield* TestClock.adjust("1 minute")
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(packageManagerCalls(yield* fakeCalls).filter((call) => call.startsWith("apt-get install")).length, 3)
      assert.strictEqual((yield* Ref.get(world.events)).length, 1)
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("the client version not published for the release: the reason says to configure another", () => {
    const world = setupWorld({ ...freshNode(), available: new Map() })
    return Effect.gen(function*() {
      yield* TestClock.adjust("1 millis")
      const failed = yield* status
      assert.match(failed._tag === "Failed" ? failed.reason : "",
        /^the repository https:\/\/packages\.microsoft\.com\/repos\/amlfs-jammy\/ has no amlfs-lustre-client-2\.15\.7-33-g79ddf99 .*set LUSTRE_VERSION and CLIENT_SHA_SUFFIX for jammy \(node\.lustreClient\.versions\.jammy\)/)
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("the repository unreachable (apt-get update exits 0 with its fetch failure): no install, the reason names the repository and what to allow", () => {
    const world = setupWorld()
    return Effect.gen(function*() {
      const fake = yield* LustreClientFake
      yield* Ref.set(fake.failures, [{
        command: "apt-get update",
        output: "W: Failed to fetch https://packages.microsoft.com/repos/amlfs-jammy/dists/jammy/InRelease  Could not resolve 'packages.microsoft.com'"
      }])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* fakeCalls, ["apt-get update"])
      const failed = yield* status
      assert.match(failed._tag === "Failed" ? failed.reason : "",
        /^cannot reach the AMLFS package repository https:\/\/packages\.microsoft\.com\/repos\/amlfs-jammy\/ \(.*Could not resolve 'packages\.microsoft\.com'.*\): the node needs outbound HTTPS to packages\.microsoft\.com/)
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("another client loaded and in use (Lustre mounted): not unloaded; the reason says to drain the node; ready once unmounted", () =>
    Effect.gen(function*() {
      const node = yield* setUpNode
      const inUse: ModelHost = { ...node, lustreModuleVersion: "2.15.5_10_gabcdef0", modules: new Map([...node.modules, ["lustre", 2]]) }
      const world = setupWorld(inUse)
      yield* Effect.gen(function*() {
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* fakeCalls, [])
        const failed = yield* status
        assert.strictEqual(failed._tag === "Failed" ? failed.reason : "",
          "Lustre client 2.15.5-10-gabcdef0 is loaded and in use (2 mounted filesystem(s)), so " +
            `${PACKAGE} (2.15.7_33_g79ddf99) cannot be loaded until they are unmounted: drain the node (kubectl drain) or reboot it; ` +
            "the node setup tries again on its own")
        assert.strictEqual((yield* Ref.get(world.events))[0]?.type, "Warning")
        const fake = yield* LustreClientFake
        yield* Ref.update(fake.node, (host) => ({ ...host, modules: new Map([...host.modules, ["lustre", 0]]) }))
        yield* TestClock.adjust("1 minute")
        yield* done
        assert.deepStrictEqual((yield* fakeCalls).slice(0, 1), ["lustre_rmmod"])
      }).pipe(Effect.provide(world.layer))
    }))

  it.effect("no ethernet interface in the routing table: the reason lists what routes use and why each is left out", () => {
    const node: ModelHost = { ...freshNode(), routeDevices: ["azv1a2b3c4d5e6", "vxlan.calico"] }
    return Effect.gen(function*() {
      yield* TestClock.adjust("1 millis")
      const failed = yield* status
      assert.strictEqual(failed._tag === "Failed" ? failed.reason : "",
        "no ethernet interface of the routing table can carry LNet (routes use: azv1a2b3c4d5e6, vxlan.calico; left out: " +
          "azv1a2b3c4d5e6 (in another network namespace), vxlan.calico (state UNKNOWN)): check the node's network (ip link, ip route)")
    }).pipe(Effect.provide(setupWorld(node).layer))
  })

  it.effect("Azure Linux: refused for good, nothing run, no second round", () => {
    const azureLinux = freshNode({ release: { id: "azurelinux", versionId: "3.0", codename: "", prettyName: "Microsoft Azure Linux 3.0" }, kernelRelease: "6.6.78.1-1.azl3", machine: "x86_64" })
    const world = setupWorld(azureLinux)
    return Effect.gen(function*() {
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* fakeCalls, [])
      const failed = yield* status
      assert.isTrue(failed._tag === "Failed" && !failed.retrying)
      assert.match(failed._tag === "Failed" ? failed.reason : "", /^this node runs Microsoft Azure Linux 3\.0: the AMLFS Lustre client is published for Ubuntu only \(jammy, noble\)/)
      assert.strictEqual((yield* Ref.get(world.events)).length, 1)
    }).pipe(Effect.provide(world.layer))
  })

  it.effect("a stuck lnetctl is cut at its bound (1 minute) and the round fails naming it", () => {
    const world = setupWorld()
    return Effect.gen(function*() {
      const fake = yield* LustreClientFake
      yield* Ref.set(fake.stuck, new Set(["lnetctl lnet configure"]))
      yield* TestClock.adjust("59 seconds")
      assert.deepStrictEqual(yield* status, { _tag: "InProgress", step: "configuring LNet (lnetctl lnet configure)" })
      yield* TestClock.adjust("1 second")
      const failed = yield* status
      assert.strictEqual(failed._tag === "Failed" ? failed.reason : "", "cannot configure LNet: lnetctl lnet configure did not finish within 1m")
    }).pipe(Effect.provide(world.layer))
  })
})
