#!/usr/bin/env node
// Node caches the compiled bundle on disk (in the OS temp folder), so later starts skip parsing it.
import { enableCompileCache } from "node:module"

enableCompileCache()
await import("../dist/azurelustre-csi.js")
