import type Stripe from 'stripe';
import { stateTimeOfRead } from '../domain/stripe-clock';

/** What a Stripe read gave, and when that state is from on Stripe's clock (domain/stripe-clock.ts). */
export interface Dated<T> {
  value: T;
  readAt: Date;
}

/**
 * Makes one Stripe request and dates its answer by the answer's own `Date` header:
 * the mirror compares the state with Stripe's event times, never with our clock.
 * The round trip counted includes any wait for the workspace's rate limit, which only
 * dates the read earlier (the safe side).
 */
export async function datedRead<T>(call: () => Promise<Stripe.Response<T>>): Promise<Dated<Stripe.Response<T>>> {
  const askedAt = Date.now();
  const started = performance.now();
  const value = await call();
  return { value, readAt: stateTimeOfRead({ askedAt, roundTripMs: performance.now() - started, serverDate: value.lastResponse.headers['date'] }) };
}
