/** Calendar arithmetic on Unix seconds (UTC), the way Stripe moves billing periods. */

export const DAY = 86_400;
export const HOUR = 3_600;

export type IntervalUnit = 'day' | 'week' | 'month' | 'year';

/**
 * Adds calendar months keeping the anchor's day of month, clamped to the month's
 * length (Jan 31 + 1 month = Feb 28/29, then Mar 31 again), as Stripe does.
 */
export function addMonths(ts: number, months: number, anchorDay?: number): number {
  const d = new Date(ts * 1000);
  const day = anchorDay ?? d.getUTCDate();
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Math.floor(Date.UTC(y, m, Math.min(day, lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000);
}

export function addInterval(ts: number, interval: IntervalUnit, count: number, anchorDay?: number): number {
  switch (interval) {
    case 'day':
      return ts + count * DAY;
    case 'week':
      return ts + count * 7 * DAY;
    case 'month':
      return addMonths(ts, count, anchorDay);
    case 'year':
      return addMonths(ts, 12 * count, anchorDay);
  }
}

export function dayOfMonth(ts: number): number {
  return new Date(ts * 1000).getUTCDate();
}
