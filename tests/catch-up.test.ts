import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { recomputeWorkspace } from '../activities/analytics';
import { seedMirror } from '../db/analytics-seed';
import { tryCatchUpLock, workspacesWithStaleAnalytics } from '../db/analytics';
import { upsertPrices } from '../db/mirror';
import { ANALYTICS_RULES_VERSION } from '../domain/mrr';
import { CustomerBuilder } from './domain/mrr-builder';
import { PRICE_TERMS_COMPLETE_SINCE, workspacesWithStalePriceTerms } from '../db/price-terms';
import { insertWorkspace } from '../db/workspaces';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { createLogger } from '../platform/logger';
import { readUnknownProducts, recomputeStaleAnalytics, refreshStalePriceTerms } from '../workers/catch-up';
import { workspacesWithUnknownProducts } from '../db/unknown-products';
import { freshDatabase } from './helpers/db';
import { startStripeMock } from './setup/stripe-mock';

/**
 * What a worker brings up to date after an upgrade: prices mirrored before the mirror
 * kept their package terms are read again from Stripe (stripe-mock, whose example
 * price is sold in packages), and no others; analytics computed by older rules, or
 * from prices read again since, are recomputed.
 */
describe("the worker's catch-up after an upgrade", () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let mock: Awaited<ReturnType<typeof startStripeMock>>;
  let example: Stripe.Price;

  beforeAll(async () => {
    database = await freshDatabase();
    mock = await startStripeMock();
    example = (await mock.stripe.prices.list({ limit: 1 })).data[0]!;
    for (const id of ['ws_stale', 'ws_fresh']) await insertWorkspace(database.db, keyring, { id, name: id, webhookSecret: `whsec_${id}`, stripeKey: 'sk_test_contract123' });
    await insertWorkspace(database.db, keyring, { id: 'ws_no_key', name: 'webhooks only', webhookSecret: 'whsec_no_key' });
    // As a mirror before migration 032 held it: no package terms.
    for (const ws of ['ws_stale', 'ws_fresh', 'ws_no_key']) await upsertPrices(database.db, ws, [{ ...example, transform_quantity: null }], new Date('2024-01-01T00:00:00Z'));
    // A price Stripe does not list (archived: it lists active ones only), read by its id.
    await upsertPrices(database.db, 'ws_stale', [{ ...example, id: 'price_archived_since', transform_quantity: null }], new Date('2024-01-01T00:00:00Z'));
    const applied = await database.db('knex_migrations').where({ name: PRICE_TERMS_COMPLETE_SINCE }).first<{ migration_time: Date }>('migration_time');
    await database.db('stripe_prices').whereIn('workspace_id', ['ws_stale', 'ws_no_key']).update({ synced_at: new Date(applied.migration_time.getTime() - 86_400_000) });
  }, 60_000);

  afterAll(async () => {
    mock?.stop();
    await database?.drop();
  });

  const rulesOf = (ws: string) => database.db('workspaces').where({ id: ws }).first('analytics_rules').then((r: { analytics_rules: number | null }) => r.analytics_rules);
  const transform = (ws: string) => database.db('stripe_prices').where({ workspace_id: ws, id: example.id }).first('transform_quantity').then((r: { transform_quantity: unknown }) => r.transform_quantity);

  it('reads again the prices of the workspaces that hold stale ones, once', async () => {
    expect(example.transform_quantity).not.toBeNull();
    expect(await workspacesWithStalePriceTerms(database.db)).toEqual(['ws_no_key', 'ws_stale']);
    const deps = { db: database.db, keyring, stripe: mock.clients, log: createLogger('silent', 'test') };
    expect(await refreshStalePriceTerms(deps)).toEqual({ workspaces: 1, prices: 2, failed: 0 });
    expect(await transform('ws_stale')).toEqual(example.transform_quantity);
    expect(await database.db('stripe_prices').where({ workspace_id: 'ws_stale', id: 'price_archived_since' }).first('transform_quantity')).toEqual({ transform_quantity: example.transform_quantity });
    // A price written since the terms were kept is not stale, whatever its terms; a workspace without a key cannot be read.
    expect(await transform('ws_fresh')).toBeNull();
    expect(await transform('ws_no_key')).toBeNull();
    expect(await workspacesWithStalePriceTerms(database.db)).toEqual(['ws_no_key']);
    expect(await refreshStalePriceTerms(deps)).toEqual({ workspaces: 0, prices: 0, failed: 0 });
    // Its MRR was worked out from the prices as they were: to be recomputed.
    expect(await rulesOf('ws_stale')).toBeNull();
  });

  it('reads the products that prices name but the mirror does not hold, once', async () => {
    // A price first seen in a subscription's event, of a product created since the sync.
    for (const ws of ['ws_fresh', 'ws_no_key']) await upsertPrices(database.db, ws, [{ ...example, id: 'price_of_new_product', product: 'prod_launched' }], new Date());
    expect(await workspacesWithUnknownProducts(database.db)).toEqual(expect.arrayContaining(['ws_fresh', 'ws_no_key']));
    const deps = { db: database.db, keyring, stripe: mock.clients, log: createLogger('silent', 'test') };
    const first = await readUnknownProducts(deps);
    expect(first.failed).toBe(0);
    expect(await database.db('stripe_products').where({ workspace_id: 'ws_fresh', id: 'prod_launched' }).first('id')).toEqual({ id: 'prod_launched' });
    // A workspace without a key cannot be read, and is asked again at the next run.
    expect(await database.db('stripe_products').where({ workspace_id: 'ws_no_key', id: 'prod_launched' }).first('id')).toBeUndefined();
    expect(await workspacesWithUnknownProducts(database.db)).not.toContain('ws_fresh');
    expect(await readUnknownProducts(deps)).toMatchObject({ products: 0, failed: 0 });
    expect(await workspacesWithUnknownProducts(database.db)).toContain('ws_no_key');
  });

  it('recomputes the analytics of workspaces computed by older rules, or from prices read again, once', async () => {
    await seedMirror(database.db, 'ws_stale', [new CustomerBuilder('cus_stale').price('price_stale_m', 5_000, 'month').subscription('sub_stale', { items: ['price_stale_m'] }).monthly('sub_stale', 'price_stale_m', 5_000, '2026-08', 3).build()]);
    await seedMirror(database.db, 'ws_fresh', [new CustomerBuilder('cus_fresh').price('price_fresh_m', 7_000, 'month').subscription('sub_fresh', { items: ['price_fresh_m'] }).monthly('sub_fresh', 'price_fresh_m', 7_000, '2026-08', 3).build()]);
    await recomputeWorkspace(database.db, 'ws_fresh');
    expect(await rulesOf('ws_fresh')).toBe(ANALYTICS_RULES_VERSION);
    // ws_fresh computed by the rules before these: stale too; ws_no_key has no mirror to compute from.
    await database.db('workspaces').where({ id: 'ws_fresh' }).update({ analytics_rules: ANALYTICS_RULES_VERSION - 1 });
    expect(await workspacesWithStaleAnalytics(database.db)).toEqual(['ws_fresh', 'ws_stale']);
    const log = createLogger('silent', 'test');
    // Another worker catching up ws_fresh: left to it.
    const other = await database.db.transaction();
    try {
      expect(await tryCatchUpLock(other, 'analytics', 'ws_fresh')).toBe(true);
      expect(await recomputeStaleAnalytics({ db: database.db, log })).toEqual({ workspaces: 1, failed: 0 });
      expect(await rulesOf('ws_fresh')).toBe(ANALYTICS_RULES_VERSION - 1);
    } finally {
      await other.rollback();
    }
    expect(await recomputeStaleAnalytics({ db: database.db, log })).toEqual({ workspaces: 1, failed: 0 });
    for (const ws of ['ws_fresh', 'ws_stale']) expect(await rulesOf(ws)).toBe(ANALYTICS_RULES_VERSION);
    expect(await database.db('analytics_customers').where({ workspace_id: 'ws_stale', customer_id: 'cus_stale' }).first()).toBeDefined();
    expect(await recomputeStaleAnalytics({ db: database.db, log })).toEqual({ workspaces: 0, failed: 0 });
  });
});
