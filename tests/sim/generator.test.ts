import type Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateAccount, type SimAccount } from '../../sim/generator';

const NOW = 1_780_000_000;

function everything(a: SimAccount): unknown {
  return {
    id: a.id,
    products: a.products.rows,
    prices: a.prices.rows,
    coupons: a.coupons.rows,
    customers: a.customers.rows,
    subscriptions: a.subscriptions.rows,
    invoices: a.invoices.rows,
    charges: a.charges.rows,
    refunds: a.refunds.rows,
    paymentIntents: a.paymentIntents.rows,
    events: a.events.rows,
  };
}

const lineDiscount = (l: Stripe.InvoiceLineItem): number => (l.discount_amounts ?? []).reduce((s, d) => s + d.amount, 0);
const subOf = (i: Stripe.Invoice): string | undefined => i.parent?.subscription_details?.subscription as string | undefined;

describe('the SaaS history generator', () => {
  let a: SimAccount;
  beforeAll(() => {
    a = generateAccount({ seed: 2024, customers: 1500, months: 24, now: NOW });
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const one = JSON.stringify(everything(generateAccount({ seed: 9, customers: 120, months: 12, now: NOW })));
    const two = JSON.stringify(everything(generateAccount({ seed: 9, customers: 120, months: 12, now: NOW })));
    const other = JSON.stringify(everything(generateAccount({ seed: 10, customers: 120, months: 12, now: NOW })));
    expect(one).toBe(two);
    expect(other).not.toBe(one);
  });

  it('generates exactly the requested customers inside the window, with a Connect-style account id', () => {
    expect(a.id).toMatch(/^acct_1[0-9A-Za-z]{15}$/);
    expect(a.customers.size).toBe(1500);
    const start = NOW - 24 * 31 * 86_400;
    expect(a.customers.rows.every((c) => c.created > start && c.created <= NOW)).toBe(true);
    expect(a.now).toBe(NOW);
    expect(generateAccount({ seed: 1, customers: 5, months: 2, now: NOW, accountId: 'acct_1Custom0000000' }).id).toBe('acct_1Custom0000000');
  });

  it('has 4 plan tiers with limits in metadata, flat and per-seat prices, three intervals, a metered price and three currencies', () => {
    const tiers = a.products.rows.filter((p) => p.metadata.tier_order);
    expect(tiers.map((p) => p.metadata.tier_order)).toEqual(['1', '2', '3', '4']);
    for (const p of tiers) {
      expect(Number(p.metadata.seats_included)).toBeGreaterThan(0);
      expect(Number(p.metadata.api_calls_per_month)).toBeGreaterThan(0);
    }
    expect(new Set(tiers.map((p) => p.metadata.billing))).toEqual(new Set(['flat', 'per_seat']));
    const recurring = a.prices.rows.map((p) => `${p.recurring?.interval}/${p.recurring?.interval_count}`);
    expect(new Set(recurring)).toEqual(new Set(['month/1', 'month/3', 'year/1']));
    expect(a.prices.rows.some((p) => p.recurring?.usage_type === 'metered' && p.recurring.meter)).toBe(true);
    expect(new Set(a.subscriptions.rows.map((s) => s.currency))).toEqual(new Set(['usd', 'eur', 'gbp']));
    expect(new Set(a.invoices.rows.map((i) => i.currency))).toEqual(new Set(['usd', 'eur', 'gbp']));
    expect(a.subscriptions.rows.some((s) => (s.items.data[0]?.quantity ?? 0) > 1)).toBe(true);
  });

  it('uses coupons of every duration, percent and amount off, and shows them on invoices', () => {
    const durations = new Set(a.coupons.rows.map((c) => c.duration));
    expect(durations).toEqual(new Set(['once', 'repeating', 'forever']));
    expect(a.coupons.rows.some((c) => c.percent_off !== null)).toBe(true);
    expect(a.coupons.rows.some((c) => c.amount_off !== null && c.currency !== null)).toBe(true);
    const redeemed = a.coupons.rows.filter((c) => c.times_redeemed > 0).map((c) => c.duration);
    expect(new Set(redeemed)).toEqual(durations);
    const discounted = a.invoices.rows.filter((i) => (i.total_discount_amounts ?? []).length > 0);
    expect(discounted.length).toBeGreaterThan(0);
    for (const i of discounted) {
      expect(i.discounts.length).toBe(1);
      const discount = a.discounts.get(i.discounts[0] as string);
      expect(discount?.source.coupon).toBeTruthy();
    }
  });

  it('contains every lifecycle case', () => {
    const c = a.counts;
    for (const [name, n] of Object.entries(c)) expect(n, name).toBeGreaterThan(0);

    // Trials: a zero first invoice, some converted, some ended.
    const trials = a.subscriptions.rows.filter((s) => s.trial_start !== null);
    expect(trials.some((s) => s.status === 'active' || s.status === 'past_due')).toBe(true);
    expect(trials.some((s) => s.status === 'canceled')).toBe(true);
    expect(a.invoices.rows.some((i) => i.billing_reason === 'subscription_create' && i.total === 0)).toBe(true);

    // Upgrades and seat increases: proration invoices crediting the old plan and charging the new one.
    const prorations = a.invoices.rows.filter((i) => i.billing_reason === 'subscription_update');
    expect(prorations.length).toBeGreaterThan(0);
    for (const i of prorations) {
      expect(i.lines.data.map((l) => Math.sign(l.amount))).toEqual([-1, 1]);
      expect(i.lines.data.every((l) => l.parent?.subscription_item_details?.proration === true)).toBe(true);
    }

    // Failed payments then recoveries: paid after more than one attempt, with the failed charges kept.
    const recovered = a.invoices.rows.filter((i) => i.status === 'paid' && i.attempt_count > 1);
    expect(recovered.length).toBeGreaterThan(0);
    const pi = a.invoicePayment.get(recovered[0]!.id)!;
    const charges = a.charges.rows.filter((ch) => ch.payment_intent === pi.id).map((ch) => ch.status);
    expect(charges).toContain('failed');
    expect(charges[charges.length - 1]).toBe('succeeded');
    // Dunning still in progress at "now": an open invoice with the next retry and a payment page.
    const dunning = a.invoices.rows.filter((i) => i.status === 'open' && i.next_payment_attempt !== null);
    expect(dunning.length).toBeGreaterThan(0);
    for (const i of dunning) {
      expect(i.next_payment_attempt!).toBeGreaterThan(NOW - 86_400 * 8);
      expect(i.hosted_invoice_url).toMatch(/^https:\/\//);
      expect(a.subscriptions.get(subOf(i)!)?.status).toBe('past_due');
    }
    // Retries exhausted: uncollectible invoice, subscription canceled for payment failure.
    expect(a.invoices.rows.some((i) => i.status === 'uncollectible')).toBe(true);
    expect(a.subscriptions.rows.some((s) => s.status === 'canceled' && s.cancellation_details?.reason === 'payment_failed')).toBe(true);

    // Cancellations: at period end (canceled before it ended) and immediately.
    const canceled = a.subscriptions.rows.filter((s) => s.status === 'canceled' && s.cancellation_details?.reason === 'cancellation_requested' && s.trial_start === null);
    expect(canceled.some((s) => (s.canceled_at ?? 0) < (s.ended_at ?? 0))).toBe(true);
    expect(canceled.some((s) => s.canceled_at === s.ended_at)).toBe(true);
    // Customers who came back have a second subscription.
    const perCustomer = new Map<string, number>();
    for (const s of a.subscriptions.rows) perCustomer.set(s.customer as string, (perCustomer.get(s.customer as string) ?? 0) + 1);
    expect([...perCustomer.values()].some((n) => n > 1)).toBe(true);

    // Refunds, full and partial, reflected on their charges.
    expect(a.refunds.rows.some((r) => a.charges.get(r.charge as string)?.refunded === true)).toBe(true);
    expect(a.refunds.rows.some((r) => a.charges.get(r.charge as string)?.refunded === false)).toBe(true);
    for (const r of a.refunds.rows) expect(a.charges.get(r.charge as string)!.amount_refunded).toBeGreaterThanOrEqual(r.amount);

    // Metered usage billed in arrears.
    expect(a.invoices.rows.some((i) => i.lines.data.some((l) => l.description?.startsWith('API overage') && l.amount > 0))).toBe(true);
  });

  it('keeps invoice totals consistent with their lines, discounts and payments (tax excluded)', () => {
    for (const i of a.invoices.rows) {
      const subtotal = i.lines.data.reduce((s, l) => s + l.amount, 0);
      const discount = i.lines.data.reduce((s, l) => s + lineDiscount(l), 0);
      expect(i.subtotal).toBe(subtotal);
      expect((i.total_discount_amounts ?? []).reduce((s, d) => s + d.amount, 0)).toBe(discount);
      expect(i.total).toBe(subtotal - discount);
      expect(i.total).toBeGreaterThanOrEqual(0);
      expect(i.amount_due).toBe(i.total);
      expect(i.total_excluding_tax).toBe(i.total);
      expect(i.total_taxes).toEqual([]);
      if (i.status === 'paid') {
        expect(i.amount_paid).toBe(i.amount_due);
        expect(i.amount_remaining).toBe(0);
        expect(i.status_transitions.paid_at).not.toBeNull();
      } else {
        expect(i.amount_paid + i.amount_remaining).toBe(i.amount_due);
      }
      for (const l of i.lines.data) {
        expect(l.invoice).toBe(i.id);
        expect(l.currency).toBe(i.currency);
      }
    }
    // A paid invoice's payment intent received exactly its amount.
    for (const i of a.invoices.rows.filter((x) => x.status === 'paid' && x.amount_due > 0 && x.amount_paid_off_stripe === undefined)) {
      expect(a.invoicePayment.get(i.id)?.amount_received).toBe(i.amount_due);
    }
  });

  it('keeps no card numbers or card details anywhere', () => {
    const json = JSON.stringify(everything(a));
    expect(json).not.toMatch(/\d{13,19}/);
    for (const field of ['"last4"', '"exp_month"', '"exp_year"', '"fingerprint"', '"cvc_check"']) expect(json).not.toContain(field);
    expect(a.charges.rows.every((c) => c.payment_method_details === null)).toBe(true);
  });

  it('keeps events for the last 30 days, newest last in the store, each a snapshot', () => {
    expect(a.events.size).toBeGreaterThan(0);
    expect(a.events.rows.every((e) => e.created >= NOW - 30 * 86_400)).toBe(true);
    const updated = a.events.rows.filter((e) => e.type === 'customer.subscription.updated');
    expect(updated.length).toBeGreaterThan(0);
    // Snapshot: the event's copy is not the live object.
    const e = updated[0]!;
    expect(e.data.object).not.toBe(a.subscriptions.get((e.data.object).id));
  });

  it('keeps living: advancing time brings signups, renewals and their events', () => {
    const small = generateAccount({ seed: 77, customers: 300, months: 6, now: NOW });
    const customers = small.customers.size;
    const invoices = small.invoices.size;
    const events = small.events.size;
    small.advance(60 * 86_400);
    expect(small.now).toBe(NOW + 60 * 86_400);
    expect(small.customers.size).toBeGreaterThan(customers);
    expect(small.invoices.size).toBeGreaterThan(invoices);
    const fresh = small.events.rows.slice(events);
    expect(fresh.some((e) => e.type === 'customer.created')).toBe(true);
    expect(fresh.some((e) => e.type === 'invoice.payment_failed')).toBe(true);
    expect(fresh.every((e) => e.created > NOW && e.created <= small.now)).toBe(true);
  });

  it('generates 5,000 customers over 24 months in a few seconds', () => {
    // CPU time, not wall time: the machine running the tests may be busy with others.
    const started = process.cpuUsage();
    const big = generateAccount({ seed: 1, customers: 5000, months: 24, now: NOW });
    const used = process.cpuUsage(started);
    const seconds = (used.user + used.system) / 1e6;
    expect(big.customers.size).toBe(5000);
    expect(big.invoices.size).toBeGreaterThan(20_000);
    // Typically 3-4 s of CPU; the bound leaves room for a slower machine.
    expect(seconds).toBeLessThan(10);
  }, 60_000);
});
