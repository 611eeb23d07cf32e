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

/** Words ending in s that are not plurals, or are the same for one (a metric's label may hold any of them). */
const NOT_PLURAL = new Set(['sms', 'mms', 'news', 'series', 'species', 'analytics', 'sales', 'ios', 'macos', 'http', 'https', 'aws', 'gps', 'dns', 'cms', 'crm', 'status', 'canvas', 'bonus', 'campus', 'plus', 'this', 'its', 'always', 'less', 'gas', 'atlas', 'alias', 'basis', 'analysis', 'axis', 'chaos', 'lens', 'kudos']);
/** Plurals in -ies whose one is -ie, not -y. */
const IE_PLURALS = new Set(['movies', 'cookies', 'zombies', 'rookies', 'calories', 'selfies', 'hoodies', 'smoothies', 'brownies', 'ties', 'pies', 'lies']);

/**
 * A plural noun made singular ("queries" → "query", "searches" → "search", "calls" →
 * "call"), or null for a word that is not one, or that this cannot tell ("data",
 * "address", "sms", "analytics"): null leaves the label as it was.
 */
function singular(word: string): string | null {
  if (word.length < 3 || NOT_PLURAL.has(word) || !word.endsWith('s') || /(ss|us|is)$/.test(word)) return null;
  if (word.endsWith('ies')) return IE_PLURALS.has(word) ? word.slice(0, -1) : `${word.slice(0, -3)}y`;
  if (/(ch|sh|x|z|ss)es$/.test(word)) return word.slice(0, -2);
  return word.slice(0, -1);
}

/**
 * A count of a metric as an email writes it: "1,240 reports generated", and for one
 * "1 report generated", the label's first plural word made singular ("1 api call",
 * "1 address change", "1 search run"); a label without one ("data exported", "sms
 * sent") stays: "1 sms sent" reads better than a wrong singular.
 */
export function countOf(n: number, label: string): string {
  if (n !== 1) return `${formatCount(n)} ${label}`;
  const words = label.split(' ');
  const at = words.findIndex((w) => singular(w) !== null);
  if (at >= 0) words[at] = singular(words[at]!)!;
  return `1 ${words.join(' ')}`;
}

/**
 * The line an email cites for the customer's usage, or null when there is nothing
 * worth citing: the most used metrics of the window (two at most), else the logins.
 * A quiet month is not cited: an email about a failed payment is no place to tell a
 * customer they stopped using the product.
 */
export function usageSummary(activity: CustomerActivity): string | null {
  const used = activity.usage.filter((u) => u.last > 0).slice(0, 2);
  const period = `in the last ${activity.windowDays} days`;
  if (used.length) return `${used.map((u) => countOf(u.last, u.label)).join(' and ')} ${period}`;
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

/** From this share of a usage limit on, a customer is near it (where the expansion play pitches the next plan up). */
export const NEAR_LIMIT_SHARE = 0.8;

/** A customer's use of one of their plan's usage limits: the last window's use against a month's allowance. */
export interface LimitUse {
  metric: string;
  label: string;
  used: number;
  included: number;
  /** used / included: 0.82 for 82%. */
  share: number;
  near: boolean;
  /** Over the allowance already (used > included), as the expansion play words it. */
  past: boolean;
}

/**
 * How close the customer is to each usage limit of their plan (product mapping:
 * metric → a month's allowance) the product reports use of, the closest first. The
 * last window (30 days) stands for a month. Unlimited metrics are left out, and so
 * are limits the product sends no use of (seats are the plan's quantity, not a signal).
 */
export function limitsUse(limits: Record<string, number | null>, usage: CustomerActivity['usage']): LimitUse[] {
  return usage
    .flatMap((u) => {
      const included = Object.hasOwn(limits, u.metric) ? limits[u.metric] : undefined;
      if (included === undefined || included === null || included <= 0) return [];
      const share = u.last / included;
      return [{ metric: u.metric, label: u.label, used: u.last, included, share, near: share >= NEAR_LIMIT_SHARE, past: u.last > included }];
    })
    .sort((a, b) => b.share - a.share);
}
