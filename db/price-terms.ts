import type { PriceTerms } from '../domain/price-amount';
import type { Db } from './knex';

/** The stripe_prices columns a price's amount is worked out from (domain/price-amount.ts), as `p.` of a join. */
export const PRICE_TERM_COLUMNS = ['p.unit_amount', 'p.billing_scheme', 'p.recurring_usage_type', 'p.tiers_mode', 'p.tiers', 'p.transform_quantity'] as const;

export interface PriceTermRow {
  unit_amount: string | number | null;
  billing_scheme: string | null;
  recurring_usage_type: string | null;
  tiers_mode: string | null;
  tiers: unknown;
  transform_quantity: unknown;
}

/** A row's price terms (`unit_amount` is a bigint, which pg hands over as a string). */
export const priceTerms = (r: PriceTermRow): PriceTerms => ({
  unitAmount: r.unit_amount === null ? null : Number(r.unit_amount),
  billingScheme: r.billing_scheme,
  usageType: r.recurring_usage_type,
  tiersMode: r.tiers_mode,
  tiers: r.tiers,
  transformQuantity: r.transform_quantity,
});

/** The migration from which the mirror keeps every term a price's amount depends on (package pricing: 032; tiers' mode and decimals: 030 before it). */
export const PRICE_TERMS_COMPLETE_SINCE = '032_price_transform_quantity';

/**
 * The workspaces holding prices mirrored before PRICE_TERMS_COMPLETE_SINCE was applied:
 * their package terms (and maybe tiers) were never read, so a price of $20 per 10
 * seats reads as $20 a seat until it is read again.
 */
export async function workspacesWithStalePriceTerms(db: Db): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { workspace_id: string }[] }>(
    `select distinct p.workspace_id from stripe_prices p
      where p.synced_at < (select m.migration_time from knex_migrations m where m.name = ?)
      order by p.workspace_id`,
    [PRICE_TERMS_COMPLETE_SINCE],
  );
  return rows.map((r) => r.workspace_id);
}
