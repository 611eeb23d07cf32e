import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMirror } from '../../db/analytics-seed';
import { customerPlan, subscriptionPlan } from '../../db/customer-plan';
import type { Knex } from '../../db/knex';
import { upsertPrices } from '../../db/mirror';
import { priceForCustomer } from '../../db/product-mapping';
import { CustomerBuilder } from '../domain/mrr-builder';
import { freshDatabase } from '../helpers/db';
import { ago } from '../helpers/plan-customers';
import { stripeFixture } from '../helpers/stripe';

const ws = 'ws_customer_plan';
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Knex;

/** A tier as stripe-node hands it over: its decimal twins are Decimal objects. */
const tier = (upTo: number | null, unit: number): Stripe.Price.Tier => ({ up_to: upTo, unit_amount: unit, unit_amount_decimal: Stripe.Decimal.from(unit), flat_amount: null, flat_amount_decimal: null });
/** A monthly price as Stripe sends it from a sync (tiers asked for). */
const stripePrice = (id: string, product: string, terms: Partial<Stripe.Price>): Stripe.Price => {
  const base = stripeFixture('price') as unknown as Stripe.Price;
  return { ...base, id, product, currency: 'usd', active: true, type: 'recurring', recurring: { ...base.recurring!, interval: 'month', interval_count: 1, usage_type: 'licensed' }, ...terms };
};

beforeAll(async () => {
  database = await freshDatabase();
  db = database.db;
  await db('workspaces').insert({ id: ws, name: 'Plans' });
  // cus_seats: 12 seats of Team (volume tiers: up to 10 at $15, more at $12 each) and API calls billed on use.
  const seats = new CustomerBuilder('cus_seats')
    .price('price_team', null, 'month', { billing_scheme: 'tiered' })
    .price('price_api', 2, 'month', { recurring_usage_type: 'metered' })
    .subscription('sub_seats', { items: ['price_team', 'price_api'], current_period_start: ago(10), current_period_end: ago(-20) })
    .build();
  // cus_metered: API calls billed on use, and nothing else.
  const metered = new CustomerBuilder('cus_metered')
    .price('price_api', 2, 'month', { recurring_usage_type: 'metered' })
    .subscription('sub_metered', { items: ['price_api'], current_period_start: ago(10), current_period_end: ago(-20) })
    .build();
  const live = { current_period_start: ago(10), current_period_end: ago(-20) };
  // Seats billed by tiers the mirror has not read yet (a price event carries none), beside a free add-on, or an add-on at $10.
  const unsynced = (id: string, addOn: number, apart = false) => {
    const customer = new CustomerBuilder(id).price('price_unsynced', null, 'month', { billing_scheme: 'tiered' }).price(`price_addon_${addOn}`, addOn, 'month');
    if (!apart) return customer.subscription(`sub_${id}`, { items: ['price_unsynced', `price_addon_${addOn}`], ...live }).build();
    // The add-on in a subscription of its own.
    return customer.subscription(`sub_${id}`, { items: ['price_unsynced'], ...live }).subscription(`sub_${id}_addon`, { items: [`price_addon_${addOn}`], ...live }).build();
  };
  // A free plan, alone and beside API calls billed on use.
  const free = new CustomerBuilder('cus_free').price('price_free', 0, 'month').subscription('sub_free', { items: ['price_free'], ...live }).build();
  const freeMetered = new CustomerBuilder('cus_free_metered')
    .price('price_free', 0, 'month')
    .price('price_api', 2, 'month', { recurring_usage_type: 'metered' })
    .subscription('sub_free_metered', { items: ['price_free', 'price_api'], ...live })
    .build();
  await seedMirror(db, ws, [seats, metered, unsynced('cus_unsynced_free', 0), unsynced('cus_unsynced_cheap', 1_000), unsynced('cus_unsynced_apart', 1_000, true), free, freeMetered]);
  await db('stripe_subscription_items').where({ workspace_id: ws, subscription_id: 'sub_seats', price_id: 'price_team' }).update({ quantity: 12 });
  // The tiered prices as a sync writes them, after the rows above.
  await upsertPrices(
    db,
    ws,
    [
      stripePrice('price_team', 'prod_price_team', { billing_scheme: 'tiered', unit_amount: null, unit_amount_decimal: null, tiers_mode: 'volume', tiers: [tier(10, 1_500), tier(null, 1_200)] }),
      // Business, a plan up: graduated, the first 10 seats at $25 and more at $20.
      stripePrice('price_business', 'prod_business', { billing_scheme: 'tiered', unit_amount: null, unit_amount_decimal: null, tiers_mode: 'graduated', tiers: [tier(10, 2_500), tier(null, 2_000)] }),
    ],
    new Date(Date.now() + 1_000),
  );
});
afterAll(async () => {
  await database?.drop();
});

describe("a customer's plan", () => {
  it('prices a per-seat plan by its tiers, and leaves items billed on use out of its value', async () => {
    // The mirror keeps how the tiers are read, and each tier's decimal twin as its text.
    expect(await db('stripe_prices').where({ workspace_id: ws, id: 'price_team' }).first('tiers_mode', 'tiers')).toEqual({ tiers_mode: 'volume', tiers: [expect.objectContaining({ up_to: 10, unit_amount_decimal: '1500' }), expect.objectContaining({ up_to: null })] });
    const plan = await customerPlan(db, ws, 'cus_seats');
    // All 12 seats at the volume tier 12 falls in; the API calls are not part of the plan's price.
    expect(plan).toMatchObject({ subscriptionId: 'sub_seats', productId: 'prod_price_team', item: { quantity: 12, price: { amount: 12 * 1_200, currency: 'usd' } }, monthlyValue: { amount: 12 * 1_200, currency: 'usd' } });
  });

  it('names a product by its catalogue name, and gives no name for one the mirror does not hold', async () => {
    // prod_price_team has no stripe_products row: its id is no name for a customer.
    expect(await customerPlan(db, ws, 'cus_seats')).toMatchObject({ productId: 'prod_price_team', productName: null });
    await db('stripe_products').insert({ workspace_id: ws, id: 'prod_price_team', name: 'Team', active: true, stripe_state_at: new Date() });
    try {
      expect(await customerPlan(db, ws, 'cus_seats')).toMatchObject({ productId: 'prod_price_team', productName: 'Team' });
    } finally {
      await db('stripe_products').where({ workspace_id: ws, id: 'prod_price_team' }).delete();
    }
  });

  it('has no plan to quote for a subscription billed on use alone', async () => {
    expect(await customerPlan(db, ws, 'cus_metered')).toBeNull();
  });

  it('is a free plan where every fixed item is known to cost nothing, and none while a fixed item has an amount the mirror cannot tell', async () => {
    // Free customers have a plan (the expansion play pitches to them), whether or not use is billed beside it.
    const zero = { amount: 0, currency: 'usd' };
    for (const customer of ['cus_free', 'cus_free_metered']) {
      expect(await customerPlan(db, ws, customer), customer).toMatchObject({ productId: 'prod_price_free', monthlyValue: zero, item: { quantity: 1, price: zero } });
    }
    // The unpriced seats may be what the customer pays for: the add-on beside them is not their plan at $0, nor at $10.
    expect(await customerPlan(db, ws, 'cus_unsynced_free')).toBeNull();
    expect(await customerPlan(db, ws, 'cus_unsynced_cheap')).toBeNull();
    // Nor where the add-on is a subscription of its own: which subscription is worth most cannot be told.
    expect(await customerPlan(db, ws, 'cus_unsynced_apart')).toBeNull();
    // The add-on's own subscription, asked of alone (what its renewal names), is priced whole.
    expect(await subscriptionPlan(db, ws, 'cus_unsynced_apart', 'sub_cus_unsynced_apart_addon')).toMatchObject({ productId: 'prod_price_addon_1000', item: { price: { amount: 1_000 } } });
    expect(await subscriptionPlan(db, ws, 'cus_unsynced_apart', 'sub_cus_unsynced_apart')).toBeNull();
  });

  it("prices another plan for the customer's seat count by that plan's tiers", async () => {
    const plan = (await customerPlan(db, ws, 'cus_seats'))!;
    expect(await priceForCustomer(db, ws, 'prod_business', plan.item)).toEqual({ amount: 10 * 2_500 + 2 * 2_000, currency: 'usd' });
    expect(await priceForCustomer(db, ws, 'prod_business', { ...plan.item, interval: 'year' })).toBeNull();
  });
});
