import { describe, expect, it } from 'vitest';
import { changesMrrInputs, isSubscribedEventType, objectOf, REREAD_EVENT_TYPE, rereadEventId, SUBSCRIBED_EVENT_TYPES } from '../../domain/event-types';
import { playInterest } from '../../domain/play-routing';
import { parseReread } from '../../workers/mirror-events';

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

  it("reads a re-read's payload, taking a `noticed` it does not know (a later version's) as said, and names what is wrong with one that is not", () => {
    expect(parseReread({ object: 'invoice', id: 'in_1', noticed: 'dunning_check' })).toEqual({ object: 'invoice', id: 'in_1', noticed: 'dunning_check' });
    expect(parseReread({ object: 'invoice', id: 'in_1', noticed: 'a_reason_added_later', extra: 1 })).toEqual({ object: 'invoice', id: 'in_1', noticed: 'a_reason_added_later' });
    const wrong = parseReread({ object: 'coupon', id: '' });
    expect(wrong).toBeInstanceOf(Error);
    expect((wrong as Error).message).toMatch(/object: .*; id: /);
  });
});
