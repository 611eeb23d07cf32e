import { describe, expect, it } from 'vitest';
import { mirroredDunningEnd, type MirroredDunningFacts } from '../../domain/dunning-ends';

const created = new Date('2026-10-01T00:00:00Z');
const facts = (over: Partial<MirroredDunningFacts>): MirroredDunningFacts => ({
  invoiceStatus: 'open',
  invoiceCreated: created,
  subscriptionStatus: 'past_due',
  subscriptionEndedAt: null,
  ...over,
});

describe('a dunning ended by what the mirror shows', () => {
  it('goes on while the invoice is open or unknown and its subscription lives or is unknown', () => {
    expect(mirroredDunningEnd(facts({}))).toBeNull();
    expect(mirroredDunningEnd(facts({ invoiceStatus: null, invoiceCreated: null, subscriptionStatus: null }))).toBeNull();
    for (const status of ['active', 'trialing', 'past_due', 'unpaid', 'paused', 'incomplete']) expect(mirroredDunningEnd(facts({ subscriptionStatus: status }))).toBeNull();
  });

  it('ends as invoice_closed once the invoice is void or written off, whatever its subscription', () => {
    expect(mirroredDunningEnd(facts({ invoiceStatus: 'void' }))).toBe('invoice_closed');
    expect(mirroredDunningEnd(facts({ invoiceStatus: 'uncollectible', subscriptionStatus: 'canceled' }))).toBe('invoice_closed');
    // Paid is the signals' news: they tell a recovery from a payment out of band.
    expect(mirroredDunningEnd(facts({ invoiceStatus: 'paid' }))).toBeNull();
  });

  it('ends as subscription_deleted when the subscription ended after the invoice was created', () => {
    const later = new Date(created.getTime() + 1000);
    expect(mirroredDunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: later }))).toBe('subscription_deleted');
    expect(mirroredDunningEnd(facts({ subscriptionStatus: 'incomplete_expired', subscriptionEndedAt: later }))).toBe('subscription_deleted');
  });

  it('keeps collecting the final invoice a subscription cancelled now creates as it ends', () => {
    expect(mirroredDunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: created }))).toBeNull();
    expect(mirroredDunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: new Date(created.getTime() - 1000) }))).toBeNull();
  });

  it('counts an end it cannot place in time', () => {
    expect(mirroredDunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: null }))).toBe('subscription_deleted');
    expect(mirroredDunningEnd(facts({ subscriptionStatus: 'canceled', subscriptionEndedAt: created, invoiceCreated: null }))).toBe('subscription_deleted');
  });
});
