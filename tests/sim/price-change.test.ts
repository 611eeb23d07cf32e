import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIERS, type BillingInterval, type Currency } from '../../sim/catalog';
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
    const eventsBefore = account.events.rows.length;
    const product = account.products.get(old.product as string)!;
    const wasDefault = product.default_price === old.id;
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
    const events = account.events.rows.slice(eventsBefore);
    expect(events.map((e) => e.type)).toEqual(wasDefault ? ['price.created', 'product.updated', 'price.updated'] : ['price.created', 'price.updated']);
    expect(events.at(-1)!.data.previous_attributes).toEqual({ active: true, lookup_key: next.lookup_key });
  });

  it("moves the product's default price first when that is the price changed", async () => {
    const account = sim.account();
    const product = account.products.rows.find((p) => typeof p.default_price === 'string' && account.prices.get(p.default_price)?.billing_scheme === 'per_unit')!;
    const old = account.prices.get(product.default_price as string)!;
    const next = account.changePrice(old.id, (old.unit_amount ?? 0) + 500);
    // Stripe will not archive a product's default price.
    expect((await stripe.products.retrieve(product.id)).default_price).toBe(next.id);
    const updated = account.events.rows.find((e) => e.type === 'product.updated' && (e.data.object).id === product.id);
    expect(updated?.data.previous_attributes).toEqual({ default_price: old.id });
  });

  it('sells the new price to later signups', () => {
    const account = sim.account();
    // The catalogue sells the new price where it sold the old one.
    const next = account.prices.rows.at(-1)!;
    const { tier, interval } = next.metadata as { tier: string; interval: BillingInterval };
    expect(account.catalog.planPrice(TIERS.find((t) => t.key === tier)!, interval, next.currency as Currency).id).toBe(next.id);
    const before = new Set(account.subscriptions.rows.map((s) => s.id));
    account.advance(40 * 86_400);
    const later = account.subscriptions.rows.filter((s) => !before.has(s.id));
    expect(later.length).toBeGreaterThan(0);
    for (const s of later) for (const item of s.items.data) expect(item.price.active, `${s.id} signed up on an archived price`).toBe(true);
  });
});
