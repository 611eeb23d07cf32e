import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server';
import { stripeFixture } from '../helpers/stripe';

/**
 * Every resource the simulator serves has every field of Stripe's example object
 * (../shared/stripe/fixtures3.json) with the same JSON type. A null on either side
 * is accepted: the simulator's objects are typed with stripe-node's interfaces, so
 * the compiler only lets them be null where Stripe's own types say nullable, and a
 * null in Stripe's example shows the field is nullable.
 *
 * The differences below are the only ones allowed, each with its reason.
 */
const ALLOWED: Record<string, string> = {
  // API version 2025-03-31 (basil) moved the invoice's subscription under `parent`;
  // the installed stripe-node (2026-10-28) has no Invoice.subscription.
  'invoice.subscription': 'moved to invoice.parent.subscription_details.subscription in 2025-03-31.basil',
  // Stripe's example event is about a plan; each resource's own shape is checked separately.
  'event.data.object': 'the example event carries a plan, the simulator emits billing events',
  // Refund destination details per payment method are optional in the types (`card?`);
  // the simulator keeps no card data.
  'refund.destination_details.card': 'optional (DestinationDetails.card?) and the simulator stores no card data',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function kind(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Every difference between the fixture's shape and ours, as "path: reason". */
function differences(fixture: Json, ours: Json, path: string, out: string[]): string[] {
  if (ALLOWED[path] !== undefined) return out;
  if (fixture === null || ours === null) return out;
  const fk = kind(fixture);
  const ok = kind(ours);
  if (fk !== ok) {
    out.push(`${path}: fixture ${fk}, simulator ${ok}`);
    return out;
  }
  if (Array.isArray(fixture) && Array.isArray(ours)) {
    if (fixture.length > 0 && ours.length > 0) differences(fixture[0] as Json, ours[0] as Json, `${path}[]`, out);
    return out;
  }
  if (fk === 'object') {
    const f = fixture as Record<string, Json>;
    const o = ours as Record<string, Json>;
    for (const key of Object.keys(f)) {
      const p = `${path}.${key}`;
      if (!(key in o)) {
        if (ALLOWED[p] === undefined) out.push(`${p}: missing`);
        continue;
      }
      differences(f[key] as Json, o[key] as Json, p, out);
    }
  }
  return out;
}

describe('simulator objects have the fields and JSON types of Stripe fixtures', () => {
  let sim: Simulator;
  let get: (path: string) => Promise<Json>;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3, customers: 400, months: 24, now: 1_780_000_000, rateLimit: 0 });
    const key = sim.accounts[0]?.secretKey as string;
    get = async (path) => {
      const res = await fetch(sim.url + path, { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Json;
    };
  });
  afterAll(async () => {
    await sim?.stop();
  });

  const first = async (list: string): Promise<Record<string, Json>> => {
    const page = (await get(list)) as { data: Array<Record<string, Json>> };
    const obj = page.data[0];
    if (!obj) throw new Error(`empty list ${list}`);
    return obj;
  };

  /** Prefer an object whose optional parts are filled in, so nested shapes get compared too. */
  const richest = async (list: string, score: (o: Record<string, Json>) => number): Promise<Record<string, Json>> => {
    const page = (await get(`${list}${list.includes('?') ? '&' : '?'}limit=100`)) as { data: Array<Record<string, Json>> };
    const sorted = [...page.data].sort((a, b) => score(b) - score(a));
    if (!sorted[0]) throw new Error(`empty list ${list}`);
    return sorted[0];
  };

  const cases: Array<[fixture: string, fetchOne: () => Promise<Json>]> = [
    ['account', async () => get('/v1/account')],
    ['customer', async () => get(`/v1/customers/${(await first('/v1/customers')).id as string}`)],
    ['product', async () => get(`/v1/products/${(await first('/v1/products')).id as string}`)],
    ['price', async () => get(`/v1/prices/${(await first('/v1/prices')).id as string}`)],
    ['coupon', async () => get(`/v1/coupons/${(await first('/v1/coupons')).id as string}`)],
    [
      'subscription',
      async () => {
        const sub = await richest('/v1/subscriptions?status=all', (s) => (s.discounts as Json[]).length + (s.canceled_at ? 1 : 0) + (s.trial_end ? 1 : 0));
        return get(`/v1/subscriptions/${sub.id as string}`);
      },
    ],
    [
      'subscription_item',
      async () => {
        const sub = await first('/v1/subscriptions');
        return get(`/v1/subscription_items/${((sub.items as { data: Array<{ id: string }> }).data[0] as { id: string }).id}`);
      },
    ],
    [
      'invoice',
      async () => {
        const inv = await richest('/v1/invoices', (i) => (i.total_discount_amounts as Json[]).length + (i.next_payment_attempt ? 1 : 0));
        return get(`/v1/invoices/${inv.id as string}`);
      },
    ],
    [
      'line_item',
      async () => {
        const inv = await richest('/v1/invoices', (i) => (i.total_discount_amounts as Json[]).length);
        const lines = (await get(`/v1/invoices/${inv.id as string}/lines`)) as { data: Json[] };
        return lines.data[0] as Json;
      },
    ],
    ['charge', async () => get(`/v1/charges/${(await richest('/v1/charges', (c) => (c.refunded ? 1 : 0) + (c.amount_refunded ? 1 : 0))).id as string}`)],
    ['refund', async () => get(`/v1/refunds/${(await first('/v1/refunds')).id as string}`)],
    ['payment_intent', async () => get(`/v1/payment_intents/${(await richest('/v1/payment_intents', (p) => (p.last_payment_error ? 1 : 0))).id as string}`)],
    ['event', async () => get(`/v1/events/${(await first('/v1/events')).id as string}`)],
    [
      'discount',
      async () => {
        const sub = await richest('/v1/subscriptions?status=all', (s) => (s.discounts as Json[]).length);
        const expanded = (await get(`/v1/subscriptions/${sub.id as string}?expand[]=discounts`)) as { discounts: Json[] };
        return expanded.discounts[0] as Json;
      },
    ],
    [
      'invoice_payment',
      async () => {
        const inv = await richest('/v1/invoices?status=paid', (i) => i.amount_paid as number);
        const list = (await get(`/v1/invoice_payments?invoice=${inv.id as string}`)) as { data: Json[] };
        return list.data[0] as Json;
      },
    ],
    [
      'billing_portal.session',
      async () => {
        const customer = await first('/v1/customers');
        const res = await fetch(`${sim.url}/v1/billing_portal/sessions`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${sim.accounts[0]?.secretKey as string}`, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `customer=${customer.id as string}&return_url=${encodeURIComponent('https://example.com/account')}`,
        });
        expect(res.status).toBe(200);
        return (await res.json()) as Json;
      },
    ],
  ];

  for (const [name, fetchOne] of cases) {
    it(`${name} matches the fixture`, async () => {
      const ours = await fetchOne();
      expect(ours, `no ${name} served`).toBeTruthy();
      expect((ours as Record<string, Json>).object).toBe(stripeFixture(name).object);
      expect(differences(stripeFixture(name) as Json, ours, name, [])).toEqual([]);
    });
  }

  it('each allowed difference is real, so the list cannot go stale', async () => {
    const invoice = (await get(`/v1/invoices/${(await first('/v1/invoices')).id as string}`)) as Record<string, Json>;
    expect('subscription' in stripeFixture('invoice')).toBe(true);
    expect('subscription' in invoice).toBe(false);
    // ...and the subscription is where the new API version puts it.
    const parent = invoice.parent as { subscription_details: { subscription: string } };
    expect(parent.subscription_details.subscription).toMatch(/^sub_/);

    const refund = (await get(`/v1/refunds/${(await first('/v1/refunds')).id as string}`)) as { destination_details: Record<string, Json> };
    expect((stripeFixture('refund').destination_details as Record<string, unknown>).card).toBeDefined();
    expect(refund.destination_details.card).toBeUndefined();

    const event = (await get(`/v1/events/${(await first('/v1/events')).id as string}`)) as { data: { object: { object: string } } };
    expect((stripeFixture('event').data as { object: { object: string } }).object.object).toBe('plan');
    expect(event.data.object.object).not.toBe('plan');
  });

  it('the comparison itself catches a missing field and a changed type', () => {
    const fixture = stripeFixture('customer') as Json;
    const broken = { ...(fixture as Record<string, Json>), balance: '0' } as Record<string, Json>;
    delete broken.email;
    expect(differences(fixture, broken, 'customer', [])).toEqual(['customer.balance: fixture number, simulator string', 'customer.email: missing']);
  });
});
