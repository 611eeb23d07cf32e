import type { Db } from './knex';

/** The stripe_prices columns a price's amount is worked out from (domain/price-amount.ts), as `p.` of a join. */
export const PRICE_TERM_COLUMNS = ['p.unit_amount', 'p.billing_scheme', 'p.recurring_usage_type', 'p.tiers_mode', 'p.tiers', 'p.transform_quantity'] as const;

// How a row of those columns reads as PriceTerms lives with the amounts, so the metrics (domain/mrr) read a price the same way.
export { priceTerms, type PriceTermRow } from '../domain/price-amount';

/** The migration from which the mirror keeps every term a price's amount depends on (package pricing: 032; tiers' mode and decimals: 030 before it). */
export const PRICE_TERMS_COMPLETE_SINCE = '032_price_transform_quantity';

/** A price (`p`) written before PRICE_TERMS_COMPLETE_SINCE was applied: its terms are not all read (the one binding is that name). */
const STALE_PRICE = `p.synced_at < (select m.migration_time from knex_migrations m where m.name = ?)`;

/**
 * The workspaces holding prices mirrored before PRICE_TERMS_COMPLETE_SINCE was applied:
 * their package terms (and maybe tiers) were never read, so a price of $20 per 10
 * seats reads as $20 a seat until it is read again.
 */
export async function workspacesWithStalePriceTerms(db: Db): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { workspace_id: string }[] }>(
    `select distinct p.workspace_id from stripe_prices p where ${STALE_PRICE} order by p.workspace_id`,
    [PRICE_TERMS_COMPLETE_SINCE],
  );
  return rows.map((r) => r.workspace_id);
}

/** The workspace's prices still stale (db/price-terms.ts workspacesWithStalePriceTerms), by id. */
export async function stalePriceIds(db: Db, workspaceId: string): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `select p.id from stripe_prices p where p.workspace_id = ? and ${STALE_PRICE} order by p.id`,
    [workspaceId, PRICE_TERMS_COMPLETE_SINCE],
  );
  return rows.map((r) => r.id);
}

/**
 * Settles a stale price Stripe no longer has (it answered 404 for it): its terms will
 * never be read, and it keeps what it holds rather than be asked about every hour.
 */
export async function settlePrice(db: Db, workspaceId: string, priceId: string): Promise<void> {
  await db('stripe_prices').where({ workspace_id: workspaceId, id: priceId }).update({ synced_at: db.fn.now() });
}
