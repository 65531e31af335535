#!/usr/bin/env bash
# Builds the driver's image with no registry and no container daemon, as root, after `npm ci`:
#
#   deploy/image/build.sh [--out DIR] [--deb-cache DIR]
#
# Needs Debian's mmdebstrap and buildah (apt-get install mmdebstrap buildah). Writes to DIR
# (default dist/image):
#   azurelustre-csi-<version>.oci.tar    the image, an OCI archive (skopeo copy / buildah push it)
#   azurelustre-csi-<version>.cdx.json   its CycloneDX SBOM: Debian packages and npm packages
#   azurelustre-csi-<version>.build.json digest, sizes, layers, SBOM counts, build time
#
# The image is deploy/Containerfile built by Buildah (vfs storage of its own, chroot isolation)
# with its rootfs, node and app stages taken from deploy/image/rootfs.sh and
# deploy/image/stage-app.sh run here. Reproducible: SOURCE_DATE_EPOCH (default: the commit's
# time) fixes every timestamp, so two builds of one commit give the same image digest (with the
# same Buildah and mmdebstrap versions; test/image/ checks it). REVISION and SOURCE_URL set the
# labels of those names (default: the commit, and the origin remote if it is a URL).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$repo/dist/image"
cache=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --deb-cache) cache="${2:?--deb-cache needs a folder}"; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
fail() { echo "build.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap --mode=root, Buildah's chroot isolation)"
for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || fail "$tool is not installed: apt-get install buildah mmdebstrap"
done
node="$repo/node_modules/.bin/node"
[ -x "$node" ] || fail "the project's Node is missing: run \`npm ci\` in $repo first"

started=$(date +%s)
version="$("$node" -p 'require(process.argv[1]).version' "$repo/package.json")"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}"
# The revision label: the commit, marked -dirty when the image's inputs changed since.
revision="${REVISION:-}"
if [ -z "$revision" ]; then
  revision="$(git -C "$repo" rev-parse HEAD)"
  if [ -n "$(git -C "$repo" status --porcelain -- src layers bin package.json package-lock.json rolldown.config.ts deploy/Containerfile deploy/image)" ]; then
    revision="$revision-dirty"
  fi
fi
# The source label: the origin remote when it is a URL anyone can read, else "unknown".
source_url="${SOURCE_URL:-}"
if [ -z "$source_url" ]; then
  remote="$(git -C "$repo" remote get-url origin 2>/dev/null || true)"
  case "$remote" in
    https://*) source_url="${remote%.git}" ;;
    git@*:*) source_url="https://${remote#git@}"; source_url="${source_url/://}"; source_url="${source_url%.git}" ;;
    *) source_url=unknown ;;
  esac
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
name="azurelustre-csi-$version"
work="$(mktemp -d "$out/.work.XXXXXX")"
store=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
cleanup() {
  buildah "${store[@]}" rmi --all >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { echo "build.sh: $* ($(($(date +%s) - started)) s)"; }
step "root filesystem from Debian's packages"
rootfs_args=("$work/rootfs")
[ -n "$cache" ] && rootfs_args+=(--deb-cache "$cache")
"$repo/deploy/image/rootfs.sh" "${rootfs_args[@]}"

step "Node and the driver's bundle"
"$repo/deploy/image/stage-app.sh" "$work/stage"

step "image from deploy/Containerfile (Buildah, vfs, chroot isolation)"
mkdir "$work/context"
buildah "${store[@]}" build --quiet --isolation chroot --layers --identity-label=false \
  --timestamp "$SOURCE_DATE_EPOCH" --pull=never \
  --build-context rootfs="$work/rootfs" --build-context node="$work/stage/node" \
  --build-context app="$work/stage/app" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg SOURCE_URL="$source_url" \
  --file "$repo/deploy/Containerfile" --target image --tag "localhost/azurelustre-csi:$version" \
  "$work/context" >/dev/null
rm -f "$out/$name.oci.tar"
buildah "${store[@]}" push --quiet "localhost/azurelustre-csi:$version" \
  "oci-archive:$out/$name.oci.tar:azurelustre-csi:$version"

step "SBOM"
"$node" "$repo/deploy/image/sbom.ts" --archive "$out/$name.oci.tar" --version "$version" --rootfs "$work/rootfs" \
  --lock "$repo/package-lock.json" --maps "$work/stage/maps" --out "$out/$name.cdx.json" >/dev/null

"$node" "$repo/deploy/image/imageReport.ts" --archive "$out/$name.oci.tar" --sbom "$out/$name.cdx.json" \
  --seconds "$(($(date +%s) - started))" --out "$out/$name.build.json"
