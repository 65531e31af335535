import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * How to start this driver from any directory, for the lines it prints to try: the absolute path
 * of the clone's launcher (bin/azurelustre-csi.js, which finds the project's Node), whether this
 * process was started by it or as `node dist/azurelustre-csi.js` (npm start); else the command's
 * name, as an image puts it on PATH.
 */
export const launcherCommand = (script: string = process.argv[1] ?? ""): string => {
  if (script.endsWith(Path.join("bin", "azurelustre-csi.js"))) return script
  const beside = Path.resolve(Path.dirname(script), "..", "bin", "azurelustre-csi.js")
  return script !== "" && Fs.existsSync(beside) ? beside : "azurelustre-csi"
}
