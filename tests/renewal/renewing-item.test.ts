import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriptionItemRow, subscriptionRow } from '../../db/mirror';
import { stripeFixture } from '../helpers/stripe';
import { seedMirror } from '../../db/analytics-seed';
import type { Knex } from '../../db/knex';
import { renewalQuote, renewalState, renewingItem } from '../../db/renewal-notes';
import { CustomerBuilder } from '../domain/mrr-builder';
import { freshDatabase } from '../helpers/db';

const ws = 'ws_renewing_item';
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Knex;

/** The period ends 15 August 2027: the quarter after it ends 15 November, the year after it 15 August 2028. */
const end = new Date('2027-08-15T00:00:00Z');

/** A subscription billing a plan yearly ($990) and an add-on quarterly ($300), set to end at `cancelAt`. */
const yearlyAndQuarterly = (id: string, cancelAt: Date | null) =>
  new CustomerBuilder(id)
    .price('price_plan_y', 99_000, 'year')
    .price('price_addon_q', 30_000, 'month', { recurring_interval_count: 3 })
    .subscription(`sub_${id}`, { items: ['price_plan_y', 'price_addon_q'], current_period_start: new Date('2026-08-15T00:00:00Z'), current_period_end: end, cancel_at: cancelAt })
    .build();

/** A tier as the mirror stores it (whole minor units, their decimal twins as text). */
const tier = (upTo: number | null, unit: number) => ({ up_to: upTo, unit_amount: unit, unit_amount_decimal: String(unit), flat_amount: null, flat_amount_decimal: null });

/**
 * Yearly items priced three ways (`items`, each for its quantity): 20 seats on volume
 * tiers ($100 each up to 10, $80 beyond: $1,600), 25 seats sold in packages of 10 at
 * $100, rounded up ($300 for 3 packages, though $100 times 25 is $2,500), and one
 * add-on at $500.
 */
const pricedThreeWays = (id: string, items: string[]) =>
  new CustomerBuilder(id)
    .price('price_seats_y', null, 'year', { billing_scheme: 'tiered' })
    .price('price_packs_y', 10_000, 'year', { transform_quantity: { divide_by: 10, round: 'up' } })
    .price('price_extra_y', 50_000, 'year')
    .subscription(`sub_${id}`, { items, current_period_start: new Date('2026-08-15T00:00:00Z'), current_period_end: end })
    .build();

beforeAll(async () => {
  database = await freshDatabase();
  db = database.db;
  await db('workspaces').insert({ id: ws, name: 'Renewing items' });
  await seedMirror(db, ws, [
    // Set to end after the next year: both items renew in full, the yearly one is the longer.
    yearlyAndQuarterly('cus_both', new Date('2028-08-15T00:00:00Z')),
    // Set to end when the next quarter does: the quarterly add-on renews in full, the yearly plan would be cut short.
    yearlyAndQuarterly('cus_quarter', new Date('2027-11-15T00:00:00Z')),
    // Set to end a month into the next period: no item renews in full.
    yearlyAndQuarterly('cus_stub', new Date('2027-09-15T00:00:00Z')),
    pricedThreeWays('cus_tiered', ['price_seats_y', 'price_packs_y', 'price_extra_y']),
    pricedThreeWays('cus_packs', ['price_packs_y', 'price_extra_y']),
  ]);
  await db('stripe_prices').where({ workspace_id: ws, id: 'price_seats_y' }).update({ tiers_mode: 'volume', tiers: JSON.stringify([tier(10, 10_000), tier(null, 8_000)]) });
  await db('stripe_subscription_items').where({ workspace_id: ws, price_id: 'price_seats_y' }).update({ quantity: 20 });
  await db('stripe_subscription_items').where({ workspace_id: ws, price_id: 'price_packs_y' }).update({ quantity: 25 });
  // The yearly plan's product is in the catalogue; the add-on's is not (not synced yet).
  await db('stripe_products').insert({ workspace_id: ws, id: 'prod_price_plan_y', name: 'Growth', active: true, stripe_state_at: new Date() });
});
afterAll(async () => {
  await database?.drop();
});

describe('the item a long-term subscription renews by', () => {
  it('is the longest-billed item that renews in full', async () => {
    expect(await renewalState(db, ws, 'sub_cus_both', end)).toBe('renewing');
    expect(await renewingItem(db, ws, 'sub_cus_both')).toMatchObject({ productId: 'prod_price_plan_y', productName: 'Growth', interval: 'year', intervalCount: 1 });
  });

  it('passes over an item whose next period runs past the cancellation, as the test of renewing does', async () => {
    // The subscription renews, through its quarterly item: the note prices the quarter, not a year cut short.
    expect(await renewalState(db, ws, 'sub_cus_quarter', end)).toBe('renewing');
    // Its product has no name the mirror holds: none is given, rather than its id.
    expect(await renewingItem(db, ws, 'sub_cus_quarter')).toMatchObject({ productId: 'prod_price_addon_q', productName: null, interval: 'month', intervalCount: 3 });
    expect(await renewalState(db, ws, 'sub_cus_stub', end)).toBe('not_renewing');
    expect(await renewingItem(db, ws, 'sub_cus_stub')).toBeNull();
  });

  it('quotes no price for a renewal beside a fixed item the cancellation cuts short, whose prorated charge may fall on it', async () => {
    const quarter = { interval: 'month', intervalCount: 3 };
    // The yearly plan ends part-way through its next year: Stripe prorates it, on an invoice the mirror cannot date.
    expect(await renewalQuote(db, ws, 'sub_cus_quarter', end, quarter)).toBeNull();
    // Ending after the next year, both items last: the year is priced by the yearly plan alone, the quarter by the add-on.
    expect(await renewalQuote(db, ws, 'sub_cus_both', end, { interval: 'year', intervalCount: 1 })).toMatchObject({ price: { amount: 99_000, currency: 'usd' }, plusUsage: false });
    expect(await renewalQuote(db, ws, 'sub_cus_both', end, quarter)).toMatchObject({ price: { amount: 30_000, currency: 'usd' } });
  });

  it("quotes before discounts a renewal whose item carries a discount of its own whose terms the mirror does not hold", async () => {
    const year = { interval: 'year', intervalCount: 1 };
    expect(await renewalQuote(db, ws, 'sub_cus_both', end, year)).toMatchObject({ price: { amount: 99_000 }, discountUnknown: false });
    // As a subscription event writes it, where the mirror could not complete it: the discount's id alone.
    const item = { ...stripeFixture('subscription_item'), id: 'si_sub_cus_both_price_plan_y', subscription: 'sub_cus_both', price: { ...stripeFixture('price'), id: 'price_plan_y' }, quantity: 1, discounts: ['di_item_only'] } as unknown as Stripe.SubscriptionItem;
    await db('stripe_subscription_items').where({ workspace_id: ws, id: item.id }).update({ discounts: subscriptionItemRow('sub_cus_both', item, false).discounts });
    expect(await db('stripe_subscription_items').where({ workspace_id: ws, id: item.id }).first('discounts')).toEqual({ discounts: [{ id: 'di_item_only' }] });
    expect(await renewalQuote(db, ws, 'sub_cus_both', end, year)).toMatchObject({ price: { amount: 99_000 }, listPrice: { amount: 99_000 }, discountUnknown: true });
    // As items stored their discounts before their terms were kept: ids as Stripe listed them.
    await db('stripe_subscription_items').where({ workspace_id: ws, id: item.id }).update({ discounts: JSON.stringify(['di_item_only']) });
    expect(await renewalQuote(db, ws, 'sub_cus_both', end, year)).toMatchObject({ price: { amount: 99_000 }, discountUnknown: true });
    // The add-on billed at another period has none: its quarter is quoted as before.
    expect(await renewalQuote(db, ws, 'sub_cus_both', end, { interval: 'month', intervalCount: 3 })).toMatchObject({ price: { amount: 30_000 }, discountUnknown: false });
  });

  it("takes an item's own discount off its line, and a restricted coupon off its products' lines only", async () => {
    const year = { interval: 'year', intervalCount: 1 };
    const coupon = (id: string, percentOff: number, appliesTo: { products: string[] } | null) =>
      ({ ...stripeFixture('coupon'), id, percent_off: percentOff, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: appliesTo }) as unknown as Stripe.Coupon;
    const discount = (id: string, c: Stripe.Coupon) => ({ ...stripeFixture('discount'), id, source: { type: 'coupon', coupon: c }, end: null }) as unknown as Stripe.Discount;
    // As a sync writes them: each discount with its coupon read with its restriction.
    const subscription = { ...stripeFixture('subscription'), id: 'sub_cus_tiered', items: { object: 'list', has_more: false, data: [] }, discounts: [discount('di_extra_half', coupon('EXTRA50', 50, { products: ['prod_price_extra_y'] }))] } as unknown as Stripe.Subscription;
    const seatsItem = { ...stripeFixture('subscription_item'), id: 'si_sub_cus_tiered_price_seats_y', price: { ...stripeFixture('price'), id: 'price_seats_y' }, quantity: 20, discounts: [discount('di_seats_quarter', coupon('SEATS25', 25, null))] } as unknown as Stripe.SubscriptionItem;
    await db('stripe_subscriptions').where({ workspace_id: ws, id: subscription.id }).update({ discounts: subscriptionRow(subscription).discounts });
    await db('stripe_subscription_items').where({ workspace_id: ws, id: seatsItem.id }).update({ discounts: subscriptionItemRow(subscription.id, seatsItem, false).discounts });
    // Seats $1,600 less their own 25% ($1,200); packages $300 untouched; the add-on's $500 halved by the coupon restricted to it.
    expect(await renewalQuote(db, ws, 'sub_cus_tiered', end, year)).toEqual({ price: { amount: 120_000 + 30_000 + 25_000, currency: 'usd' }, listPrice: { amount: 160_000 + 30_000 + 50_000, currency: 'usd' }, plusUsage: false, discountUnknown: false });
  });

  it('is the dearest of its period by what it charges for its quantity, tiers and packages priced as Stripe bills them', async () => {
    // The tiered seats ($1,600) over the add-on ($500) and the packages ($300), though the seats state no unit amount.
    expect(await renewingItem(db, ws, 'sub_cus_tiered')).toMatchObject({ productId: 'prod_price_seats_y', interval: 'year' });
    // The add-on ($500) over 3 packages ($300), not 25 of a package's price.
    expect(await renewingItem(db, ws, 'sub_cus_packs')).toMatchObject({ productId: 'prod_price_extra_y', interval: 'year' });
  });
});
