#!/usr/bin/env bash
# The image's root filesystem, made from Debian's packages at the exact versions listed in
# debian-packages.lock, with mmdebstrap (as root; no container runtime, no registry). Both image
# builds run this same script: deploy/image/build.sh on the machine, deploy/Containerfile in its
# `rootfs` stage.
#
#   deploy/image/rootfs.sh DIR [--deb-cache DIR]   make the root filesystem in DIR (absent or empty)
#   deploy/image/rootfs.sh --refresh-lock          resolve debian-packages.in into debian-packages.lock
#
# SOURCE_DATE_EPOCH must be set (build.sh sets it to the commit's time): mmdebstrap then makes the
# same tree from the same packages. The packages come from mmdebstrap's default Debian mirror for
# bookworm, with its -updates and -security suites; DEBIAN_SOURCES=<file> takes apt's sources from
# that file instead (e.g. Debian's snapshot archive, for versions the mirror no longer has).
# --deb-cache keeps the downloaded .deb files in DIR and reuses them (apt checks them against the
# signed indexes like any download).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/debian-packages.lock"
roots="$here/debian-packages.in"
suite=bookworm
arch=amd64

fail() { echo "rootfs.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap --mode=root makes files owned by other users)"
command -v mmdebstrap >/dev/null || fail "mmdebstrap is not installed: apt-get install mmdebstrap"

# The package lines of a list file: no comments, no blank lines.
entries() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"; }
# mmdebstrap, its output shown only if it fails (its hooks talk a lot when all goes well).
quietly() {
  local log
  log="$(mktemp)"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    fail "mmdebstrap failed (its output above). \"Version ... was not found\": the mirror no longer has a locked version; refresh the lock (rootfs.sh --refresh-lock) or take the old one from Debian's snapshot archive (DEBIAN_SOURCES)"
  fi
  rm -f "$log"
}
# Package=Version of every package installed in a root filesystem, sorted.
installed() { dpkg-query --admindir="$1/var/lib/dpkg" -W -f '${Package}=${Version}\n' | LC_ALL=C sort; }

common=(
  --mode=root --variant=custom --architectures="$arch"
  # Merged /usr (bin, sbin, lib are links into usr/) as every bookworm system has it.
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  # No manuals, translations or documentation; the copyright files stay (licences). Deleted
  # afterwards rather than excluded with dpkg's path-exclude, which makes mmdebstrap filter every
  # package through a Perl tar filter: 10 times slower.
  --customize-hook='rm -rf "$1/usr/share/man" "$1/usr/share/info" "$1/usr/share/locale"'
  --customize-hook='find "$1/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete'
  --customize-hook='find "$1/usr/share/doc" -mindepth 1 -type d -empty -delete'
  # No /proc, /sys or /dev mounted in the chroot while packages install: a container build (the
  # Containerfile's rootfs stage) may not mount, and the tree comes out the same without them.
  --skip=chroot/mount
  # The host's resolver and name must not leak in (and would differ between machines).
  --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
  # A user for the processes that need no root (the controller can run as 65532:65532).
  --customize-hook='echo "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin" >>"$1/etc/passwd"'
  --customize-hook='echo "nonroot:x:65532:" >>"$1/etc/group"'
)
# After mmdebstrap (its own clean-up expects what goes): the image has no apt, so apt's
# configuration, lists and caches would be dead weight; and no device nodes, which the container
# runtime provides in /dev.
finish() {
  rm -rf "$1/etc/apt" "$1/var/lib/apt" "$1/var/cache/apt" "$1/var/log/apt"
  find "$1/dev" -mindepth 1 -delete
}
sources=()
[ -n "${DEBIAN_SOURCES:-}" ] && sources=("$DEBIAN_SOURCES")

if [ "${1:-}" = "--refresh-lock" ]; then
  : "${SOURCE_DATE_EPOCH:=$(date +%s)}"
  export SOURCE_DATE_EPOCH
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  includes=()
  while read -r root; do includes+=("--include=$root"); done < <(entries "$roots")
  quietly mmdebstrap "${common[@]}" "${includes[@]}" "$suite" "$scratch/rootfs" "${sources[@]}"
  {
    echo "# The image's Debian packages ($suite, $arch) at exact versions: rootfs.sh installs exactly these"
    echo "# and fails if apt would add, drop or change one. Resolved from debian-packages.in on"
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) by \`deploy/image/rootfs.sh --refresh-lock\`; refresh it for Debian's fixes."
    installed "$scratch/rootfs"
  } >"$lock"
  echo "rootfs.sh: $(entries "$lock" | wc -l) packages written to $lock"
  exit 0
fi

target="${1:-}"
[ -n "$target" ] || fail "usage: rootfs.sh DIR [--deb-cache DIR] | rootfs.sh --refresh-lock"
shift
cache=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb-cache) cache="${2:?--deb-cache needs a folder}"; shift 2 ;;
    *) fail "unknown argument $1" ;;
  esac
done
: "${SOURCE_DATE_EPOCH:?rootfs.sh: set SOURCE_DATE_EPOCH (e.g. to the commit time: git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH

pinned="$(entries "$lock" | LC_ALL=C sort)"
cache_hooks=()
if [ -n "$cache" ]; then
  mkdir -p "$cache"
  cache="$(cd "$cache" && pwd)"
  # essential/unlink would delete the essential packages' .deb files before sync-out could keep them.
  cache_hooks=(
    --skip=essential/unlink
    --setup-hook='mkdir -p "$1/var/cache/apt/archives"'
    --setup-hook="sync-in $cache /var/cache/apt/archives"
    --customize-hook="sync-out /var/cache/apt/archives $cache"
  )
fi

quietly mmdebstrap "${cache_hooks[@]}" "${common[@]}" --include="$(echo "$pinned" | paste -sd, -)" \
  "$suite" "$target" "${sources[@]}"
finish "$target"

if [ "$(installed "$target")" != "$pinned" ]; then
  diff <(echo "$pinned") <(installed "$target") | sed 's/^/  /' >&2 || true
  fail "the packages installed differ from debian-packages.lock (< lock, > installed): refresh the lock (rootfs.sh --refresh-lock) or fix debian-packages.in"
fi
echo "rootfs.sh: $(echo "$pinned" | wc -l) Debian packages at the locked versions in $target"
