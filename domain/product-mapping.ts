/**
 * Product mapping: each Stripe product that is sold by subscription becomes a plan
 * with a name, a tier rank (1 = cheapest) and limits. Defaults come from the
 * catalogue; a workspace overrides any of it. Plays read the ranks to find "the next
 * plan up" and "the next plan down".
 */
import { perMonth, isInterval } from './period-months';
import { periodAmount, priceBasis, smallestPurchase, type PriceBasis, type PriceTerms } from './price-amount';

export interface CatalogProduct {
  id: string;
  name: string;
  active: boolean;
  metadata: Record<string, string>;
}

/** A price of the catalogue: its terms (what it charges, domain/price-amount.ts) and how often it bills. */
export interface CatalogPrice extends PriceTerms {
  id: string;
  productId: string;
  active: boolean;
  currency: string;
  type: string;
  interval: string | null;
  intervalCount: number | null;
  metadata: Record<string, string>;
}

/** metric -> included amount; null means unlimited. */
export type Limits = Record<string, number | null>;

/** A limit's metric name: what the API accepts and the web page parses. */
export const LIMIT_METRIC = /^[a-z0-9_]{1,64}$/;
/** A limit's amount as text: a whole number Number() holds exactly. */
const LIMIT_AMOUNT = /^\d{1,15}$/;

/**
 * An empty set of limits with no prototype: a metric may be named `__proto__` or
 * `constructor` like any other, and assigning it must make an entry, not change the object.
 */
const noLimits = (): Limits => Object.create(null) as Limits;

/** Limits as a person writes them: `seats=5, api_calls=unlimited`. */
export function limitsText(limits: Limits): string {
  return Object.entries(limits)
    .map(([metric, n]) => `${metric}=${n === null ? 'unlimited' : n}`)
    .join(', ');
}

/** Whether two sets of limits say the same, whatever their order. */
export function limitsEqual(a: Limits, b: Limits): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** Limits written in `limitsText`'s form, or what is wrong with them. */
export function parseLimits(text: string): Limits | string {
  const out = noLimits();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(part);
    if (!m) return `"${part}" is not metric=number or metric=unlimited`;
    const metric = m[1]!.toLowerCase();
    const value = m[2]!.toLowerCase();
    if (!LIMIT_METRIC.test(metric)) return `"${metric}": a metric is 1-64 lower-case letters, digits and _`;
    if (value !== 'unlimited' && !LIMIT_AMOUNT.test(value)) return `"${part}": the amount is a whole number or unlimited`;
    if (Object.hasOwn(out, metric)) return `"${metric}" is given twice`;
    out[metric] = value === 'unlimited' ? null : Number(value);
  }
  return out;
}

export interface PlanMapping {
  productId: string;
  productName: string;
  planName: string;
  tierRank: number;
  limits: Limits;
  /** The plan's entry price per month in the ranking currency (minor units), when it has one. */
  monthlyAmount: number | null;
  /**
   * What that amount buys: one unit, one package of units (a price sold in packages),
   * or one unit of a price by tiers, whose other quantities cost otherwise. Null
   * without an entry price.
   */
  entryBasis: PriceBasis | null;
  currency: string | null;
  source: 'default' | 'override';
}

export interface MappingOverride {
  productId: string;
  planName: string;
  tierRank: number;
  limits: Limits;
}

/**
 * What a recurring price charges a month at its smallest purchase, in minor units (its
 * amount for one unit, or one package of a price sold in packages, as Stripe bills it,
 * normalised to a month), or null when that is no fixed amount. One seat of "$200 per
 * 10 seats, rounded down" bills nothing; a plan is ranked by what it costs to have.
 */
export function monthlyAmount(p: CatalogPrice): number | null {
  const count = p.intervalCount ?? 1;
  if (p.type !== 'recurring' || !isInterval(p.interval) || count < 1) return null;
  const amount = periodAmount(p, smallestPurchase(p));
  return amount === null ? null : Math.round(perMonth(amount, p.interval, count));
}

const SEAT_KEYS = new Set(['seats', 'seats_included', 'included_seats']);

/**
 * Limits from metadata: `seats` / `seats_included` / `included_seats` give the seats
 * included; `limit_<metric>` (or `limit.<metric>`, `<metric>_limit`) a usage limit.
 * A value is a whole number or `unlimited`; anything else is ignored, and so is a
 * metric or an amount that an owner could not type back (LIMIT_METRIC, LIMIT_AMOUNT).
 */
export function limitsFromMetadata(meta: Record<string, string>): Limits {
  const out = noLimits();
  for (const [rawKey, rawValue] of Object.entries(meta)) {
    const key = rawKey.trim().toLowerCase();
    let metric: string | undefined;
    if (SEAT_KEYS.has(key)) metric = 'seats';
    else if (/^limit[_.:]/.test(key)) metric = key.slice(6);
    else if (/_limit$/.test(key)) metric = key.slice(0, -6);
    if (!metric || !LIMIT_METRIC.test(metric)) continue;
    const value = rawValue.trim().toLowerCase();
    if (value === 'unlimited' || value === 'inf' || value === '-1') out[metric] = null;
    else if (LIMIT_AMOUNT.test(value)) out[metric] = Number(value);
  }
  return out;
}

/** The currency most plans are priced in: ranks compare amounts in it. */
function rankingCurrency(plans: { product: CatalogProduct; prices: CatalogPrice[] }[]): string | null {
  const counts = new Map<string, number>();
  for (const { prices } of plans) for (const c of new Set(prices.map((p) => p.currency))) counts.set(c, (counts.get(c) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return sorted[0]?.[0] ?? null;
}

/**
 * The rank a product's metadata gives it (`tier_rank`, else `tier_order`: a whole
 * number from 1, keys read as limitsFromMetadata reads them), or null. A catalogue
 * that orders its own plans knows better than prices do: a per-seat plan's price is
 * for one seat, and a flat plan's for the whole team.
 */
function declaredRank(meta: Record<string, string>): number | null {
  const values = new Map(Object.entries(meta).map(([k, v]) => [k.trim().toLowerCase(), v.trim()]));
  for (const key of ['tier_rank', 'tier_order']) {
    const text = values.get(key);
    if (text !== undefined && /^[1-9]\d{0,5}$/.test(text)) return Number(text);
  }
  return null;
}

/**
 * Defaults: products with a recurring price, ranked by the rank their metadata
 * declares (declaredRank) when every product with an entry price declares one, else
 * by the cheapest monthly price in the ranking currency (active prices preferred):
 * half a catalogue ranked by hand and half by price would put the undeclared cheap
 * plan above them all. Products without an entry price (metered only) come last.
 * Plan name from `metadata.plan_name` or the product name, limits from product
 * metadata overlaid by the entry price's.
 */
export function deriveDefaults(products: CatalogProduct[], prices: CatalogPrice[]): PlanMapping[] {
  const byProduct = new Map<string, CatalogPrice[]>();
  for (const p of prices) if (p.type === 'recurring') byProduct.set(p.productId, [...(byProduct.get(p.productId) ?? []), p]);
  const plans = products.filter((p) => byProduct.has(p.id)).map((product) => ({ product, prices: byProduct.get(product.id)! }));
  const currency = rankingCurrency(plans);
  const entries = plans.map(({ product, prices: ps }) => {
    const candidates = ps
      .filter((p) => p.currency === currency && p.usageType !== 'metered')
      .map((p) => ({ price: p, monthly: monthlyAmount(p) }))
      .filter((c): c is { price: CatalogPrice; monthly: number } => c.monthly !== null)
      .sort((a, b) => Number(b.price.active) - Number(a.price.active) || a.monthly - b.monthly);
    const entry = candidates[0];
    return {
      product,
      declared: declaredRank(product.metadata),
      monthly: entry?.monthly ?? null,
      basis: entry ? priceBasis(entry.price) : null,
      limits: { ...limitsFromMetadata(product.metadata), ...limitsFromMetadata(entry?.price.metadata ?? {}) },
    };
  });
  const byDeclared = entries.every((e) => e.monthly === null || e.declared !== null);
  const declared = (e: (typeof entries)[number]) => (byDeclared && e.declared !== null ? e.declared : Number.MAX_SAFE_INTEGER);
  entries.sort(
    (a, b) =>
      declared(a) - declared(b) ||
      (a.monthly === null ? 1 : 0) - (b.monthly === null ? 1 : 0) ||
      (a.monthly ?? 0) - (b.monthly ?? 0) ||
      a.product.name.localeCompare(b.product.name) ||
      a.product.id.localeCompare(b.product.id),
  );
  return entries.map((e, i) => ({
    productId: e.product.id,
    productName: e.product.name,
    planName: e.product.metadata.plan_name?.trim() || e.product.name,
    tierRank: i + 1,
    limits: e.limits,
    monthlyAmount: e.monthly,
    entryBasis: e.basis,
    currency: e.monthly === null ? null : currency,
    source: 'default' as const,
  }));
}

export interface MappingProblem {
  path: string;
  message: string;
}

/**
 * What is wrong with a set of overrides against the defaults: products that are not
 * plans of this workspace, and tier ranks held twice once the overrides are applied.
 * Paths name the field of the request body (`products.<i>.<field>`).
 */
export function overrideProblems(defaults: PlanMapping[], overrides: MappingOverride[]): MappingProblem[] {
  const problems: MappingProblem[] = [];
  const known = new Set(defaults.map((d) => d.productId));
  const seenProduct = new Map<string, number>();
  overrides.forEach((o, i) => {
    if (!known.has(o.productId)) problems.push({ path: `products.${i}.productId`, message: `unknown product ${o.productId}: not a subscription product of this workspace` });
    const prior = seenProduct.get(o.productId);
    if (prior !== undefined) problems.push({ path: `products.${i}.productId`, message: `product ${o.productId} is listed twice (also at products.${prior})` });
    seenProduct.set(o.productId, i);
  });
  if (problems.length) return problems;
  const holders = new Map<number, string>();
  const overridden = new Set(overrides.map((o) => o.productId));
  for (const d of defaults) if (!overridden.has(d.productId)) holders.set(d.tierRank, `${d.productId} (default)`);
  overrides.forEach((o, i) => {
    const holder = holders.get(o.tierRank);
    if (holder) problems.push({ path: `products.${i}.tierRank`, message: `tier rank ${o.tierRank} is also held by ${holder}` });
    else holders.set(o.tierRank, `products.${i}`);
  });
  return problems;
}

/** The effective mapping: defaults with overrides applied, ordered by tier rank. */
export function applyOverrides(defaults: PlanMapping[], overrides: MappingOverride[]): PlanMapping[] {
  const byId = new Map(overrides.map((o) => [o.productId, o]));
  return defaults
    .map((d) => {
      const o = byId.get(d.productId);
      return o ? { ...d, planName: o.planName, tierRank: o.tierRank, limits: o.limits, source: 'override' as const } : d;
    })
    .sort((a, b) => a.tierRank - b.tierRank || a.productId.localeCompare(b.productId));
}

/** The plans one step up and down from a product (for upgrade and downgrade plays). */
export function neighbours(mapping: PlanMapping[], productId: string): { up: PlanMapping | null; down: PlanMapping | null } {
  const sorted = [...mapping].sort((a, b) => a.tierRank - b.tierRank);
  const i = sorted.findIndex((m) => m.productId === productId);
  if (i < 0) return { up: null, down: null };
  return { up: sorted[i + 1] ?? null, down: sorted[i - 1] ?? null };
}
