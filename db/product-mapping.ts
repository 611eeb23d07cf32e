import type { Db } from './knex';
import type { Money } from '../domain/dunning-templates';
import { periodAmount } from '../domain/price-amount';
import { PRICE_TERM_COLUMNS, priceTerms, type PriceTermRow } from './price-terms';
import { applyOverrides, deriveDefaults, type CatalogPrice, type CatalogProduct, type Limits, type MappingOverride, type PlanMapping } from '../domain/product-mapping';

/** The workspace's catalogue from the mirror, in the shape the mapping logic reads. */
export async function loadCatalog(db: Db, workspaceId: string): Promise<{ products: CatalogProduct[]; prices: CatalogPrice[] }> {
  const products = await db('stripe_products').select('id', 'name', 'active', 'metadata').where({ workspace_id: workspaceId });
  const prices = await db('stripe_prices as p')
    .select<(PriceTermRow & { id: string; product_id: string; active: boolean; currency: string; type: string; recurring_interval: string | null; recurring_interval_count: number | null; metadata: Record<string, string> })[]>(
      'p.id',
      'p.product_id',
      'p.active',
      'p.currency',
      ...PRICE_TERM_COLUMNS,
      'p.type',
      'p.recurring_interval',
      'p.recurring_interval_count',
      'p.metadata',
    )
    .where({ 'p.workspace_id': workspaceId });
  return {
    products: products.map((p: { id: string; name: string; active: boolean; metadata: Record<string, string> }) => ({ id: p.id, name: p.name, active: p.active, metadata: p.metadata })),
    prices: prices.map((p) => ({
      ...priceTerms(p),
      id: p.id,
      productId: p.product_id,
      active: p.active,
      currency: p.currency.trim(),
      type: p.type,
      interval: p.recurring_interval,
      intervalCount: p.recurring_interval_count,
      metadata: p.metadata,
    })),
  };
}

/** The mapping as derived from the catalogue (`defaults`) and the workspace's overrides of it. */
export async function mappingParts(db: Db, workspaceId: string): Promise<{ defaults: PlanMapping[]; overrides: MappingOverride[] }> {
  const { products, prices } = await loadCatalog(db, workspaceId);
  return { defaults: deriveDefaults(products, prices), overrides: await listOverrides(db, workspaceId) };
}

/** The workspace's effective mapping (defaults with its overrides), ordered by tier rank. */
export async function effectiveMapping(db: Db, workspaceId: string): Promise<PlanMapping[]> {
  const { defaults, overrides } = await mappingParts(db, workspaceId);
  return applyOverrides(defaults, overrides);
}

/**
 * What a customer would pay for a plan on their own terms: the lowest of the
 * product's active prices with a fixed amount in their currency and billing period,
 * each for their plan item's quantity (per unit, or by its tiers: a per-seat plan
 * with volume tiers costs what their seat count costs). The mapping ranks plans in
 * one currency, and a customer is offered a plan in their own. Null when the plan
 * has no such price.
 */
export async function priceForCustomer(db: Db, workspaceId: string, productId: string, item: { interval: string; intervalCount: number; quantity: number; price: Money }): Promise<Money | null> {
  const { prices } = await loadCatalog(db, workspaceId);
  const currency = item.price.currency.toLowerCase();
  const amounts = prices
    .filter((p) => p.productId === productId && p.active && p.currency === currency && p.interval === item.interval && (p.intervalCount ?? 1) === item.intervalCount)
    .map((p) => periodAmount(p, item.quantity))
    .filter((a): a is number => a !== null);
  return amounts.length ? { amount: Math.min(...amounts), currency: item.price.currency } : null;
}

export async function listOverrides(db: Db, workspaceId: string): Promise<MappingOverride[]> {
  const rows = await db<{ workspace_id: string; product_id: string; plan_name: string; tier_rank: number; limits: Limits }>('product_mapping_overrides')
    .select('product_id', 'plan_name', 'tier_rank', 'limits')
    .where({ workspace_id: workspaceId })
    .orderBy('tier_rank');
  return rows.map((r) => ({ productId: r.product_id, planName: r.plan_name, tierRank: r.tier_rank, limits: r.limits }));
}

/** Replaces the workspace's overrides with `overrides` (products not listed go back to their defaults). */
export async function replaceOverrides(db: Db, workspaceId: string, overrides: MappingOverride[], actor: string): Promise<void> {
  await db('product_mapping_overrides').where({ workspace_id: workspaceId }).delete();
  if (!overrides.length) return;
  await db('product_mapping_overrides').insert(
    overrides.map((o) => ({ workspace_id: workspaceId, product_id: o.productId, plan_name: o.planName, tier_rank: o.tierRank, limits: JSON.stringify(o.limits), updated_by: actor })),
  );
}
