import { describe, expect, it } from 'vitest';
import { changesMrrInputs, isSubscribedEventType, objectOf, REREAD_EVENT_TYPE, rereadEventId, SUBSCRIBED_EVENT_TYPES } from '../../domain/event-types';
import { playInterest } from '../../domain/play-routing';

describe('event types', () => {
  it("names each subscribed event's object, and which of them are MRR inputs", () => {
    expect(Object.fromEntries(SUBSCRIBED_EVENT_TYPES.map((t) => [t, [objectOf(t), changesMrrInputs(t)]]))).toEqual({
      'customer.subscription.created': ['subscription', true],
      'customer.subscription.updated': ['subscription', true],
      'customer.subscription.deleted': ['subscription', true],
      'invoice.payment_failed': ['invoice', true],
      'invoice.payment_succeeded': ['invoice', true],
      'charge.refunded': ['charge', false],
    });
  });

  it('keeps a re-read apart from Stripe: not a subscribed type, no play, an id no Stripe event has', () => {
    expect(isSubscribedEventType(REREAD_EVENT_TYPE)).toBe(false);
    expect(playInterest(REREAD_EVENT_TYPE)).toBe('never');
    expect(rereadEventId('evt_1')).toBe('reread_evt_1');
  });
});
