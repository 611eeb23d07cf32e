import Stripe from 'stripe';

/** The currencies every generated account sells in, with a rough price factor against usd. */
export const CURRENCIES = ['usd', 'eur', 'gbp'] as const;
export type Currency = (typeof CURRENCIES)[number];
const CURRENCY_FACTOR: Record<Currency, number> = { usd: 1, eur: 0.95, gbp: 0.8 };

export type BillingInterval = 'monthly' | 'quarterly' | 'annual';
export const INTERVALS: Record<BillingInterval, { interval: 'month' | 'year'; count: number; discount: number }> = {
  monthly: { interval: 'month', count: 1, discount: 1 },
  quarterly: { interval: 'month', count: 3, discount: 0.95 },
  annual: { interval: 'year', count: 1, discount: 0.83 },
};

/** A plan tier: flat plans bill one unit, per-seat plans bill one unit per seat. */
export interface Tier {
  key: string;
  name: string;
  order: number;
  perSeat: boolean;
  /** Monthly amount in usd cents (per seat for per-seat tiers). */
  monthlyUsd: number;
  seatsIncluded: number;
  apiCallsPerMonth: number;
  /** Reports a month the plan allows (the product's `reports_generated` signals); null: unlimited. */
  reportsPerMonth: number | null;
  /**
   * A seat discount, sold as a tiered `volume` price: up to `upTo` seats each seat
   * costs the list amount, above it every seat costs `discount` (a share) less.
   */
  volume?: { upTo: number; discount: number };
}

export const TIERS: readonly Tier[] = [
  { key: 'starter', name: 'Starter', order: 1, perSeat: false, monthlyUsd: 2_900, seatsIncluded: 3, apiCallsPerMonth: 10_000, reportsPerMonth: 150 },
  { key: 'growth', name: 'Growth', order: 2, perSeat: false, monthlyUsd: 9_900, seatsIncluded: 10, apiCallsPerMonth: 100_000, reportsPerMonth: 1_000 },
  { key: 'scale', name: 'Scale', order: 3, perSeat: true, monthlyUsd: 2_500, seatsIncluded: 1, apiCallsPerMonth: 1_000_000, reportsPerMonth: null },
  { key: 'enterprise', name: 'Enterprise', order: 4, perSeat: true, monthlyUsd: 4_500, seatsIncluded: 1, apiCallsPerMonth: 10_000_000, reportsPerMonth: null, volume: { upTo: 20, discount: 0.15 } },
];

/** Metered overage: billed per 1,000 API calls above the plan, monthly in arrears. */
export const METERED_UNIT_USD = 200;

export interface Catalog {
  products: Stripe.Product[];
  prices: Stripe.Price[];
  coupons: Stripe.Coupon[];
  overageProduct: Stripe.Product;
  /** prices[tier][interval][currency] */
  planPrice: (tier: Tier, interval: BillingInterval, currency: Currency) => Stripe.Price;
  meteredPrice: (currency: Currency) => Stripe.Price;
  /** Sells `next` wherever `old` was sold (a price change): later signups and plan changes take it. */
  replacePrice: (old: Stripe.Price, next: Stripe.Price) => void;
}

// Round to whole currency units so prices look like list prices.
const wholeUnits = (amount: number): number => Math.round(amount / 100) * 100;

export function priceAmount(tier: Tier, interval: BillingInterval, currency: Currency): number {
  const { count, discount } = INTERVALS[interval];
  const months = interval === 'annual' ? 12 : count;
  return wholeUnits(tier.monthlyUsd * months * discount * CURRENCY_FACTOR[currency]);
}

/** How a price bills: so much a unit, or by volume tiers (every unit at the tier the quantity falls in). */
type Pricing = { unitAmount: number } | { volumeTiers: Stripe.Price.Tier[] };

/** A tier of whole minor units a unit, with no flat amount. */
function unitTier(upTo: number | null, unitAmount: number): Stripe.Price.Tier {
  return { flat_amount: null, flat_amount_decimal: null, unit_amount: unitAmount, unit_amount_decimal: decimal(unitAmount), up_to: upTo };
}

/** What a plan price of the tier charges: its list amount a unit, or that up to the volume break and the discounted amount above it. */
function tierPricing(tier: Tier, interval: BillingInterval, currency: Currency): Pricing {
  const list = priceAmount(tier, interval, currency);
  if (!tier.volume) return { unitAmount: list };
  return { volumeTiers: [unitTier(tier.volume.upTo, list), unitTier(null, wholeUnits(list * (1 - tier.volume.discount)))] };
}

export function decimal(value: number | string): Stripe.Decimal {
  return Stripe.Decimal.from(value);
}

export function buildProduct(id: string, created: number, name: string, description: string, metadata: Record<string, string>): Stripe.Product {
  return {
    id,
    object: 'product',
    active: true,
    created,
    default_price: null,
    description,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata,
    name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: 'service',
    unit_label: null,
    updated: created,
    url: null,
  };
}

export function buildPrice(p: {
  id: string;
  created: number;
  product: string;
  currency: string;
  pricing: Pricing;
  interval: 'month' | 'year';
  intervalCount: number;
  metered?: { meter: string };
  nickname: string;
  lookupKey: string | null;
  metadata: Record<string, string>;
}): Stripe.Price {
  const unitAmount = 'unitAmount' in p.pricing ? p.pricing.unitAmount : null;
  const price: Stripe.Price = {
    id: p.id,
    object: 'price',
    active: true,
    billing_scheme: unitAmount === null ? 'tiered' : 'per_unit',
    created: p.created,
    currency: p.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: p.lookupKey,
    metadata: p.metadata,
    nickname: p.nickname,
    product: p.product,
    recurring: {
      interval: p.interval,
      interval_count: p.intervalCount,
      meter: p.metered ? p.metered.meter : null,
      trial_period_days: null,
      usage_type: p.metered ? 'metered' : 'licensed',
    },
    tax_behavior: 'exclusive',
    tiers_mode: unitAmount === null ? 'volume' : null,
    transform_quantity: null,
    type: 'recurring',
    // A tiered price states no amount of its own, as in Stripe: its tiers do.
    unit_amount: unitAmount,
    unit_amount_decimal: unitAmount === null ? null : decimal(unitAmount),
  };
  // Stored with the price (they bill its invoices); answered only when expanded (sim/includable.ts).
  if ('volumeTiers' in p.pricing) price.tiers = p.pricing.volumeTiers;
  return price;
}

/** The legacy Plan view of a recurring price, which Stripe still embeds in subscription items. */
export function planOf(price: Stripe.Price): Stripe.Plan {
  const recurring = price.recurring;
  if (!recurring) throw new Error(`price ${price.id} is not recurring`);
  return {
    id: price.id,
    object: 'plan',
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: price.billing_scheme,
    created: price.created,
    currency: price.currency,
    interval: recurring.interval,
    interval_count: recurring.interval_count,
    livemode: false,
    metadata: price.metadata,
    meter: recurring.meter,
    nickname: price.nickname,
    product: typeof price.product === 'string' ? price.product : price.product.id,
    tiers_mode: price.tiers_mode,
    transform_usage: null,
    trial_period_days: null,
    usage_type: recurring.usage_type,
    // The plan shares the price's tiers, and like them they are answered only when expanded.
    ...(price.tiers ? { tiers: price.tiers } : {}),
  };
}

export function buildCoupon(c: {
  id: string;
  created: number;
  name: string;
  duration: Stripe.Coupon.Duration;
  durationInMonths?: number;
  percentOff?: number;
  amountOff?: { amount: number; currency: Currency };
  /** The products it is restricted to; stored on the coupon, and answered only when expanded (sim/includable.ts). */
  appliesTo?: string[];
}): Stripe.Coupon {
  const coupon: Stripe.Coupon = {
    id: c.id,
    object: 'coupon',
    amount_off: c.amountOff ? c.amountOff.amount : null,
    created: c.created,
    currency: c.amountOff ? c.amountOff.currency : null,
    duration: c.duration,
    duration_in_months: c.durationInMonths ?? null,
    livemode: false,
    max_redemptions: null,
    metadata: {},
    name: c.name,
    percent_off: c.percentOff ?? null,
    redeem_by: null,
    times_redeemed: 0,
    valid: true,
  };
  if (c.appliesTo) coupon.applies_to = { products: c.appliesTo };
  return coupon;
}

/** Products, prices and coupons of a generated account, all created at `created`. */
export function buildCatalog(created: number, newId: (prefix: string, len?: number) => string): Catalog {
  const products: Stripe.Product[] = [];
  const prices: Stripe.Price[] = [];
  const byKey = new Map<string, Stripe.Price>();
  let t = created;
  for (const tier of TIERS) {
    const product = buildProduct(newId('prod', 14), t++, tier.name, `${tier.name} plan${tier.perSeat ? ', billed per seat' : ''}`, {
      tier: tier.key,
      tier_order: String(tier.order),
      seats_included: String(tier.seatsIncluded),
      api_calls_per_month: String(tier.apiCallsPerMonth),
      // A usage limit the product mapping reads (limitsFromMetadata), which the expansion play pitches against.
      limit_reports_generated: tier.reportsPerMonth === null ? 'unlimited' : String(tier.reportsPerMonth),
      billing: tier.perSeat ? 'per_seat' : 'flat',
    });
    products.push(product);
    for (const currency of CURRENCIES) {
      for (const interval of Object.keys(INTERVALS) as BillingInterval[]) {
        const { interval: unit, count } = INTERVALS[interval];
        const price = buildPrice({
          id: newId('price_1', 24),
          created: t++,
          product: product.id,
          currency,
          pricing: tierPricing(tier, interval, currency),
          interval: unit,
          intervalCount: count,
          nickname: `${tier.name} ${interval} (${currency.toUpperCase()})`,
          lookupKey: `${tier.key}_${interval}_${currency}`,
          metadata: { tier: tier.key, interval },
        });
        prices.push(price);
        byKey.set(`${tier.key}/${interval}/${currency}`, price);
        if (interval === 'monthly' && currency === 'usd') product.default_price = price.id;
      }
    }
  }
  const overageProduct = buildProduct(newId('prod', 14), t++, 'API overage', 'API calls above the plan limit, per 1,000 calls', {
    kind: 'metered_overage',
    unit: '1000_api_calls',
  });
  products.push(overageProduct);
  const meter = newId('mtr_test_', 24);
  for (const currency of CURRENCIES) {
    const price = buildPrice({
      id: newId('price_1', 24),
      created: t++,
      product: overageProduct.id,
      currency,
      pricing: { unitAmount: Math.round(METERED_UNIT_USD * CURRENCY_FACTOR[currency]) },
      interval: 'month',
      intervalCount: 1,
      metered: { meter },
      nickname: `API overage per 1,000 calls (${currency.toUpperCase()})`,
      lookupKey: `api_overage_${currency}`,
      metadata: { kind: 'metered_overage' },
    });
    prices.push(price);
    byKey.set(`metered/${currency}`, price);
  }
  overageProduct.default_price = byKey.get('metered/usd')?.id ?? null;

  const coupons = [
    buildCoupon({ id: 'WELCOME20', created: t++, name: '20% off the first invoice', duration: 'once', percentOff: 20 }),
    buildCoupon({ id: 'LAUNCH25X3', created: t++, name: '25% off for 3 months', duration: 'repeating', durationInMonths: 3, percentOff: 25 }),
    buildCoupon({ id: 'PARTNER10', created: t++, name: '10% off forever', duration: 'forever', percentOff: 10 }),
    buildCoupon({ id: 'SAVE15USD', created: t++, name: '$15 off once', duration: 'once', amountOff: { amount: 1_500, currency: 'usd' } }),
    buildCoupon({ id: 'EUR5FOREVER', created: t++, name: '€5 off forever', duration: 'forever', amountOff: { amount: 500, currency: 'eur' } }),
    buildCoupon({ id: 'GBP10X6', created: t, name: '£10 off for 6 months', duration: 'repeating', durationInMonths: 6, amountOff: { amount: 1_000, currency: 'gbp' } }),
  ];

  const get = (key: string): Stripe.Price => {
    const price = byKey.get(key);
    if (!price) throw new Error(`no catalog price ${key}`);
    return price;
  };
  return {
    products,
    prices,
    coupons,
    overageProduct,
    planPrice: (tier, interval, currency) => get(`${tier.key}/${interval}/${currency}`),
    meteredPrice: (currency) => get(`metered/${currency}`),
    replacePrice: (old, next) => {
      for (const [key, price] of byKey) if (price === old) byKey.set(key, next);
    },
  };
}
