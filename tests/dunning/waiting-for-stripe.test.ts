import { describe, expect, it } from 'vitest';
import { isWorthWaitingFor, StripeKeyMissingError, StripeNotFoundError, StripeUnavailableError } from '../../activities/stripe-reader';

describe('which Stripe failures a play waits out', () => {
  it('waits for Stripe to come back and for a key to be connected', () => {
    expect(isWorthWaitingFor(new StripeUnavailableError('Stripe answered 503'))).toBe(true);
    expect(isWorthWaitingFor(new StripeKeyMissingError('workspace ws_a does not exist or has no Stripe key'))).toBe(true);
  });

  it('never waits for an object Stripe says does not exist, nor for other errors', () => {
    expect(isWorthWaitingFor(new StripeNotFoundError('Stripe has no invoice in_gone'))).toBe(false);
    expect(isWorthWaitingFor(new Error('boom'))).toBe(false);
    expect(isWorthWaitingFor('StripeKeyMissingError')).toBe(false);
  });
});
