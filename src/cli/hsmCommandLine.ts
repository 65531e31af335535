import * as Os from "node:os"
import * as Path from "node:path"
import * as Result from "effect/Result"
import type { BlobContainer } from "../../layers/hsm/simulation/HsmPaths.js"
import type { LustreFilesystem } from "../../layers/lustre/LustreShell.js"

/**
 * `azurelustre-csi sim-hsm`: the simulated blob link by hand, on a sim's state directory (the sim
 * need not run; beside a running sim it is safe: every state change is an atomic rename, and
 * the sim's read gate guards the files this command releases or imports within a second).
 */
export type HsmCommand =
  | { readonly _tag: "Link"; readonly stateDir: string; readonly filesystem: LustreFilesystem; readonly container: BlobContainer }
  | { readonly _tag: "Import"; readonly stateDir: string; readonly filesystem: LustreFilesystem; readonly prefixes: ReadonlyArray<string> }
  | { readonly _tag: "Archive" | "Release" | "Restore" | "State"; readonly stateDir: string; readonly paths: ReadonlyArray<string> }

const SIM_HOME = Path.join(Os.tmpdir(), "azurelustre-csi-sim")

export const HSM_USAGE = [
  "usage: azurelustre-csi sim-hsm <operation> [flags]",
  "",
  "The simulation's blob integration (Lustre HSM + a blob container), as AMLFS has it:",
  "  link     --filesystem <mgs>/<fsname> --container <account>/<container>",
  "           link the filesystem to a container: the folder <state-dir>/blob/<account>/<container>",
  "  import   --filesystem <mgs>/<fsname> [--prefix <blob name prefix>]...  (default: every blob)",
  "           make released stubs of the blobs: names, sizes, owners, modes, mtimes; no data",
  "  archive  --path <file or directory>...  copy new and changed files to their blobs",
  "  release  --path <file>...               drop the data of archived, unchanged files",
  "  restore  --path <file>...               bring released files' data back from their blobs",
  "  state    --path <file>...               print each file's HSM state, as `lfs hsm_state` does",
  "",
  `  --state-dir      the sim's state directory (default ${SIM_HOME})`,
  "",
  "A read of a released file in a running sim waits for its restore (as root, with fanotify).",
  "Faults, files in <state-dir>/faults/ (their text, if any, limits them to paths containing it):",
  "hsm-restore-fail, hsm-restore-hang, hsm-archive-lost.",
  "",
  "example: azurelustre-csi sim-hsm link --filesystem 10.0.0.4/lustrefs --container account1/data",
  "         azurelustre-csi sim-hsm import --filesystem 10.0.0.4/lustrefs --prefix data/"
].join("\n")

const operations = {
  link: { tag: "Link", flags: ["filesystem", "container"] },
  import: { tag: "Import", flags: ["filesystem", "prefix"] },
  archive: { tag: "Archive", flags: ["path"] },
  release: { tag: "Release", flags: ["path"] },
  restore: { tag: "Restore", flags: ["path"] },
  state: { tag: "State", flags: ["path"] }
} as const

/** `10.0.0.4/lustrefs` or `10.0.0.4@tcp:/lustrefs`. */
const filesystemOf = (value: string): Result.Result<LustreFilesystem, string> => {
  const match = /^([^/@\s]+)(?:@tcp)?:?\/([A-Za-z0-9_-]{1,8})$/.exec(value)
  return match?.[1] !== undefined && match[2] !== undefined
    ? Result.succeed({ mgsAddress: match[1], fsName: match[2] })
    : Result.fail(`invalid --filesystem ${JSON.stringify(value)}: expected <mgs>/<fsname>, e.g. 10.0.0.4/lustrefs`)
}

const containerOf = (value: string): Result.Result<BlobContainer, string> => {
  const match = /^([a-z0-9]{3,24})\/([a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?)$/.exec(value)
  return match?.[1] !== undefined && match[2] !== undefined
    ? Result.succeed({ storageAccount: match[1], container: match[2] })
    : Result.fail(`invalid --container ${JSON.stringify(value)}: expected <storage account>/<container>, e.g. account1/data`)
}

/** The command a `sim-hsm` command line asks for (the words after `sim-hsm`), or its help. */
export const parseHsmCommand = (
  argv: ReadonlyArray<string>
): Result.Result<HsmCommand | { readonly _tag: "Help"; readonly text: string }, string> =>
  Result.gen(function*() {
    const [name, ...rest] = argv
    if (name === undefined || argv.some((arg) => arg === "--help" || arg === "-h")) return { _tag: "Help", text: HSM_USAGE } as const
    const operation = Object.hasOwn(operations, name) ? operations[name as keyof typeof operations] : undefined
    if (operation === undefined) {
      return yield* Result.fail(`unknown sim-hsm operation ${JSON.stringify(name)}; the operations are ${Object.keys(operations).join(", ")}`)
    }
    const known: ReadonlyArray<string> = ["state-dir", ...operation.flags]
    const values = new Map<string, Array<string>>()
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i] ?? ""
      if (!arg.startsWith("--")) return yield* Result.fail(`unexpected argument ${JSON.stringify(arg)} for \`sim-hsm ${name}\``)
      const at = arg.indexOf("=")
      const flag = at < 0 ? arg.slice(2) : arg.slice(2, at)
      if (!known.includes(flag)) return yield* Result.fail(`unknown flag --${flag} for \`sim-hsm ${name}\`; see azurelustre-csi sim-hsm --help`)
      const value = at < 0 ? rest[++i] : arg.slice(at + 1)
      if (value === undefined) return yield* Result.fail(`flag --${flag} needs a value`)
      values.set(flag, [...(values.get(flag) ?? []), value])
    }
    const one = (flag: string) => {
      const given = values.get(flag) ?? []
      return given.length === 1 && given[0] !== undefined
        ? Result.succeed(given[0])
        : Result.fail(given.length === 0 ? `\`sim-hsm ${name}\` needs --${flag}` : `--${flag} is given more than once`)
    }
    const stateDir = Path.resolve(values.get("state-dir")?.at(-1) ?? SIM_HOME)
    switch (operation.tag) {
      case "Link":
        return {
          _tag: "Link",
          stateDir,
          filesystem: yield* Result.flatMap(one("filesystem"), filesystemOf),
          container: yield* Result.flatMap(one("container"), containerOf)
        } as const
      case "Import":
        return {
          _tag: "Import",
          stateDir,
          filesystem: yield* Result.flatMap(one("filesystem"), filesystemOf),
          prefixes: values.get("prefix") ?? ["/"]
        } as const
      default: {
        const paths = values.get("path") ?? []
        if (paths.length === 0) return yield* Result.fail(`\`sim-hsm ${name}\` needs --path (one or more)`)
        return { _tag: operation.tag, stateDir, paths: paths.map((path) => Path.resolve(path)) } as const
      }
    }
  })
