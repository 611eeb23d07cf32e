import type { PriceTerms } from '../domain/price-amount';

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
