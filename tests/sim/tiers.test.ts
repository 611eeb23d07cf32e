import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceCharge } from '../../sim/billing';
import { startSimulator, type Simulator } from '../../sim/server';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The Enterprise plan is sold per seat by volume tiers, as SaaS seat discounts are:
 * up to 20 seats at the list amount, every seat 15 % less (in whole currency units)
 * from 21 on. Stripe answers a price's tiers only when asked for with `expand`.
 */
describe("the Enterprise plan's volume tiers", () => {
  let sim: Simulator;
  let get: (path: string) => Promise<{ [key: string]: Json }>;
  let stripe: Stripe;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3, customers: 400, months: 24, now: 1_780_000_000, rateLimit: 0 });
    const key = sim.accounts[0]!.secretKey;
    get = async (path) => {
      const res = await fetch(sim.url + path, { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status, path).toBe(200);
      return (await res.json()) as { [key: string]: Json };
    };
    stripe = new Stripe(key, { host: '127.0.0.1', port: sim.port, protocol: 'http' });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  const enterprise = () => sim.account().prices.rows.filter((p) => p.metadata.tier === 'enterprise');
  const priceOf = (lookupKey: string) => sim.account().prices.rows.find((p) => p.lookup_key === lookupKey)!;

  it('is a tiered volume price with no unit amount of its own; the other plans stay per unit', () => {
    expect(enterprise()).toHaveLength(9);
    for (const p of enterprise()) {
      expect(p, p.lookup_key!).toMatchObject({ billing_scheme: 'tiered', tiers_mode: 'volume', unit_amount: null, unit_amount_decimal: null, transform_quantity: null });
      const [first, rest] = p.tiers!;
      expect(p.tiers).toHaveLength(2);
      expect([first!.up_to, rest!.up_to]).toEqual([20, null]);
      expect(rest!.unit_amount).toBe(Math.round((first!.unit_amount! * 0.85) / 100) * 100);
    }
    expect(priceOf('enterprise_monthly_usd').tiers!.map((t) => [t.up_to, t.unit_amount, String(t.unit_amount_decimal), t.flat_amount, t.flat_amount_decimal])).toEqual([
      [20, 4_500, '4500', null, null],
      [null, 3_800, '3800', null, null],
    ]);
    const others = sim.account().prices.rows.filter((p) => p.metadata.tier !== 'enterprise');
    expect(others.every((p) => p.billing_scheme === 'per_unit' && p.unit_amount !== null && p.tiers === undefined)).toBe(true);
  });

  it('bills 25 seats at the second tier, and 20 or fewer at the list amount', async () => {
    const monthlyUsd = priceOf('enterprise_monthly_usd');
    const planLines = sim
      .account()
      .invoices.rows.flatMap((i) => i.lines.data.map((l) => ({ invoice: i, line: l })))
      .filter(({ invoice, line }) => enterprise().some((p) => p.id === line.pricing?.price_details?.price) && invoice.billing_reason !== 'subscription_update' && line.amount > 0);
    const twentyFive = planLines.find(({ invoice, line }) => line.quantity === 25 && line.pricing?.price_details?.price === monthlyUsd.id && invoice.billing_reason === 'subscription_create');
    expect(twentyFive).toBeDefined();
    // As the API answers it: 25 × $38.00, not 25 × $45.00.
    const invoice = await get(`/v1/invoices/${twentyFive!.invoice.id}`);
    expect(invoice.subtotal).toBe(25 * 3_800);
    const line = (invoice.lines as { data: { [key: string]: Json }[] }).data[0]!;
    expect(line).toMatchObject({ amount: 95_000, quantity: 25, description: '25 × Enterprise (at $38.00 / month)', pricing: { unit_amount_decimal: '3800' } });
    // Every Enterprise plan line of the account, both sides of the break.
    const atList = planLines.filter(({ line }) => line.quantity! <= 20);
    const discounted = planLines.filter(({ line }) => line.quantity! > 20);
    expect(atList.length).toBeGreaterThan(0);
    expect(discounted.length).toBeGreaterThan(0);
    for (const { line } of planLines) {
      const price = sim.account().prices.get(line.pricing!.price_details!.price as string)!;
      const tier = price.tiers![line.quantity! <= 20 ? 0 : 1]!;
      expect(line.amount, line.description!).toBe(line.quantity! * tier.unit_amount!);
      expect(priceCharge(price, line.quantity!).amount).toBe(line.amount);
    }
  });

  it('answers tiers only when expanded: on a price, a price list and a subscription, never in events', async () => {
    const price = priceOf('enterprise_monthly_usd');
    const plain = await get(`/v1/prices/${price.id}`);
    expect(plain).toMatchObject({ billing_scheme: 'tiered', tiers_mode: 'volume', unit_amount: null, unit_amount_decimal: null });
    expect('tiers' in plain).toBe(false);
    const expanded = await get(`/v1/prices/${price.id}?expand[]=tiers`);
    expect(expanded.tiers).toEqual([
      { flat_amount: null, flat_amount_decimal: null, unit_amount: 4_500, unit_amount_decimal: '4500', up_to: 20 },
      { flat_amount: null, flat_amount_decimal: null, unit_amount: 3_800, unit_amount_decimal: '3800', up_to: null },
    ]);
    // Through stripe-node, as Wysera's sync asks for them.
    expect((await stripe.prices.retrieve(price.id, { expand: ['tiers'] })).tiers?.map((t) => t.unit_amount)).toEqual([4_500, 3_800]);
    // A per-unit price has none to add.
    expect('tiers' in (await get(`/v1/prices/${priceOf('scale_monthly_usd').id}?expand[]=tiers`))).toBe(false);

    const product = typeof price.product === 'string' ? price.product : price.product.id;
    const list = (await get(`/v1/prices?product=${product}&limit=100`)).data as { [key: string]: Json }[];
    expect(list).toHaveLength(9);
    expect(list.some((p) => 'tiers' in p)).toBe(false);
    const listed = (await get(`/v1/prices?product=${product}&limit=100&expand[]=data.tiers`)).data as { tiers?: Json[] }[];
    expect(listed.every((p) => p.tiers?.length === 2)).toBe(true);

    const sub = sim.account().subscriptions.rows.find((s) => s.items.data[0]!.price.tiers && (s.items.data[0]!.quantity ?? 0) > 20)!;
    type Item = { price: { [key: string]: Json }; plan: { [key: string]: Json } };
    const item = ((await get(`/v1/subscriptions/${sub.id}`)).items as { data: Item[] }).data[0]!;
    expect(item.plan).toMatchObject({ amount: null, amount_decimal: null, billing_scheme: 'tiered', tiers_mode: 'volume' });
    expect(['tiers' in item.price, 'tiers' in item.plan]).toEqual([false, false]);
    const withTiers = ((await get(`/v1/subscriptions/${sub.id}?expand[]=items.data.price.tiers`)).items as { data: Item[] }).data[0]!;
    expect((withTiers.price.tiers as Json[]).length).toBe(2);
    expect('tiers' in withTiers.plan).toBe(false);

    // Event payloads cannot be expanded: a subscription's items carry no tiers there.
    const events = ((await get('/v1/events?type=customer.subscription.*&limit=100')).data as Json[]).map((e) => JSON.stringify(e));
    expect(events.filter((e) => e.includes('"tiered"')).length).toBeGreaterThan(0);
    expect(events.filter((e) => e.includes('"tiers"'))).toEqual([]);
    // Answering left the stored objects whole: they still bill by their tiers.
    expect(sim.account().prices.get(price.id)?.tiers).toHaveLength(2);
  });
});
