#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4: a CSI driver allocates little per call, and a small young generation
// halves the memory the node plugin holds on every node under load, at no CPU cost (bench/README.md).
import { enableCompileCache } from "node:module"

// Node caches the compiled bundle on disk (in the OS temp folder), so later starts skip parsing it.
enableCompileCache()
await import("../dist/azurelustre-csi.js")
