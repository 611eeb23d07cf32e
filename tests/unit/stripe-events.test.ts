import { describe, expect, it } from 'vitest';
import { isSubscribedEventType } from '../../domain/event-types';
import { eventSubject, objectEndedAt, stripeEventEnvelope } from '../../domain/stripe-events';
import { stripeFixture } from '../helpers/stripe';


function eventWith(object: Record<string, unknown>, type: string) {
  return stripeEventEnvelope.parse({ ...stripeFixture('event'), id: 'evt_123', type, data: { object } });
}

describe('Stripe event envelope', () => {
  it("accepts Stripe's own example event", () => {
    expect(stripeEventEnvelope.safeParse(stripeFixture('event')).success).toBe(true);
  });

  it('finds the customer of a subscription, an invoice and a charge', () => {
    for (const [resource, type] of [
      ['subscription', 'customer.subscription.updated'],
      ['invoice', 'invoice.payment_failed'],
      ['charge', 'charge.refunded'],
    ] as const) {
      const object: Record<string, unknown> = { ...stripeFixture(resource), customer: 'cus_42' };
      expect(eventSubject(eventWith(object, type))).toEqual({ customerId: 'cus_42', objectId: object.id });
    }
  });

  it('reads an expanded customer and a customer object', () => {
    const sub = { ...stripeFixture('subscription'), customer: { id: 'cus_x', object: 'customer' } };
    expect(eventSubject(eventWith(sub, 'customer.subscription.created')).customerId).toBe('cus_x');
    const customer = { ...stripeFixture('customer'), id: 'cus_y' };
    expect(eventSubject(eventWith(customer, 'customer.updated')).customerId).toBe('cus_y');
  });

  it('has no customer for an event about a product', () => {
    expect(eventSubject(eventWith(stripeFixture('product'), 'product.updated')).customerId).toBeNull();
  });

  it('rejects an envelope without an event id and names the field', () => {
    const parsed = stripeEventEnvelope.safeParse({ ...stripeFixture('event'), id: 'nope' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['id']);
  });

  it('subscribes to exactly the six event types the plays use', () => {
    expect(isSubscribedEventType('invoice.payment_failed')).toBe(true);
    expect(isSubscribedEventType('customer.created')).toBe(false);
  });
});

describe('objectEndedAt', () => {
  it("gives a subscription event's ended_at as ISO-8601 UTC", () => {
    expect(objectEndedAt({ data: { object: { ...stripeFixture('subscription'), ended_at: 1_700_000_000 } } })).toBe('2023-11-14T22:13:20.000Z');
  });

  it('gives nothing for an object that has not ended or says nothing of it', () => {
    expect(objectEndedAt({ data: { object: { ...stripeFixture('subscription'), ended_at: null } } })).toBeUndefined();
    expect(objectEndedAt({ data: { object: { id: 'in_1' } } })).toBeUndefined();
    expect(objectEndedAt({ data: { object: { ended_at: 'yesterday' } } })).toBeUndefined();
    expect(objectEndedAt(null)).toBeUndefined();
  });
});
