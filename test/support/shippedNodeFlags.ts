import * as Path from "node:path"
import { launcherNodeFlags } from "../../bench/launcherFlags.js"

/** The V8 flags the driver ships with: those bin/azurelustre-csi.js's shell line starts Node with. */
export const shippedNodeFlags = (): ReadonlyArray<string> =>
  launcherNodeFlags(Path.resolve(import.meta.dirname, "../../bin/azurelustre-csi.js"))
