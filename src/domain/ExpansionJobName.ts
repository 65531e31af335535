/**
 * The name of the expansion job that grows a cluster to a capacity: `expand-to-<tib>tib` for the
 * first attempt, `expand-to-<tib>tib-<n>` for the n-th. The name is deterministic, so a retried
 * or concurrent call (or a restarted controller) finds the job a previous call started and joins
 * it; only an attempt that ended Failed makes the next call start attempt n + 1.
 */
export const expansionJobName = (tib: number, attempt: number): string =>
  attempt <= 1 ? `expand-to-${tib}tib` : `expand-to-${tib}tib-${attempt}`

/** Which attempt at growing to `tib` a job name is; undefined for a job of another capacity or not the driver's. */
export const expansionAttemptOf = (tib: number, jobName: string): number | undefined => {
  const match = /^expand-to-(\d+)tib(?:-(\d+))?$/i.exec(jobName)
  if (match === null || Number(match[1]) !== tib) return undefined
  if (match[2] === undefined) return 1
  const attempt = Number(match[2])
  return attempt >= 2 ? attempt : undefined
}
