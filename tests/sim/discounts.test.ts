import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server';
import { stripeFixture } from '../helpers/stripe';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Coupons restricted to products and discounts of a subscription item's own, which the
 * generated history has none of, set up as the Dashboard would: answered as Stripe
 * answers them (`applies_to` only when expanded, no deeper than four levels) and
 * billed as Stripe bills them (an item's own discounts on its line, before the
 * subscription's; a restricted coupon on its products' lines only).
 */
describe('restricted coupons and item discounts', () => {
  let sim: Simulator;
  let stripe: Stripe;
  let get: (path: string) => Promise<{ status: number; body: { [key: string]: Json } }>;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 'sim-discounts', customers: 60, months: 6, now: 1_780_000_000, rateLimit: 0 });
    const key = sim.accounts[0]!.secretKey;
    get = async (path) => {
      const res = await fetch(sim.url + path, { headers: { Authorization: `Bearer ${key}` } });
      return { status: res.status, body: (await res.json()) as { [key: string]: Json } };
    };
    stripe = new Stripe(key, { host: '127.0.0.1', port: sim.port, protocol: 'http' });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  const productOf = (price: Stripe.Price) => (typeof price.product === 'string' ? price.product : price.product.id);
  /** A monthly running subscription, with no change waiting, of a plan item and a metered one (two products), and no discount yet. */
  const subscription = () =>
    sim
      .account()
      .subscriptions.rows.find((s) => s.status === 'active' && !s.cancel_at_period_end && !s.metadata.pending_change && s.items.data.length === 2 && s.discounts.length === 0 && s.items.data.every((i) => i.discounts.length === 0))!;

  it("answers a coupon's restriction only when expanded, null for a coupon without one, as Stripe's shape", async () => {
    const sub = subscription();
    const plan = productOf(sub.items.data[0]!.price);
    sim.account().createCoupon({ id: 'PLANONLY30', name: '30% off the plan', duration: 'forever', percentOff: 30, appliesTo: [plan] });
    const plain = (await get('/v1/coupons/PLANONLY30')).body;
    expect('applies_to' in plain).toBe(false);
    // Every field of Stripe's example coupon, and no other but the restriction when asked for.
    expect(Object.keys(plain).sort()).toEqual(Object.keys(stripeFixture('coupon')).sort());
    expect((await get('/v1/coupons/PLANONLY30?expand[]=applies_to')).body.applies_to).toEqual({ products: [plan] });
    expect((await stripe.coupons.retrieve('PARTNER10', { expand: ['applies_to'] })).applies_to).toBeNull();
    const listed = (await get('/v1/coupons?limit=100&expand[]=data.applies_to')).body.data as { id: string; applies_to: Json }[];
    expect(listed.find((c) => c.id === 'PLANONLY30')?.applies_to).toEqual({ products: [plan] });
    expect(listed.every((c) => 'applies_to' in c)).toBe(true);
    // The stored coupon is left as it was by the answers.
    expect('applies_to' in sim.account().coupons.get('PARTNER10')!).toBe(false);
  });

  it("lists an item's own discounts on the item, expandable as Stripe allows, and tells of them in an event", async () => {
    const sub = subscription();
    const [planItem] = sub.items.data;
    const seen = sim.account().events.size;
    const own = sim.account().addDiscount(sub.id, 'PARTNER10', { item: planItem!.id });
    const restricted = sim.account().addDiscount(sub.id, 'PLANONLY30');
    expect(own).toMatchObject({ object: 'discount', subscription: sub.id, subscription_item: planItem!.id, source: { type: 'coupon', coupon: 'PARTNER10' } });
    expect(Object.keys(own).sort()).toEqual(Object.keys(stripeFixture('discount')).sort());
    const events = sim.account().events.rows.slice(seen);
    expect(events.map((e) => e.type)).toEqual(['customer.subscription.updated', 'customer.subscription.updated']);

    const listedItems = await stripe.subscriptions.list({ customer: sub.customer as string, expand: ['data.items.data.discounts', 'data.discounts.source.coupon'] });
    const listedSub = listedItems.data.find((s) => s.id === sub.id)!;
    expect((listedSub.items.data[0]!.discounts[0] as Stripe.Discount).id).toBe(own.id);
    expect(((listedSub.discounts[0] as Stripe.Discount).source.coupon as Stripe.Coupon).id).toBe('PLANONLY30');
    // A coupon's restriction lies one level past what a list may expand, but within a retrieve's four.
    const tooDeep = await get(`/v1/subscriptions?customer=${sub.customer as string}&expand[]=data.discounts.source.coupon.applies_to`);
    expect(tooDeep.status).toBe(400);
    expect(JSON.stringify(tooDeep.body)).toContain('You cannot expand more than 4 levels');
    const retrieved = await stripe.subscriptions.retrieve(sub.id, { expand: ['discounts.source.coupon.applies_to', 'items.data.discounts'] });
    expect(((retrieved.discounts[0] as Stripe.Discount).source.coupon as Stripe.Coupon).applies_to).toEqual({ products: [productOf(sub.items.data[0]!.price)] });
    const items = await stripe.subscriptionItems.list({ subscription: sub.id, expand: ['data.discounts'] });
    expect(items.data.map((i) => i.discounts.map((d) => (d as Stripe.Discount).id))).toEqual([[own.id], []]);
    expect(restricted.subscription_item).toBeNull();
  });

  it("bills an item's own discount on its line before the subscription's, and a restricted coupon on its products' lines only", () => {
    const account = sim.account();
    const sub = account.subscriptions.rows.find((s) => (s.items.data[0]!.discounts ?? []).length > 0)!;
    const [planItem, meteredItem] = sub.items.data;
    const before = account.invoices.size;
    // Into the next period: its invoice bills the plan (and the past period's use).
    account.advance(Math.max(1, planItem!.current_period_end - account.now + 60));
    const invoice = account.invoices.rows.find((i, k) => k >= before && i.parent?.subscription_details?.subscription === sub.id && i.billing_reason === 'subscription_cycle')!;
    expect(invoice).toBeDefined();
    const lineOf = (itemId: string) => invoice.lines.data.find((l) => l.parent?.subscription_item_details?.subscription_item === itemId);
    const planLine = lineOf(planItem!.id)!;
    const ownId = planItem!.discounts[0] as string;
    const restrictedId = sub.discounts[0] as string;
    // 10% of the plan first, then 30% of what is left: the subscription's coupon is restricted to the plan's product.
    const ownOff = Math.round((planLine.amount * 10) / 100);
    const restrictedOff = Math.round(((planLine.amount - ownOff) * 30) / 100);
    expect(planLine.discount_amounts).toEqual([
      { amount: ownOff, discount: ownId },
      { amount: restrictedOff, discount: restrictedId },
    ]);
    expect(planLine.discounts).toEqual([ownId]);
    // The metered line is another product's: neither takes anything off it.
    const usage = lineOf(meteredItem!.id);
    expect(usage?.discount_amounts ?? []).toEqual([]);
    expect(invoice.discounts).toEqual([restrictedId]);
    expect(invoice.total).toBe(invoice.subtotal - ownOff - restrictedOff);
  });
});
