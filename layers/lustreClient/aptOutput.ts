/**
 * What apt-get says when it fails, sorted into the failures the node setup tells apart. apt-get
 * prints its errors on stderr (`E:` lines; dpkg's own lines in between) and its fetch progress,
 * `Err:` lines included, on stdout. Samples captured from apt 2.6 in a chroot are in
 * test/fixtures/lustreClient/.
 */
export type AptProblem =
  /** `E: Version '5.15.0-1080-azure' for 'amlfs-lustre-client-…' was not found`: the client is not built for this kernel. */
  | { readonly _tag: "NoVersion"; readonly detail: string }
  /** `E: Unable to locate package …`: no such client version in the repository (for this release). */
  | { readonly _tag: "NoPackage"; readonly detail: string }
  /** A fetch failed: name resolution, connection, HTTP error. */
  | { readonly _tag: "Unreachable"; readonly detail: string }
  /**
   * `E: dpkg was interrupted, you must manually run 'dpkg --configure -a'`: an apt-get or dpkg was
   * cut before its end (an install past its time limit, a node rebooted mid-upgrade); apt refuses
   * to run until that work is finished. The node setup says the same of an install it cut.
   */
  | { readonly _tag: "Interrupted"; readonly detail: string }
  /** Another apt or dpkg holds the lock (unattended-upgrades on a new node, say). */
  | { readonly _tag: "Busy"; readonly detail: string }
  /** Anything else, dpkg's own failures (a file another package owns) included. */
  | { readonly _tag: "Other"; readonly detail: string }

const UNREACHABLE = /Failed to fetch|Could not resolve|Temporary failure resolving|Could not connect|Unable to connect|Connection failed|Connection timed out|Network is unreachable/
const BUSY = /Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock the administration directory|is held by process/
/** apt's complaint about a missing /dev/pts in a chroot, which says nothing about the failure. */
const NOISE = /^E: Can not write log/

const lines = (text: string) => text.split("\n").map((line) => line.trimEnd()).filter((line) => line.trim() !== "")

/** The lines worth showing: apt's errors and dpkg's reasons, at most five. */
const detailOf = (output: string): string => {
  const all = lines(output)
  const telling = all.filter((line) =>
    (/^(E|W):/.test(line) && !NOISE.test(line)) || /^dpkg: /.test(line) || /^ trying to overwrite|^ .*(depends|conflicts|breaks) /.test(line) ||
    /^Err:/.test(line) || /^ {2}\S/.test(line)
  )
  return (telling.length > 0 ? telling : all.slice(-3)).slice(0, 5).map((line) => line.trim()).join("; ")
}

/** Which failure a failed apt-get run was, from its stdout and stderr together. */
export const classifyAptFailure = (output: string): AptProblem => {
  const detail = detailOf(output)
  const all = lines(output)
  const find = (pattern: RegExp) => all.find((line) => pattern.test(line))?.trim()
  const noVersion = find(/^E: Version '.*' for '.*' was not found/)
  if (noVersion !== undefined) return { _tag: "NoVersion", detail: noVersion }
  const noPackage = find(/^E: Unable to locate package /)
  if (noPackage !== undefined) return { _tag: "NoPackage", detail: noPackage }
  const interrupted = find(/^E: dpkg was interrupted/)
  if (interrupted !== undefined) return { _tag: "Interrupted", detail: interrupted }
  if (all.some((line) => BUSY.test(line))) return { _tag: "Busy", detail }
  if (all.some((line) => UNREACHABLE.test(line))) return { _tag: "Unreachable", detail }
  return { _tag: "Other", detail }
}

/**
 * What `apt-get update` said about one repository that it could not fetch (it exits 0 all the
 * same: `W: Failed to fetch <url>…`, `Err:N <url> …` with the reason on the next line); empty
 * when the repository was read. `url` is the repository's (`https://…/amlfs-jammy/`).
 */
export const repositoryFetchFailures = (output: string, url: string): ReadonlyArray<string> => {
  const base = url.replace(/\/+$/, "")
  const all = lines(output)
  return all.flatMap((line, at) => {
    if (/^(W|E): Failed to fetch /.test(line) && line.includes(base)) return [line.trim()]
    if (/^Err:\S* /.test(line) && line.includes(base)) {
      const reason = all[at + 1]
      return [reason !== undefined && /^\s/.test(reason) ? `${line.trim()}: ${reason.trim()}` : line.trim()]
    }
    return []
  })
}
