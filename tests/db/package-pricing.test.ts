import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMirror } from '../../db/analytics-seed';
import { customerPlan } from '../../db/customer-plan';
import { customerProfile } from '../../db/customer-profile';
import type { Knex } from '../../db/knex';
import { upsertPrices } from '../../db/mirror';
import { priceForCustomer } from '../../db/product-mapping';
import { renewalQuote } from '../../db/renewal-notes';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { CustomerBuilder } from '../domain/mrr-builder';
import { freshDatabase } from '../helpers/db';
import { ago } from '../helpers/plan-customers';
import { stripeFixture } from '../helpers/stripe';

/**
 * Package pricing (a price's `transform_quantity`): Stripe bills the quantity divided
 * by `divide_by`, rounded up or down, at the unit amount. Prices are written as a sync
 * writes them, from Stripe-shaped objects.
 */
const ws = 'ws_package_pricing';
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: Knex;

/** A licensed per-unit price as Stripe sends it from a sync, sold in packages of `divideBy`. */
const packagePrice = (id: string, product: string, interval: 'month' | 'year', unitAmount: number, divideBy: number, round: 'up' | 'down'): Stripe.Price => {
  const base = stripeFixture('price') as unknown as Stripe.Price;
  return {
    ...base,
    id,
    product,
    currency: 'usd',
    active: true,
    type: 'recurring',
    billing_scheme: 'per_unit',
    unit_amount: unitAmount,
    recurring: { ...base.recurring!, interval, interval_count: 1, usage_type: 'licensed' },
    transform_quantity: { divide_by: divideBy, round },
  };
};

beforeAll(async () => {
  database = await freshDatabase();
  db = database.db;
  await db('workspaces').insert({ id: ws, name: 'Packages' });
  // cus_packs: 12 seats of Seats, $20 a month per 10 seats, rounded up (2 packages).
  const packs = new CustomerBuilder('cus_packs')
    .price('price_seats', 2_000, 'month')
    .subscription('sub_packs', { items: ['price_seats'], current_period_start: ago(10), current_period_end: ago(-20) })
    .build();
  // cus_yearly: 12 seats of Seats yearly, $200 a year per 10 seats, rounded down (1 package), renewing in 15 days.
  const yearly = new CustomerBuilder('cus_yearly')
    .price('price_seats_y', 20_000, 'year')
    .subscription('sub_yearly', { items: ['price_seats_y'], current_period_start: ago(350), current_period_end: ago(-15) })
    .build();
  await seedMirror(db, ws, [packs, yearly]);
  await db('stripe_subscription_items').where({ workspace_id: ws }).update({ quantity: 12 });
  // The prices as a sync writes them, after the rows above.
  await upsertPrices(
    db,
    ws,
    [
      packagePrice('price_seats', 'prod_price_seats', 'month', 2_000, 10, 'up'),
      packagePrice('price_seats_y', 'prod_price_seats_y', 'year', 20_000, 10, 'down'),
      // Pro, a plan up: $30 a month per 5 seats, rounded up.
      packagePrice('price_pro', 'prod_pro', 'month', 3_000, 5, 'up'),
    ],
    new Date(Date.now() + 1_000),
  );
});
afterAll(async () => {
  await database?.drop();
});

describe('a price sold in packages', () => {
  it('is kept by the mirror with its quantity transform', async () => {
    expect(await db('stripe_prices').where({ workspace_id: ws, id: 'price_seats' }).first('transform_quantity')).toEqual({ transform_quantity: { divide_by: 10, round: 'up' } });
  });

  it("prices the customer's plan by the packages its quantity makes", async () => {
    const plan = await customerPlan(db, ws, 'cus_packs');
    expect(plan).toMatchObject({ subscriptionId: 'sub_packs', item: { quantity: 12, price: { amount: 2 * 2_000, currency: 'usd' } }, monthlyValue: { amount: 2 * 2_000, currency: 'usd' } });
  });

  it("prices another plan for the customer's seat count by that plan's packages", async () => {
    const plan = (await customerPlan(db, ws, 'cus_packs'))!;
    expect(await priceForCustomer(db, ws, 'prod_pro', plan.item)).toEqual({ amount: 3 * 3_000, currency: 'usd' });
  });

  it('quotes a renewal by its packages, rounded as the price says', async () => {
    const quote = await renewalQuote(db, ws, 'sub_yearly', ago(-15), { interval: 'year', intervalCount: 1 });
    expect(quote).toMatchObject({ price: { amount: 20_000, currency: 'usd' }, listPrice: { amount: 20_000, currency: 'usd' } });
  });

  it("shows on the customer's page what the quantity costs, not a package's amount as a unit's", async () => {
    const profile = await customerProfile(db, parseKeyring(generateKeySpec()), ws, 'cus_packs');
    expect(profile?.subscriptions[0]?.items).toEqual([expect.objectContaining({ priceId: 'price_seats', quantity: 12, unitAmount: null, amount: 2 * 2_000 })]);
  });
});
