import { defineConfig } from "rolldown"

// The driver ships as one ES module and the chunks each command loads: loading Effect's and
// grpc-js's hundreds of small files through Node's resolver costs ~0.5 s at every start.
// charset "ascii" and minify without compress or mangle (whitespace and comments only, names
// kept): V8 holds every loaded script's source, as two bytes per character when it has one
// non-ASCII character, so the node plugin's 2.6 MB of sources became 1.6 MB of one-byte text:
// 9 MB less RSS on every node and ~60 ms less CPU at start (bench/README.md, footprint).
export default defineConfig({
  input: { "azurelustre-csi": "src/main.ts" },
  platform: "node",
  output: {
    dir: "dist",
    format: "esm",
    sourcemap: true,
    entryFileNames: "[name].js",
    chunkFileNames: "chunks/[name]-[hash].js",
    charset: "ascii",
    minify: { compress: false, mangle: false }
  }
})
