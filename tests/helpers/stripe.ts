import { readFileSync } from 'node:fs';
import path from 'node:path';
import Stripe from 'stripe';

type Json = Record<string, unknown>;
/** Stripe's published example objects, in the shared folder beside the checkout. */
export const STRIPE_FIXTURES_PATH = path.resolve(__dirname, '../../../shared/stripe/fixtures3.json');
const fixtures = JSON.parse(readFileSync(STRIPE_FIXTURES_PATH, 'utf8')) as { resources: Record<string, Json> };

/** Stripe's own example object of a resource (a fresh copy). */
export function stripeFixture(resource: string): Json {
  const obj = fixtures.resources[resource];
  if (!obj) throw new Error(`no Stripe fixture for ${resource}`);
  return structuredClone(obj);
}

let counter = 0;
/** A Stripe event of `type` about `object`, shaped like Stripe's example event. */
export function stripeEvent(type: string, object: Json, overrides: Json = {}): Json {
  counter++;
  return {
    ...stripeFixture('event'),
    id: `evt_test${Date.now()}${counter}`,
    type,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: { object },
    ...overrides,
  };
}

/** The Stripe-Signature header Stripe would send for this body. */
export function signatureFor(body: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload: body, secret, ...(timestamp ? { timestamp } : {}) });
}
