import fc from 'fast-check';
import type { CustomerHistory, NpsSignal } from '../../domain/mrr';
import { CustomerBuilder } from './mrr-builder';

/** Prices the generated customers choose from: unit amount and months per period. */
const PRICES: Record<string, { unit: number; months: number }> = {
  a: { unit: 1000, months: 1 },
  b: { unit: 2500, months: 1 },
  c: { unit: 4000, months: 1 },
  y: { unit: 24000, months: 12 },
};

const subscriptionSpec = fc.record({
  startMonth: fc.integer({ min: 0, max: 14 }),
  startDay: fc.integer({ min: 1, max: 28 }),
  price: fc.constantFrom('a', 'b', 'c', 'y'),
  quantity: fc.integer({ min: 1, max: 4 }),
  invoices: fc.integer({ min: 1, max: 8 }),
  discounts: fc.array(fc.constantFrom(0, 0, 0.2, 1), { minLength: 8, maxLength: 8 }),
  statuses: fc.array(fc.constantFrom('paid', 'paid', 'paid', 'paid', 'open', 'void', 'uncollectible'), { minLength: 8, maxLength: 8 }),
  change: fc.option(
    fc.record({
      invoice: fc.integer({ min: 0, max: 7 }),
      day: fc.integer({ min: 1, max: 20 }),
      hour: fc.integer({ min: 1, max: 22 }),
      price: fc.constantFrom('a', 'b', 'c'),
      quantity: fc.integer({ min: 1, max: 5 }),
    }),
    { nil: undefined },
  ),
  end: fc.constantFrom('running', 'canceled', 'cancel_at_period_end', 'ended_early'),
  currency: fc.constantFrom('usd', 'usd', 'eur'),
});

export type SubscriptionSpec = typeof subscriptionSpec extends fc.Arbitrary<infer T> ? T : never;
export const customerSpec = fc.array(subscriptionSpec, { minLength: 0, maxLength: 3 });
export type CustomerSpec = SubscriptionSpec[];

const day = (y: number, monthOffset: number, d: number, hour = 0) => new Date(Date.UTC(y, monthOffset, d, hour));
const iso = (d: Date) => d.toISOString().slice(0, 16);

/**
 * Turns a spec into the mirror rows Stripe would have produced: one invoice per
 * period with its discount and payment status, an optional mid-period plan or
 * quantity change invoiced with proration lines, and how the subscription ended.
 */
export function historyOf(customerId: string, spec: CustomerSpec): CustomerHistory {
  const c = new CustomerBuilder(customerId);
  for (const [k, p] of Object.entries(PRICES)) c.price(k, p.unit, p.months === 12 ? 'year' : 'month');
  spec.forEach((s, n) => {
    const subId = `sub_${customerId}_${n}`;
    let price = s.price;
    let quantity = s.quantity;
    const months = PRICES[price]!.months;
    let lastEnd = day(2024, s.startMonth, s.startDay);
    for (let i = 0; i < s.invoices; i++) {
      const start = day(2024, s.startMonth + i * months, s.startDay);
      const end = day(2024, s.startMonth + (i + 1) * months, s.startDay);
      lastEnd = end;
      const amount = PRICES[price]!.unit * quantity;
      c.invoice(subId, s.statuses[i]!, iso(start), [
        { price, amount, quantity, start: iso(start), end: iso(end), discount: Math.round(amount * s.discounts[i]!) },
      ], s.currency);
      if (s.change && s.change.invoice === i && months === 1) {
        const at = day(2024, s.startMonth + i, Math.min(s.startDay + s.change.day, 28), s.change.hour);
        if (at.getTime() < end.getTime()) {
          const share = (end.getTime() - at.getTime()) / (end.getTime() - start.getTime());
          c.invoice(subId, 'paid', iso(at), [
            { price, amount: -Math.round(amount * share), quantity, proration: true, start: iso(at), end: iso(end) },
            { price: s.change.price, amount: Math.round(PRICES[s.change.price]!.unit * s.change.quantity * share), quantity: s.change.quantity, proration: true, start: iso(at), end: iso(end) },
          ], s.currency);
          price = s.change.price;
          quantity = s.change.quantity;
        }
      }
    }
    const ended = s.end === 'ended_early' ? new Date(lastEnd.getTime() - 5 * 86_400_000) : lastEnd;
    if (s.end === 'running') {
      c.subscription(subId, { currency: s.currency, items: [price], current_period_end: lastEnd });
    } else if (s.end === 'cancel_at_period_end') {
      c.subscription(subId, { currency: s.currency, items: [price], current_period_end: lastEnd, cancel_at_period_end: true, canceled_at: new Date(lastEnd.getTime() - 9 * 86_400_000) });
    } else {
      c.subscription(subId, { currency: s.currency, status: 'canceled', ended_at: ended, canceled_at: new Date(ended.getTime() - 86_400_000), current_period_end: lastEnd });
    }
  });
  return c.build();
}

export const npsSpec = fc.array(fc.record({ score: fc.integer({ min: 0, max: 10 }), month: fc.integer({ min: 0, max: 30 }) }), { maxLength: 3 });

export function npsOf(customerId: string, spec: { score: number; month: number }[]): NpsSignal[] {
  return spec.map((s) => ({ customerId, score: s.score, at: day(2024, s.month, 10) }));
}
