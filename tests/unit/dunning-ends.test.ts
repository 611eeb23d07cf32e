import { describe, expect, it } from 'vitest';
import { dunningEnd, endClosesDunning, type DunningEndFacts } from '../../domain/dunning-ends';

const created = new Date('2026-10-01T00:00:00Z');
const facts = (over: Partial<DunningEndFacts>): DunningEndFacts => ({
  invoiceStatus: 'open',
  paidOffStripe: null,
  invoiceCreated: created,
  subscriptionStatus: 'past_due',
  subscriptionEndedAt: null,
  ...over,
});

describe('a dunning ended by what Stripe or the mirror shows', () => {
  it('goes on while the invoice is open or unknown and its subscription lives or is unknown', () => {
    expect(dunningEnd(facts({}))).toBeNull();
    expect(dunningEnd(facts({ invoiceStatus: null, invoiceCreated: null, subscriptionStatus: null }))).toBeNull();
    for (const status of ['active', 'trialing', 'past_due', 'unpaid', 'paused', 'incomplete']) expect(dunningEnd(facts({ subscriptionStatus: status }))).toBeNull();
  });

  it('ends as invoice_closed once the invoice is void or written off, whatever its subscription', () => {
    expect(dunningEnd(facts({ invoiceStatus: 'void' }))).toBe('invoice_closed');
    expect(dunningEnd(facts({ invoiceStatus: 'uncollectible', subscriptionStatus: 'canceled' }))).toBe('invoice_closed');
  });

  it('ends a paid invoice as recovered or paid out of band when Stripe says which', () => {
    expect(dunningEnd(facts({ invoiceStatus: 'paid', paidOffStripe: false }))).toBe('recovered');
    expect(dunningEnd(facts({ invoiceStatus: 'paid', paidOffStripe: true, subscriptionStatus: 'canceled' }))).toBe('paid_out_of_band');
    // The mirror alone cannot tell: the payment's signal or the next read of Stripe will.
    expect(dunningEnd(facts({ invoiceStatus: 'paid', paidOffStripe: null }))).toBeNull();
    // Not mistaken for the subscription's end either.
    expect(dunningEnd(facts({ invoiceStatus: 'paid', paidOffStripe: null, subscriptionStatus: 'canceled', subscriptionEndedAt: new Date(created.getTime() + 1000) }))).toBeNull();
  });

  it('ends as subscription_deleted when the subscription ended after the invoice was created', () => {
    const later = new Date(created.getTime() + 1000);
    expect(dunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: later }))).toBe('subscription_deleted');
    expect(dunningEnd(facts({ subscriptionStatus: 'incomplete_expired', subscriptionEndedAt: later }))).toBe('subscription_deleted');
  });

  it('keeps collecting the final invoice a subscription cancelled now creates as it ends', () => {
    expect(dunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: created }))).toBeNull();
    expect(dunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: new Date(created.getTime() - 1000) }))).toBeNull();
  });

  it('counts an end it cannot place in time', () => {
    expect(dunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: null }))).toBe('subscription_deleted');
    expect(dunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: created, invoiceCreated: null }))).toBe('subscription_deleted');
  });
});

describe("a subscription's end, as a signal brings it to a running dunning", () => {
  it('closes the dunning when it ended after the invoice was created, or either time is unknown', () => {
    expect(endClosesDunning(new Date(created.getTime() + 1000), created)).toBe(true);
    expect(endClosesDunning(null, created)).toBe(true);
    expect(endClosesDunning(created, null)).toBe(true);
  });

  it('leaves a final invoice, created as the subscription ended or after, to be collected', () => {
    expect(endClosesDunning(created, created)).toBe(false);
    expect(endClosesDunning(new Date(created.getTime() - 1000), created)).toBe(false);
  });
});
