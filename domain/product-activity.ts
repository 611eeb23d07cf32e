/**
 * A customer's activity as the product's signals tell it (domain/product-signals.ts),
 * read for the plays and the customer's page. No zod here: the web pages import it.
 */

/** The window the plays and the customer's page look at, and the one before it for the trend. */
export const ACTIVITY_WINDOW_DAYS = 30;

/** A customer's recent signals, as the plays and the customer's page read them. */
export interface CustomerActivity {
  /** The length of each window, in days: `last` ends now, `previous` is the one before. */
  windowDays: number;
  /** Each metric used in either window, the most used now first. */
  usage: { metric: string; label: string; last: number; previous: number }[];
  logins: { last: number; previous: number; lastAt: string | null };
  /** Tickets opened in the last window, open now (the latest word on them is "opened", said in the last 90 days), and of those the high or urgent ones. */
  tickets: { openedLast: number; open: number; openUrgent: number; lastAt: string | null };
  /** The time of the latest signal of any kind; null when the product never sent one. */
  lastSignalAt: string | null;
}

/** `reports_generated` → "reports generated": metrics are named as what a customer did. */
export function metricLabel(metric: string): string {
  return metric.replace(/_+/g, ' ').trim();
}

const counter = new Intl.NumberFormat('en-US');
/** A count as the emails and pages write it: 1,240. */
export const formatCount = (n: number) => counter.format(n);

/**
 * The line an email cites for the customer's usage, or null when there is nothing
 * worth citing: the most used metrics of the window (two at most), else the logins.
 * A quiet month is not cited: an email about a failed payment is no place to tell a
 * customer they stopped using the product.
 */
export function usageSummary(activity: CustomerActivity): string | null {
  const used = activity.usage.filter((u) => u.last > 0).slice(0, 2);
  const period = `in the last ${activity.windowDays} days`;
  if (used.length) return `${used.map((u) => `${formatCount(u.last)} ${u.label}`).join(' and ')} ${period}`;
  const { last } = activity.logins;
  if (last > 0) return `${formatCount(last)} ${last === 1 ? 'login' : 'logins'} ${period}`;
  return null;
}

/**
 * How a count moved from the window before to this one, for a person to read:
 * "+12%", "−40%", "new" (nothing before), "stopped" (nothing now), "" (nothing in either).
 */
export function trendText(last: number, previous: number): string {
  if (previous === 0) return last === 0 ? '' : 'new';
  if (last === 0) return 'stopped';
  const pct = Math.round(((last - previous) / previous) * 100);
  return pct === 0 ? '±0%' : pct > 0 ? `+${pct}%` : `−${-pct}%`;
}
