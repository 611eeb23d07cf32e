/** A price's terms as the mirror keeps them (stripe_prices), or as Stripe sends them. */
export interface PriceTerms {
  unitAmount: number | null;
  /** `per_unit` or `tiered`; null reads as `per_unit` (legacy plans). */
  billingScheme: string | null;
  /** `metered` items bill the period's use, unknown until it closes. */
  usageType: string | null;
  /** `volume` or `graduated` for tiered prices. */
  tiersMode: string | null;
  /** The tiers as Stripe lists them (db/mirror.ts `priceRow`); anything else reads as unknown. */
  tiers: unknown;
  /**
   * Package pricing, as Stripe sends it (`{ divide_by, round }`): null or absent for
   * none; anything else reads as unknown.
   */
  transformQuantity: unknown;
}

/** A price's terms as a stripe_prices row holds them (db/price-terms.ts selects them; the metrics' MirrorPrice has them too). */
export interface PriceTermRow {
  unit_amount: string | number | null;
  billing_scheme: string | null;
  recurring_usage_type: string | null;
  tiers_mode: string | null;
  tiers: unknown;
  transform_quantity: unknown;
}

/** A row's price terms (`unit_amount` is a bigint, which pg may hand over as a string). */
export const priceTerms = (r: PriceTermRow): PriceTerms => ({
  unitAmount: r.unit_amount === null ? null : Number(r.unit_amount),
  billingScheme: r.billing_scheme,
  usageType: r.recurring_usage_type,
  tiersMode: r.tiers_mode,
  tiers: r.tiers,
  transformQuantity: r.transform_quantity,
});

/**
 * One tier as the mirror stores it. A tier whose unit (or flat) amount is null and
 * whose `_decimal` twin is not is priced in fractions of a minor unit; a tier stored
 * before the twins were kept (the key absent) cannot tell a flat-only tier from one.
 * Only whether a twin is null matters: it is a string as stored, a Decimal as
 * stripe-node hands it over.
 */
interface Tier {
  up_to: number | null;
  unit_amount: number | null;
  unit_amount_decimal: unknown;
  flat_amount: number | null;
  flat_amount_decimal: unknown;
}

// Read by hand, not by a schema library: the web bundle ranks plans with this module too (domain/product-mapping.ts).
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isWholeOrNull = (v: unknown): v is number | null => v === null || isWhole(v);

const isTier = (t: unknown): t is Tier =>
  isRecord(t) &&
  (t.up_to === null || (isWhole(t.up_to) && t.up_to >= 0)) &&
  isWholeOrNull(t.unit_amount) &&
  t.unit_amount_decimal !== undefined &&
  isWholeOrNull(t.flat_amount) &&
  t.flat_amount_decimal !== undefined;

/** The tiers as stored, or null when they are missing or unreadable. */
const storedTiers = (tiers: unknown): Tier[] | null => (Array.isArray(tiers) && tiers.length > 0 && tiers.every(isTier) ? tiers : null);

const noTransform = (transform: unknown): boolean => transform === null || transform === undefined;

/** A quantity transform as stored (`{ divide_by, round }`), or null when it is unreadable. */
function storedTransform(transform: unknown): { divide_by: number; round: 'up' | 'down' } | null {
  if (!isRecord(transform)) return null;
  const { divide_by: by, round } = transform;
  return isWhole(by) && by > 0 && (round === 'up' || round === 'down') ? { divide_by: by, round } : null;
}

/**
 * How many units Stripe bills for `quantity` (a whole number of at least 0) under a
 * price's `transform_quantity`: with none, the quantity itself; with one, the quantity
 * divided by `divide_by` and rounded `up` or `down` to a whole number (package pricing:
 * $20 per 10 seats bills 12 seats as 2 packages when rounding up, 1 when rounding
 * down). Null when the transform is there but unreadable.
 */
export function billedQuantity(transform: unknown, quantity: number): number | null {
  if (noTransform(transform)) return quantity;
  const parsed = storedTransform(transform);
  if (!parsed) return null;
  const { divide_by: by, round } = parsed;
  // In integers: a float quotient rounded the wrong way would bill a package more or less.
  const packages = (quantity - (quantity % by)) / by;
  return round === 'up' && quantity % by !== 0 ? packages + 1 : packages;
}

/**
 * The least a customer can buy of a price, in units: one package of a price sold in
 * packages (what a plan costs at its smallest), else one unit.
 */
export const smallestPurchase = (terms: PriceTerms): number => storedTransform(terms.transformQuantity)?.divide_by ?? 1;

/**
 * What a price's amount is for, as a person reads it: each unit, each package of
 * `units` (a part package billed whole when `round` is `up`, not at all when `down`),
 * or the quantity by tiers (`volume`: one tier prices every unit; `graduated`: each
 * tier its own units). Null when the terms do not tell (an unreadable transform, a
 * tier mode Stripe does not have).
 */
export type PriceBasis = { per: 'unit' } | { per: 'package'; units: number; round: 'up' | 'down' } | { per: 'tiers'; mode: 'volume' | 'graduated' };

export function priceBasis(terms: PriceTerms): PriceBasis | null {
  if (terms.billingScheme === 'tiered') return terms.tiersMode === 'volume' || terms.tiersMode === 'graduated' ? { per: 'tiers', mode: terms.tiersMode } : null;
  if (noTransform(terms.transformQuantity)) return { per: 'unit' };
  const parsed = storedTransform(terms.transformQuantity);
  if (!parsed) return null;
  // A package of one bills as a unit does.
  return parsed.divide_by === 1 ? { per: 'unit' } : { per: 'package', units: parsed.divide_by, round: parsed.round };
}

/**
 * What one unit costs, where the price states it so: its unit amount, unless it is
 * tiered (Stripe sends none) or sold in packages (the amount is a package's).
 */
export const unitPrice = (terms: PriceTerms): number | null => (noTransform(terms.transformQuantity) ? terms.unitAmount : null);

/** A tier's unit or flat amount in whole minor units: 0 when neither is set, null when only a fraction is. */
const whole = (amount: number | null, decimal: unknown): number | null => (amount !== null ? amount : decimal === null ? 0 : null);

/**
 * What one billing period of a licensed item charges for `quantity` units, before
 * discounts and tax, in minor units, as Stripe works it out:
 * - per unit: the unit amount times the quantity, or times the packages the quantity
 *   makes where the price sets a `transform_quantity` (billedQuantity);
 * - tiered `volume`: every unit at the tier the quantity falls in, plus its flat amount;
 * - tiered `graduated`: each tier's units at that tier's amount, plus the flat amount
 *   of every tier the quantity reaches.
 * Null when it is not a fixed amount the terms tell: metered (billed on use), a
 * fraction of a minor unit, a quantity transform that is unreadable, tiers missing or
 * unreadable (Stripe sends them only when asked), or no units of a tiered price with
 * a flat amount (whether a first tier's flat amount is due then is Stripe's call, not
 * ours to guess; without any, none is 0).
 */
export function periodAmount(terms: PriceTerms, quantity: number): number | null {
  if (terms.usageType === 'metered' || !Number.isInteger(quantity) || quantity < 0) return null;
  if (terms.billingScheme !== 'tiered') {
    const billed = billedQuantity(terms.transformQuantity, quantity);
    return terms.unitAmount === null || billed === null ? null : terms.unitAmount * billed;
  }
  // Stripe refuses a quantity transform on a tiered price: the tiers alone price it.
  const tiers = storedTiers(terms.tiers);
  if (!tiers) return null;
  if (quantity === 0) return tiers.some((t) => (t.flat_amount ?? 0) > 0 || (t.flat_amount === null && t.flat_amount_decimal !== null)) ? null : 0;
  if (terms.tiersMode === 'volume') return volumeAmount(tiers, quantity);
  if (terms.tiersMode === 'graduated') return graduatedAmount(tiers, quantity);
  return null;
}

function volumeAmount(tiers: Tier[], quantity: number): number | null {
  const tier = tiers.find((t) => t.up_to === null || quantity <= t.up_to);
  if (!tier) return null;
  const unit = whole(tier.unit_amount, tier.unit_amount_decimal);
  const flat = whole(tier.flat_amount, tier.flat_amount_decimal);
  return unit === null || flat === null ? null : unit * quantity + flat;
}

function graduatedAmount(tiers: Tier[], quantity: number): number | null {
  let total = 0;
  let below = 0;
  for (const tier of tiers) {
    const unit = whole(tier.unit_amount, tier.unit_amount_decimal);
    const flat = whole(tier.flat_amount, tier.flat_amount_decimal);
    if (unit === null || flat === null) return null;
    const top = tier.up_to === null ? quantity : Math.min(quantity, tier.up_to);
    total += unit * (top - below) + flat;
    below = top;
    if (below >= quantity) return total;
  }
  // The last tier stops short of the quantity: Stripe always ends with an open tier, so these tiers are not all of them.
  return null;
}
