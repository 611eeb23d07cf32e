/** A span of seconds in words: seconds below two minutes, then minutes, then hours. */
export function secondsInWords(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** An hour in milliseconds. */
export const HOUR_MS = 3_600_000;
/** A day in milliseconds: the plays' windows and cooldowns are counted in days of 24 hours (UTC). */
export const DAY_MS = 24 * HOUR_MS;
