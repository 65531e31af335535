import { parseLoadedModules } from "../lnet/procModules.js"

/**
 * /proc/modules with each module's use count (its third field): a Lustre client module in use
 * (`lustre` counts one per mounted filesystem) cannot be unloaded, and `lustre_rmmod` fails.
 *
 *   lustre 1052672 2 - Live 0x0000000000000000 (OE)
 */
export interface LoadedModules {
  readonly names: ReadonlySet<string>
  /** Use count by module name; a module whose count cannot be read counts as in use. */
  readonly useCounts: ReadonlyMap<string, number>
}

export const parseModuleUse = (text: string): LoadedModules => {
  const names = parseLoadedModules(text)
  const useCounts = new Map<string, number>()
  for (const line of text.split("\n")) {
    const [name, , count] = line.trim().split(/\s+/)
    if (name !== undefined && names.has(name)) useCounts.set(name, /^\d+$/.test(count ?? "") ? Number(count) : 1)
  }
  return { names, useCounts }
}

/** Lustre is mounted on the node: the `lustre` module is in use. */
export const lustreInUse = (modules: LoadedModules): boolean => (modules.useCounts.get("lustre") ?? 0) > 0
