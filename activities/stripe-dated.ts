import type Stripe from 'stripe';
import { readWindow } from '../domain/stripe-clock';
import { requestSentAt } from './stripe-client';

/** What a Stripe read gave, and when that state is from on Stripe's clock (domain/stripe-clock.ts readWindow). */
export interface Dated<T> {
  value: T;
  /** The earliest the read can have happened: the date the mirror gives its state. */
  readAt: Date;
  /** The read happened before this. */
  readUntil: Date;
}

/**
 * Makes one Stripe request and dates its answer by the answer's own `Date` header:
 * the mirror compares the state with Stripe's event times, never with our clock. The
 * round trip counted starts when the answered attempt went out (requestSentAt), not
 * at the call: a wait for the rate limit, or a retry, would date the read earlier than
 * it need be, often at the very second of the event it was asked to settle.
 */
export async function datedRead<T>(call: () => Promise<Stripe.Response<T>>): Promise<Dated<Stripe.Response<T>>> {
  const askedAt = Date.now();
  const started = performance.now();
  const value = await call();
  const sent = Math.max(started, requestSentAt(value.lastResponse) ?? started);
  const { from, until } = readWindow({ askedAt, roundTripMs: performance.now() - sent, serverDate: value.lastResponse.headers['date'] });
  return { value, readAt: from, readUntil: until };
}
