/**
 * A node's root filesystem to run the node setup's live layer against, for real: a minimal
 * Debian root made by mmdebstrap (apt, dpkg and the essential packages from Debian's archive)
 * that says it is Ubuntu 22.04, with a local file repository holding stand-in
 * `amlfs-lustre-client-…` packages, and recording stand-ins for the commands that would touch
 * the kernel (modprobe, lnetctl, lustre_rmmod) or read this machine's network (ip). apt-get and
 * dpkg are the real ones, run in the root by chroot, as on a node.
 *
 * The root is built once (about a minute) and kept as a tarball in /var/tmp for a week; each
 * test extracts a fresh copy.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const CACHE_DIR = "/var/tmp/azurelustre-csi-test"
const ROOT_TARBALL = Path.join(CACHE_DIR, "debian-bookworm-apt.tar")
const MAX_AGE_MS = 7 * 24 * 3600 * 1000
/** test/fixtures/lustreClient, from the source (tests) or from dist/ (the benchmark). */
const FIXTURES = [
  Path.resolve(import.meta.dirname, "../../fixtures/lustreClient"),
  Path.resolve(import.meta.dirname, "../../../../test/fixtures/lustreClient")
].find((folder) => Fs.existsSync(folder)) ?? ""

/** Where the stand-ins keep the node's kernel state, inside the root. */
export const STAND_INS = "/var/lib/stand-ins"

const fresh = (file: string) => {
  try {
    return Date.now() - Fs.statSync(file).mtimeMs < MAX_AGE_MS
  } catch {
    return false
  }
}

/** The minimal root's tarball, made now unless a recent one is kept. */
export const debianRootTarball = (): string => {
  if (fresh(ROOT_TARBALL)) return ROOT_TARBALL
  Fs.mkdirSync(CACHE_DIR, { recursive: true })
  const building = `${ROOT_TARBALL}.${process.pid}.tmp`
  try {
    execFileSync("mmdebstrap", ["--version"], { stdio: "ignore" })
  } catch {
    throw new Error("mmdebstrap is not installed: `apt-get install -y mmdebstrap` (the node root of the node-setup tests is made with it)")
  }
  execFileSync("mmdebstrap", [
    "--variant=apt", "--mode=root", "--format=tar", "--quiet",
    "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
    "bookworm", building
  ], { stdio: ["ignore", "ignore", "pipe"] })
  Fs.renameSync(building, ROOT_TARBALL)
  return ROOT_TARBALL
}

const write = (root: string, path: string, content: string, mode = 0o644) => {
  const file = Path.join(root, path)
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, content, { mode })
}

const standIn = (name: string, body: string) => `#!/bin/sh
# Stand-in for ${name}: records each call, keeps the kernel's state in ${STAND_INS}.
S=${STAND_INS}
echo "${name} $*" >> $S/calls.log
${body}
`

/** The modules a client package ships: `lustre.ko` holds the version its lustre module reports. */
const installedClient = "ls /lib/modules/*/updates/lustre.ko 2>/dev/null | head -n 1"

const STAND_INS_SCRIPTS: Record<string, string> = {
  modprobe: standIn("modprobe", `
[ "$1" = "-v" ] && shift
module=$1
ko=$(${installedClient})
if [ -z "$ko" ]; then echo "modprobe: FATAL: Module $module not found in directory /lib/modules/$(uname -r)" >&2; exit 1; fi
grep -q "^$module " $S/proc-modules || echo "$module 4096 0 - Live 0x0000000000000000 (OE)" >> $S/proc-modules
if [ "$module" = lustre ]; then mkdir -p $S/sys-module/lustre; cat "$ko" > $S/sys-module/lustre/version; fi
`),
  lustre_rmmod: standIn("lustre_rmmod", `
if grep -q "^lustre [0-9]* [1-9]" $S/proc-modules; then echo "rmmod: ERROR: Module lustre is in use" >&2; exit 1; fi
: > $S/proc-modules; rm -rf $S/sys-module/lustre $S/lnet-configured; : > $S/lnet-interfaces
`),
  lnetctl: standIn("lnetctl", `
case "$*" in
  "lnet configure") touch $S/lnet-configured ;;
  "net show")
    if [ ! -e $S/lnet-configured ]; then printf 'show:\\n    - net:\\n          errno: -100\\n          descr: "cannot get networks: Network is down"\\n' >&2; exit 1; fi
    printf 'net:\\n    - net type: lo\\n      local NI(s):\\n        - nid: 0@lo\\n          status: up\\n'
    if [ -s $S/lnet-interfaces ]; then
      printf '    - net type: tcp\\n      local NI(s):\\n        - nid: 10.224.0.4@tcp\\n          status: up\\n          interfaces:\\n'
      i=0; while read -r name; do printf '              %s: %s\\n' $i "$name"; i=$((i + 1)); done < $S/lnet-interfaces
    fi ;;
  "net add --net tcp --if "*) echo "$6" >> $S/lnet-interfaces ;;
  "net del --net tcp") : > $S/lnet-interfaces ;;
  *) echo "lnetctl: unexpected $*" >&2; exit 1 ;;
esac
`),
  ip: standIn("ip", `
case "$*" in
  "-o link show") cat $S/ip-link.txt ;;
  "route show") cat $S/ip-route.txt ;;
  *) echo "ip: unexpected $*" >&2; exit 1 ;;
esac
`)
}

export interface ClientBuild {
  readonly lustreVersion: string
  readonly shaSuffix: string
  readonly kernel: string
}

/** Builds a stand-in client package in the root (its own dpkg-deb) and answers its path there. */
const buildClientPackage = (root: string, build: ClientBuild): string => {
  const name = `amlfs-lustre-client-${build.lustreVersion}-${build.shaSuffix}`
  const source = `/tmp/build-${name}`
  write(root, `${source}/DEBIAN/control`, [
    `Package: ${name}`,
    `Version: ${build.kernel}`,
    "Architecture: amd64",
    "Maintainer: azurelustre-csi tests <tests@localhost>",
    `Description: stand-in for the AMLFS Lustre client ${build.lustreVersion} for ${build.kernel}`,
    ""
  ].join("\n"))
  // Every client version ships these paths, as the real ones ship lctl and the modules: two cannot be installed at once.
  write(root, `${source}/usr/sbin/lctl`, `#!/bin/sh\necho "lctl ${build.lustreVersion}"\n`, 0o755)
  write(root, `${source}/lib/modules/${build.kernel}/updates/lustre.ko`, `${build.lustreVersion}_${build.shaSuffix.replaceAll("-", "_")}\n`)
  // A test can hold the install in its maintainer script, as a stuck one would (HostRoot.holdInstall).
  write(root, `${source}/DEBIAN/preinst`, `#!/bin/sh\nif [ -e ${STAND_INS}/hold-install ]; then touch ${STAND_INS}/install-held; exec sleep 600; fi\n`, 0o755)
  const deb = `/srv/packages/${name}_${build.kernel}_amd64.deb`
  Fs.mkdirSync(Path.join(root, "/srv/packages"), { recursive: true })
  execFileSync("chroot", [root, "dpkg-deb", "--root-owner-group", "--build", source, deb], { stdio: "ignore" })
  return deb
}

/** A flat apt repository (`deb [trusted=yes] file:/srv/amlfs ./`) holding these packages. */
const publishRepository = (root: string, debs: ReadonlyArray<string>) => {
  const repository = Path.join(root, "/srv/amlfs")
  Fs.mkdirSync(repository, { recursive: true })
  const stanzas = debs.map((deb) => {
    const file = Path.basename(deb)
    Fs.copyFileSync(Path.join(root, deb), Path.join(repository, file))
    const bytes = Fs.readFileSync(Path.join(repository, file))
    const control = execFileSync("chroot", [root, "dpkg-deb", "--field", deb], { encoding: "utf8" }).trim()
    return `${control}\nFilename: ./${file}\nSize: ${bytes.length}\nSHA256: ${createHash("sha256").update(bytes).digest("hex")}\n`
  })
  Fs.writeFileSync(Path.join(repository, "Packages"), stanzas.join("\n"))
}

export const LOCAL_REPOSITORY = {
  url: "file:/srv/amlfs/",
  listFile: "/etc/apt/sources.list.d/amlfs.list",
  sourceLine: "deb [trusted=yes] file:/srv/amlfs ./"
} as const

export interface HostRoot {
  readonly root: string
  /** The stand-ins' calls, in order, read from the root. */
  readonly standInCalls: () => ReadonlyArray<string>
  /** Installs a package file of the root with its own dpkg (a client already on the node). */
  readonly dpkgInstall: (deb: string) => void
  /**
   * The next install of a client package stops in its preinst until killed; once one has, the
   * hold is lifted, so the tries after it run through. Resolves when the hold was lifted.
   */
  readonly holdInstall: () => Promise<void>
  /** Marks modules loaded, as /proc/modules would list them (`lustre 0`: loaded, not mounted). */
  readonly loadModules: (lines: ReadonlyArray<string>, lustreVersion?: string) => void
  readonly packages: { readonly offered: string; readonly old: string }
  readonly remove: () => void
}

/**
 * A fresh node root: Ubuntu 22.04's os-release, no Debian sources (apt reads only the local
 * AMLFS repository, which offers `offered`), the stand-ins first on PATH, the AKS-like node's
 * `ip` output. `old` is another client version's package file, not offered, for a node that has one.
 */
export const makeHostRoot = (offered: ClientBuild, old: ClientBuild): HostRoot => {
  const root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "node-root-")))
  execFileSync("tar", ["-C", root, "-xf", debianRootTarball()])
  Fs.rmSync(Path.join(root, "etc/apt/sources.list"), { force: true })
  Fs.rmSync(Path.join(root, "etc/os-release"), { force: true })
  Fs.rmSync(Path.join(root, "usr/lib/os-release"), { force: true })
  write(root, "/etc/os-release", Fs.readFileSync(Path.join(FIXTURES, "os-release-ubuntu-22.04.txt"), "utf8"))
  for (const [name, script] of Object.entries(STAND_INS_SCRIPTS)) write(root, `/usr/local/sbin/${name}`, script, 0o755)
  write(root, `${STAND_INS}/calls.log`, "")
  write(root, `${STAND_INS}/proc-modules`, "")
  write(root, `${STAND_INS}/lnet-interfaces`, "")
  write(root, `${STAND_INS}/ip-link.txt`, Fs.readFileSync(Path.join(FIXTURES, "ip-link-aks-like.txt"), "utf8"))
  write(root, `${STAND_INS}/ip-route.txt`, Fs.readFileSync(Path.join(FIXTURES, "ip-route-aks-like.txt"), "utf8"))
  const offeredDeb = buildClientPackage(root, offered)
  const oldDeb = buildClientPackage(root, old)
  publishRepository(root, [offeredDeb])
  const lines = (file: string) => Fs.readFileSync(Path.join(root, file), "utf8").split("\n").filter((line) => line !== "")
  return {
    root,
    standInCalls: () => lines(`${STAND_INS}/calls.log`),
    dpkgInstall: (deb) => {
      execFileSync("chroot", [root, "dpkg", "-i", deb], { stdio: "ignore" })
    },
    holdInstall: async () => {
      write(root, `${STAND_INS}/hold-install`, "")
      const held = Path.join(root, STAND_INS, "install-held")
      while (!Fs.existsSync(held)) await new Promise((resolve) => setTimeout(resolve, 20))
      Fs.rmSync(Path.join(root, STAND_INS, "hold-install"))
    },
    loadModules: (modules, lustreVersion) => {
      write(root, `${STAND_INS}/proc-modules`, modules.map((line) => `${line} - Live 0x0000000000000000 (OE)\n`).join(""))
      if (lustreVersion !== undefined) write(root, `${STAND_INS}/sys-module/lustre/version`, `${lustreVersion}\n`)
    },
    packages: { offered: offeredDeb, old: oldDeb },
    remove: () => Fs.rmSync(root, { recursive: true, force: true })
  }
}

/** The live layer's options for a root made here: its stand-ins' kernel state, and the node's kernel. */
export const liveOptionsFor = (host: HostRoot, kernel: string) => ({
  hostRoot: host.root,
  procModules: Path.join(host.root, STAND_INS, "proc-modules"),
  sysModule: Path.join(host.root, STAND_INS, "sys-module"),
  kernelRelease: kernel,
  machine: "x86_64"
})
