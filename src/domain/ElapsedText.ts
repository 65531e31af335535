/**
 * An elapsed time as an Event says it: seconds under two minutes, whole minutes beyond, so a
 * 15-minute Azure creation reads "(9 minutes so far)" and a 30-second simulated one "(20 s so far)".
 */
export const elapsedText = (millis: number): string =>
  millis < 120_000 ? `${Math.round(millis / 1000)} s` : `${Math.round(millis / 60_000)} minutes`
