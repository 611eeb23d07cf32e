/**
 * Billing periods in months: the one convention every monthly figure follows (MRR,
 * what a plan is worth a month, the plans' ranks), as docs/metrics.md documents it:
 * months and years exactly, a week 12/52 of a month and a day 12/365 (52 weeks and
 * 365 days a year).
 */

/** A recurring price's billing interval. */
export type Interval = 'day' | 'week' | 'month' | 'year';

/** Whether a price's recurring interval is one a monthly figure can be stated in. */
export const isInterval = (v: unknown): v is Interval => v === 'day' || v === 'week' || v === 'month' || v === 'year';

const MONTHS: Record<Interval, { num: number; den: number }> = { day: { num: 12, den: 365 }, week: { num: 12, den: 52 }, month: { num: 1, den: 1 }, year: { num: 12, den: 1 } };

/** The months `count` periods of `interval` last, as a fraction num/den: an amount divides by it exactly. */
export function intervalMonths(interval: Interval, count: number): { num: number; den: number } {
  const { num, den } = MONTHS[interval];
  return { num: num * count, den };
}

/** What `amount` billed every `count` periods of `interval` comes to a month, unrounded. */
export function perMonth(amount: number, interval: Interval, count: number): number {
  const { num, den } = intervalMonths(interval, count);
  return (amount * den) / num;
}
