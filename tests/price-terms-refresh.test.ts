import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { upsertPrices } from '../db/mirror';
import { PRICE_TERMS_COMPLETE_SINCE, workspacesWithStalePriceTerms } from '../db/price-terms';
import { insertWorkspace } from '../db/workspaces';
import { generateKeySpec, parseKeyring } from '../platform/crypto';
import { createLogger } from '../platform/logger';
import { refreshStalePriceTerms } from '../workers/price-terms-refresh';
import { freshDatabase } from './helpers/db';
import { startStripeMock } from './setup/stripe-mock';

/**
 * Prices mirrored before the mirror kept their package terms are read again from
 * Stripe (stripe-mock, whose example price is sold in packages), and no others.
 */
describe('the refresh of prices mirrored before their terms were kept', () => {
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
    const applied = await database.db('knex_migrations').where({ name: PRICE_TERMS_COMPLETE_SINCE }).first<{ migration_time: Date }>('migration_time');
    await database.db('stripe_prices').whereIn('workspace_id', ['ws_stale', 'ws_no_key']).update({ synced_at: new Date(applied.migration_time.getTime() - 86_400_000) });
  }, 60_000);

  afterAll(async () => {
    mock?.stop();
    await database?.drop();
  });

  const transform = (ws: string) => database.db('stripe_prices').where({ workspace_id: ws, id: example.id }).first('transform_quantity').then((r: { transform_quantity: unknown }) => r.transform_quantity);

  it('reads again the prices of the workspaces that hold stale ones, once', async () => {
    expect(example.transform_quantity).not.toBeNull();
    expect(await workspacesWithStalePriceTerms(database.db)).toEqual(['ws_no_key', 'ws_stale']);
    const deps = { db: database.db, keyring, stripe: mock.clients, log: createLogger('silent', 'test') };
    expect(await refreshStalePriceTerms(deps)).toEqual({ workspaces: 1, prices: 1, failed: 0 });
    expect(await transform('ws_stale')).toEqual(example.transform_quantity);
    // A price written since the terms were kept is not stale, whatever its terms; a workspace without a key cannot be read.
    expect(await transform('ws_fresh')).toBeNull();
    expect(await transform('ws_no_key')).toBeNull();
    expect(await workspacesWithStalePriceTerms(database.db)).toEqual(['ws_no_key']);
    expect(await refreshStalePriceTerms(deps)).toEqual({ workspaces: 0, prices: 0, failed: 0 });
  });
});
