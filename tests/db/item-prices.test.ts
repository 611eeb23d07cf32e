import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { recordItemPrices, upsertPrices } from '../../db/mirror';
import type { Knex } from '../../db/knex';
import { stalePriceIds } from '../../db/price-terms';
import { insertWorkspace } from '../../db/workspaces';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { freshDatabase } from '../helpers/db';
import { stripeFixture } from '../helpers/stripe';
import { decimal } from '../../sim/catalog';

let db: Knex;
let drop: () => Promise<void>;
const ws = 'ws_itemPrices';

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  await insertWorkspace(db, parseKeyring(generateKeySpec()), { id: ws, name: 'Item prices', webhookSecret: 'whsec_x' });
});
afterAll(async () => {
  await drop?.();
});

const fixturePrice = stripeFixture('price') as unknown as Stripe.Price;
const price = (over: Partial<Stripe.Price>): Stripe.Price => ({ ...fixturePrice, created: 1_700_000_000, transform_quantity: null, billing_scheme: 'per_unit', tiers_mode: null, ...over });
/** A subscription (Stripe's example) whose one item bills on `p`. */
function subscriptionOn(p: Stripe.Price): Stripe.Subscription {
  const sub = stripeFixture('subscription') as unknown as Stripe.Subscription;
  return { ...sub, items: { ...sub.items, data: [{ ...sub.items.data[0]!, price: p }] } };
}
const row = (id: string) =>
  db('stripe_prices').where({ workspace_id: ws, id }).first<{ unit_amount: number | null; active: boolean; tiers: unknown; transform_quantity: unknown; stripe_state_at: Date } | undefined>();

describe('prices known from subscription items', () => {
  it('writes a price the mirror does not hold, with its terms, dated at its creation', async () => {
    const archived = price({ id: 'price_grandfathered', unit_amount: 1_900, active: false, transform_quantity: { divide_by: 10, round: 'up' } });
    await recordItemPrices(db, ws, [subscriptionOn(archived)]);
    expect(await row('price_grandfathered')).toMatchObject({ unit_amount: 1_900, active: false, transform_quantity: { divide_by: 10, round: 'up' }, stripe_state_at: new Date(1_700_000_000_000) });
    // Complete as an item carries it: nothing for the catch-up to read.
    expect(await stalePriceIds(db, ws)).not.toContain('price_grandfathered');
  });

  it('leaves out a price an item carries only in part', async () => {
    const partial = { id: 'price_partial', object: 'price' } as unknown as Stripe.Price;
    await recordItemPrices(db, ws, [subscriptionOn(partial), subscriptionOn(price({ id: 'price_whole_beside' }))]);
    expect(await row('price_partial')).toBeUndefined();
    expect(await row('price_whole_beside')).toBeDefined();
  });

  it('never replaces what a read of the price told, and gives way to any later read', async () => {
    await upsertPrices(db, ws, [price({ id: 'price_listed', unit_amount: 4_900 })], new Date('2026-01-01T00:00:00Z'));
    await recordItemPrices(db, ws, [subscriptionOn(price({ id: 'price_listed', unit_amount: 1 }))]);
    expect(await row('price_listed')).toMatchObject({ unit_amount: 4_900 });

    await recordItemPrices(db, ws, [subscriptionOn(price({ id: 'price_seen_first', unit_amount: 2_900, active: true }))]);
    // The price archived since, as a listing of inactive prices or a read by id tells.
    expect(await upsertPrices(db, ws, [price({ id: 'price_seen_first', unit_amount: 2_900, active: false })], new Date('2026-01-01T00:00:00Z'))).toEqual(['price_seen_first']);
    expect(await row('price_seen_first')).toMatchObject({ active: false });
  });

  it('leaves a tiered price to be read by its id, since an item never carries its tiers', async () => {
    const tiered = price({ id: 'price_tiered_new', billing_scheme: 'tiered', tiers_mode: 'volume', unit_amount: null, unit_amount_decimal: null });
    delete tiered.tiers;
    await recordItemPrices(db, ws, [subscriptionOn(tiered)]);
    expect(await row('price_tiered_new')).toMatchObject({ tiers: null, unit_amount: null });
    expect(await stalePriceIds(db, ws)).toEqual(['price_tiered_new']);
    // Once read with its tiers, it is current.
    await upsertPrices(db, ws, [{ ...tiered, tiers: [{ up_to: null, unit_amount: 4_500, unit_amount_decimal: decimal(4_500), flat_amount: null, flat_amount_decimal: null }] }], new Date('2026-01-01T00:00:00Z'));
    expect(await stalePriceIds(db, ws)).toEqual([]);
  });
});
