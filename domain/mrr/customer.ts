import { z } from 'zod';
import type { Converter } from './currency';
import { MissingExchangeRateError } from './currency';
import type { CustomerHistory, MirrorInvoiceLine, MirrorPrice, MirrorSubscription } from './mirror';
import type { AnalyticsSettings } from './settings';
import { DAY_MS } from '../durations';
import { periodAmount, priceTerms } from '../price-amount';
import { intervalMonths, isInterval } from '../period-months';

export const MOVEMENT_KINDS = ['new', 'expansion', 'contraction', 'churn', 'reactivation'] as const;
export type MovementKind = (typeof MOVEMENT_KINDS)[number];

/** One change of a customer's MRR, in reporting minor units (negative for contraction and churn). */
export interface Movement {
  customerId: string;
  at: Date;
  kind: MovementKind;
  amount: number;
  mrrBefore: number;
  mrrAfter: number;
  /** The same change in each original currency involved, minor units. */
  original: Record<string, number>;
}

/** A stretch of time during which one subscription item earned a constant MRR. */
export interface Segment {
  subscriptionId: string;
  priceId: string;
  invoiceId: string;
  start: number;
  /** Exclusive; Infinity while the subscription runs on. */
  end: number;
  currency: string;
  /** Monthly amount in the original currency, minor units. */
  mrrOriginal: number;
  /** The same in the reporting currency at the rate of the segment's first day. */
  mrr: number;
}

export interface CustomerMrr {
  customerId: string;
  segments: Segment[];
  movements: Movement[];
  /** Why some revenue could not be counted (e.g. a currency without a rate). */
  warnings: string[];
}

const AVERAGE_MONTH_MS = (365.25 / 12) * DAY_MS;
/** Subscriptions whose first payment never went through never counted. */
const NEVER_STARTED = new Set(['incomplete', 'incomplete_expired']);
/** States in which an unended subscription keeps running past its last invoice (and Stripe keeps billing it). */
export const RUNNING_SUBSCRIPTION_STATUSES: ReadonlySet<string> = new Set(['active', 'past_due', 'trialing', 'unpaid']);

const discountAmounts = z.array(z.looseObject({ amount: z.number() }));

/** Sum of a line's discount_amounts (jsonb); anything unreadable counts as no discount. */
export function lineDiscount(raw: unknown): number {
  const parsed = discountAmounts.safeParse(raw);
  return parsed.success ? parsed.data.reduce((s, d) => s + d.amount, 0) : 0;
}

/**
 * How many months one billing period of the price lasts, as a fraction num/den
 * (domain/period-months.ts).
 */
function periodMonths(price: MirrorPrice | undefined, line: MirrorInvoiceLine): { num: number; den: number } {
  const interval = price?.recurring_interval;
  if (isInterval(interval)) return intervalMonths(interval, price?.recurring_interval_count ?? 1);
  // No price on file: fall back to the length of the line's service period.
  const length = (line.period_end?.getTime() ?? 0) - (line.period_start?.getTime() ?? 0);
  return { num: Math.max(1, Math.round(length / AVERAGE_MONTH_MS)), den: 1 };
}

function periodMs(months: { num: number; den: number }): number {
  return (months.num / months.den) * AVERAGE_MONTH_MS;
}

/**
 * The amount (net of discounts) a line stands for over one full billing period.
 * A proration line covers part of a period: it is priced at what a full period of its
 * price charges for its quantity (domain/price-amount.ts periodAmount: per unit, in
 * packages, or by volume or graduated tiers) where the price's terms tell that, else
 * scaled up by the share of the period it covers (which an average month makes only
 * roughly right).
 */
function fullPeriodNet(line: MirrorInvoiceLine, price: MirrorPrice | undefined, months: { num: number; den: number }): number {
  const discount = lineDiscount(line.discount_amounts);
  if (!line.proration) return Math.max(0, line.amount - discount);
  if (line.amount <= 0) return 0;
  const full = price && line.quantity !== null ? periodAmount(priceTerms(price), line.quantity) : null;
  const covered = (line.period_end?.getTime() ?? 0) - (line.period_start?.getTime() ?? 0);
  const gross = full ?? (covered > 0 ? Math.round((line.amount * periodMs(months)) / covered) : line.amount);
  return Math.max(0, gross - fullPeriodDiscount(discount, line.amount, gross));
}

/**
 * The discount a prorated line's coupon takes off the full-period price. A percent
 * coupon took round(amount x p) off the prorated amount: when a whole or hundredth
 * percent explains that rounding, it is the coupon's and is applied to the full
 * price exactly; otherwise the discount is scaled by the proration factor.
 */
export function fullPeriodDiscount(discount: number, amount: number, gross: number): number {
  if (discount <= 0 || amount <= 0) return 0;
  const low = (discount - 0.5) / amount;
  const high = (discount + 0.5) / amount;
  for (const scale of [100, 10_000]) {
    const k = Math.ceil(low * scale - 1e-9);
    if (k / scale <= high + 1e-12) return Math.round((gross * k) / scale);
  }
  return Math.round((discount * gross) / amount);
}

interface Rate {
  key: string;
  subscriptionId: string;
  priceId: string;
  invoiceId: string;
  invoiceCreated: number;
  start: number;
  lineEnd: number;
  /** Unpaid invoices count only until their grace period ends. */
  countUntil: number;
  paid: boolean;
  currency: string;
  mrrOriginal: number;
}

/** When a subscription stops counting, by the workspace's churn timing. */
function subscriptionEnd(sub: MirrorSubscription, settings: AnalyticsSettings): number {
  const t = (d: Date | null) => (d ? d.getTime() : Infinity);
  const scheduledEnd = sub.cancel_at ? t(sub.cancel_at) : sub.cancel_at_period_end ? t(sub.current_period_end) : Infinity;
  const endsInStripe = Math.min(t(sub.ended_at), scheduledEnd);
  switch (settings.churnTiming) {
    case 'subscription_end':
      return endsInStripe;
    case 'service_period_end':
      // An ended subscription is not extended past its invoices, so its last paid
      // period ends it; only a scheduled end of a running one needs a cap.
      return scheduledEnd;
    case 'cancellation': {
      const cancelling = sub.status === 'canceled' || sub.cancel_at_period_end || sub.cancel_at !== null || sub.ended_at !== null;
      return cancelling ? Math.min(t(sub.canceled_at), endsInStripe) : endsInStripe;
    }
  }
}

/**
 * A customer's MRR over time and its movements, from the mirror's invoices (the
 * ChartMogul way: what was invoiced for which service period) and subscriptions.
 */
export function computeCustomerMrr(history: CustomerHistory, settings: AnalyticsSettings, converter: Converter): CustomerMrr {
  const customerId = history.customer.id;
  const warnings: string[] = [];
  const prices = new Map(history.prices.map((p) => [p.id, p]));
  const subs = new Map(history.subscriptions.map((s) => [s.id, s]));
  const invoices = new Map(history.invoices.map((i) => [i.id, i]));
  const currentItems = new Set(history.items.map((i) => `${i.subscription_id}|${i.price_id}`));

  // Where each subscription's first paid service period starts: an unpaid invoice
  // counts only after it (an open first invoice makes no paying customer yet).
  const firstPaid = new Map<string, number>();
  for (const line of history.lines) {
    const invoice = invoices.get(line.invoice_id);
    const subscriptionId = line.subscription_id ?? invoice?.subscription_id ?? null;
    if (invoice?.status !== 'paid' || !subscriptionId || !line.period_start || line.amount <= 0) continue;
    const start = line.period_start.getTime();
    firstPaid.set(subscriptionId, Math.min(firstPaid.get(subscriptionId) ?? Infinity, start));
  }

  const rates = new Map<string, Rate[]>();
  const endMarkers = new Map<string, number[]>();
  for (const line of history.lines) {
    const invoice = invoices.get(line.invoice_id);
    // Older API versions leave the line's subscription empty; the invoice names it.
    const subscriptionId = line.subscription_id ?? invoice?.subscription_id ?? null;
    if (!invoice || line.type !== 'subscription' || !subscriptionId || !line.price_id) continue;
    if (!line.period_start || !line.period_end) continue;
    const sub = subs.get(subscriptionId);
    if (!sub || NEVER_STARTED.has(sub.status)) continue;
    const price = prices.get(line.price_id);
    if (price?.type === 'one_time') continue;
    if (price?.recurring_usage_type === 'metered' && !settings.includeMetered) continue;
    const start = line.period_start.getTime();
    const key = `${subscriptionId}|${line.price_id}`;
    if (invoice.status !== 'paid' && invoice.status !== 'open') continue;
    if (line.proration && line.amount < 0) {
      // "Unused time on ..." credits: the item stopped at the start of the credited period.
      endMarkers.set(key, [...(endMarkers.get(key) ?? []), start]);
      continue;
    }
    const paid = invoice.status === 'paid';
    if (!paid && !(start > (firstPaid.get(subscriptionId) ?? Infinity))) continue;
    const countUntil = paid || settings.pastDueGraceDays === null ? Infinity : start + settings.pastDueGraceDays * DAY_MS;
    const inTrial = sub.trial_end !== null && line.period_end.getTime() <= sub.trial_end.getTime();
    const months = periodMonths(price, line);
    const net = inTrial ? 0 : fullPeriodNet(line, price, months);
    const rate: Rate = {
      key,
      subscriptionId,
      priceId: line.price_id,
      invoiceId: invoice.id,
      invoiceCreated: invoice.created?.getTime() ?? 0,
      start,
      lineEnd: line.period_end.getTime(),
      countUntil,
      paid,
      currency: line.currency.toLowerCase(),
      mrrOriginal: Math.round((net * months.den) / months.num),
    };
    const list = rates.get(key) ?? [];
    // Two lines of one invoice for the same item and start add up; a later invoice
    // (by creation, then id, so row order never matters) for the same item and start
    // replaces an earlier one.
    const same = list.find((r) => r.start === start);
    const later = (a: Rate, b: Rate) => a.invoiceCreated > b.invoiceCreated || (a.invoiceCreated === b.invoiceCreated && a.invoiceId > b.invoiceId);
    if (same && same.invoiceId === rate.invoiceId) same.mrrOriginal += rate.mrrOriginal;
    else if (same && later(rate, same)) list.splice(list.indexOf(same), 1, rate);
    else if (!same) list.push(rate);
    rates.set(key, list);
  }

  const segments: Segment[] = [];
  for (const [key, list] of rates) {
    list.sort((a, b) => a.start - b.start);
    const markers = endMarkers.get(key) ?? [];
    list.forEach((rate, i) => {
      const sub = subs.get(rate.subscriptionId)!;
      const next = list[i + 1];
      let end = rate.lineEnd;
      // The latest paid period of an item still on a running subscription runs on
      // until something ends it, so a renewal not yet invoiced (Stripe finalises
      // renewal invoices about an hour after the period starts) is not churn.
      const latest = !next && rate.paid && currentItems.has(key) && RUNNING_SUBSCRIPTION_STATUSES.has(sub.status) && sub.ended_at === null;
      if (latest && rate.lineEnd >= (sub.current_period_start?.getTime() ?? rate.lineEnd)) end = Infinity;
      if (next) end = Math.min(end, next.start);
      for (const m of markers) if (m > rate.start) end = Math.min(end, m);
      end = Math.min(end, subscriptionEnd(sub, settings), rate.countUntil);
      if (end <= rate.start || rate.mrrOriginal === 0) return;
      let mrr: number;
      try {
        mrr = converter.convert(rate.mrrOriginal, rate.currency, rate.start);
      } catch (err) {
        if (!(err instanceof MissingExchangeRateError)) throw err;
        warnings.push(`${err.message}: invoice ${rate.invoiceId} not counted`);
        return;
      }
      segments.push({
        subscriptionId: rate.subscriptionId,
        priceId: rate.priceId,
        invoiceId: rate.invoiceId,
        start: rate.start,
        end,
        currency: rate.currency,
        mrrOriginal: rate.mrrOriginal,
        mrr,
      });
    });
  }
  segments.sort((a, b) => a.start - b.start || a.subscriptionId.localeCompare(b.subscriptionId) || a.priceId.localeCompare(b.priceId));
  return { customerId, segments, movements: movementsFromSegments(customerId, segments, settings.groupingWindowMinutes * 60_000), warnings };
}

/**
 * Turns segments into movements: the MRR steps at each segment edge, steps closer
 * than `windowMs` to the first of a group are one movement (an upgrade and a
 * downgrade within the hour net out), and a group that nets to zero is no movement.
 */
export function movementsFromSegments(customerId: string, segments: readonly Segment[], windowMs: number): Movement[] {
  const steps = new Map<number, { mrr: number; original: Map<string, number> }>();
  const step = (at: number, mrr: number, currency: string, original: number) => {
    const s = steps.get(at) ?? { mrr: 0, original: new Map<string, number>() };
    s.mrr += mrr;
    s.original.set(currency, (s.original.get(currency) ?? 0) + original);
    steps.set(at, s);
  };
  for (const seg of segments) {
    step(seg.start, seg.mrr, seg.currency, seg.mrrOriginal);
    if (Number.isFinite(seg.end)) step(seg.end, -seg.mrr, seg.currency, -seg.mrrOriginal);
  }
  const times = [...steps.keys()].sort((a, b) => a - b);
  const movements: Movement[] = [];
  let mrr = 0;
  let everPaid = false;
  let i = 0;
  while (i < times.length) {
    const groupStart = times[i]!;
    const before = mrr;
    const original = new Map<string, number>();
    while (i < times.length && times[i]! - groupStart < Math.max(windowMs, 1)) {
      const s = steps.get(times[i]!)!;
      mrr += s.mrr;
      for (const [c, v] of s.original) original.set(c, (original.get(c) ?? 0) + v);
      i++;
    }
    const delta = mrr - before;
    if (delta === 0) continue;
    const kind: MovementKind =
      before === 0 ? (everPaid ? 'reactivation' : 'new') : mrr === 0 ? 'churn' : delta > 0 ? 'expansion' : 'contraction';
    everPaid = true;
    movements.push({
      customerId,
      at: new Date(groupStart),
      kind,
      amount: delta,
      mrrBefore: before,
      mrrAfter: mrr,
      original: Object.fromEntries([...original].filter(([, v]) => v !== 0).sort(([a], [b]) => a.localeCompare(b))),
    });
  }
  return movements;
}
