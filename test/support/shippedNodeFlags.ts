import * as Fs from "node:fs"
import * as Path from "node:path"

const LAUNCHER = Path.resolve(import.meta.dirname, "../../bin/azurelustre-csi.js")

/** The V8 flags the driver ships with: those bin/azurelustre-csi.js's shell line starts Node with. */
export const shippedNodeFlags = (): ReadonlyArray<string> => {
  const exec = /^":" \/\/; exec "\$node" (.+) "\$self" "\$@"$/m.exec(Fs.readFileSync(LAUNCHER, "utf8"))
  if (exec?.[1] === undefined) throw new Error(`${LAUNCHER} has no line that execs Node with its flags`)
  return exec[1].split(" ")
}
