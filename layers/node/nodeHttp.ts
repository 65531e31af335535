/**
 * node:http, taken from Node's own module table instead of `import`: an ES import of node:http
 * reads every export of Node's module, and its WebSocket getter loads fetch's undici, which the
 * driver never uses: 14 MB more memory and ~30 ms more at every start (bench/README.md, footprint).
 */
export const Http = process.getBuiltinModule("node:http")
