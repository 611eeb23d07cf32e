import type { Money } from './dunning-templates';
import { perMonth, type Interval } from './period-months';

/** A recurring subscription item as the plays need it to state a plan's value. */
export interface RecurringItem {
  /** What one billing period of the item charges for its quantity (domain/price-amount.ts periodAmount); null when that is not a fixed amount. */
  amount: number | null;
  currency: string;
  interval: Interval;
  intervalCount: number;
}

/**
 * What a subscription is worth a month, as a customer-facing figure (each fixed
 * item's list amount for its quantity, normalised to a month by
 * domain/period-months.ts and rounded to the minor unit; items billed on use are not
 * part of it). Null when no item has a fixed amount or the items mix currencies.
 */
export function monthlyValue(items: RecurringItem[]): Money | null {
  const priced = items.filter((i): i is RecurringItem & { amount: number } => i.amount !== null);
  const currency = priced[0]?.currency;
  if (!currency || priced.some((i) => i.currency !== currency)) return null;
  const total = priced.reduce((sum, i) => sum + perMonth(i.amount, i.interval, i.intervalCount), 0);
  return { amount: Math.round(total), currency };
}

/** Whole months between two instants (for "with us for N months"). */
export function tenureMonths(since: Date, now: Date): number {
  let months = (now.getUTCFullYear() - since.getUTCFullYear()) * 12 + (now.getUTCMonth() - since.getUTCMonth());
  if (now.getUTCDate() < since.getUTCDate()) months--;
  return Math.max(0, months);
}
