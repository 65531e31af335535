import * as Fs from "node:fs"

/** The V8 flags a launcher like bin/azurelustre-csi.js starts Node with: its shell line's `exec "$node" ...`. */
export const launcherNodeFlags = (launcher: string): ReadonlyArray<string> => {
  const exec = /^":" \/\/; exec "\$node" (.+) "\$self" "\$@"$/m.exec(Fs.readFileSync(launcher, "utf8"))
  if (exec?.[1] === undefined) throw new Error(`${launcher} has no line that execs Node with its flags`)
  return exec[1].split(" ")
}
