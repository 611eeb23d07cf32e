import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server';

/**
 * A price change in the simulated account, as a company makes one in Stripe's
 * dashboard: the plan gets a new price and the old one is archived, while the
 * subscriptions on it keep billing on it. Stripe's price list then leaves the old price
 * out unless asked for inactive ones; that is what a mirror reading only the list misses.
 */
describe('a price change in the simulator', () => {
  let sim: Simulator;
  let stripe: Stripe;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 'price-change', customers: 60, months: 6, now: 1_780_000_000, rateLimit: 0 });
    stripe = new Stripe(sim.accounts[0]!.restrictedKey, { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('archives the old price, which lists leave out unless asked, while its subscriptions keep it', async () => {
    const account = sim.account();
    const running = account.subscriptions.rows.filter((s) => s.status === 'active' && s.items.data[0]!.price.billing_scheme === 'per_unit');
    const old = running[0]!.items.data[0]!.price;
    const onOld = running.filter((s) => s.items.data[0]!.price.id === old.id).map((s) => s.id);
    const next = account.changePrice(old.id, (old.unit_amount ?? 0) + 1_000);

    const listed = (await stripe.prices.list({ limit: 100 }).autoPagingToArray({ limit: 1_000 })).map((p) => p.id);
    expect(listed).toContain(next.id);
    expect(listed).not.toContain(old.id);
    const archived = await stripe.prices.list({ active: false, limit: 100 });
    expect(archived.data.map((p) => ({ id: p.id, active: p.active }))).toEqual([{ id: old.id, active: false }]);
    expect(next).toMatchObject({ active: true, product: old.product, currency: old.currency, recurring: old.recurring });
    expect(next.lookup_key).toMatch(/_monthly_|_quarterly_|_annual_/);
    expect(await stripe.prices.retrieve(old.id)).toMatchObject({ active: false, lookup_key: null });

    // Grandfathered: each subscription on the old price still bills on it, its item showing it archived.
    for (const id of onOld) {
      const item = (await stripe.subscriptions.retrieve(id)).items.data[0]!;
      expect(item.price).toMatchObject({ id: old.id, active: false });
      expect(item.plan).toMatchObject({ id: old.id, active: false });
    }
    const types = account.events.rows.slice(-2).map((e) => e.type);
    expect(types).toEqual(['price.created', 'price.updated']);
  });

  it('sells the new price to later signups', () => {
    const account = sim.account();
    const before = new Set(account.subscriptions.rows.map((s) => s.id));
    account.advance(40 * 86_400);
    const later = account.subscriptions.rows.filter((s) => !before.has(s.id));
    expect(later.length).toBeGreaterThan(0);
    for (const s of later) for (const item of s.items.data) expect(item.price.active, `${s.id} signed up on an archived price`).toBe(true);
  });
});
