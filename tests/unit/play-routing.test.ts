import { describe, expect, it } from 'vitest';
import { playInterest } from '../../domain/play-routing';
import { SUBSCRIBED_EVENT_TYPES } from '../../domain/event-types';

describe('play routing', () => {
  it('wakes the plays for failed payments, payments only after a failure, subscription ends only with an unpaid invoice', () => {
    expect(Object.fromEntries(SUBSCRIBED_EVENT_TYPES.map((t) => [t, playInterest(t)]))).toEqual({
      'customer.subscription.created': 'never',
      'customer.subscription.updated': 'never',
      'customer.subscription.deleted': 'while_invoice_unpaid',
      'invoice.payment_failed': 'always',
      'invoice.payment_succeeded': 'after_failed_payment',
      'charge.refunded': 'never',
    });
  });

  it('never routes a type the relay does not apply', () => {
    for (const t of ['customer.created', 'invoice.paid', 'invoice.payment_action_required', '', 'invoice.payment_failed ']) expect(playInterest(t)).toBe('never');
  });
});
