import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { monthlyValue } from '../domain/plan-value';
import { applyOverrides, deriveDefaults, limitsEqual, limitsFromMetadata, limitsText, monthlyAmount, neighbours, overrideProblems, parseLimits, type CatalogPrice, type CatalogProduct, type MappingOverride } from '../domain/product-mapping';
import { effectiveRate, fullBucket, pauseUntil, reserve, retryDelayMs, type Bucket, type BucketConfig } from '../domain/rate-limit';
import { checkStripeKey } from '../domain/stripe-keys';
import { estimateResource, overallEta, terminalRows } from '../domain/sync-progress';
import { historyWindowStart, parseWorkspaceSettings } from '../domain/workspace-settings';

describe('token bucket', () => {
  it('never lets more than rate * window + burst requests start in any window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }), (rate, gaps) => {
        const config: BucketConfig = { ratePerSecond: rate, burst: 1 };
        let bucket: Bucket = fullBucket(config, 0);
        let now = 0;
        const starts: number[] = [];
        for (const gap of gaps) {
          now += gap;
          const r = reserve(bucket, config, now);
          bucket = r.bucket;
          starts.push(now + r.waitMs);
        }
        starts.sort((a, b) => a - b);
        // Consecutive starts are at least 1/rate apart (allowing float rounding).
        for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1000 / rate - 1e-6);
      }),
    );
  });

  it('serves concurrent callers in order, one interval apart', () => {
    const config = { ratePerSecond: 10, burst: 1 };
    let bucket = fullBucket(config, 0);
    const waits = [0, 1, 2, 3].map(() => {
      const r = reserve(bucket, config, 0);
      bucket = r.bucket;
      return r.waitMs;
    });
    expect(waits).toEqual([0, 100, 200, 300]);
  });

  it('holds everyone until a pause ends', () => {
    const config = { ratePerSecond: 10, burst: 1 };
    const paused = pauseUntil(fullBucket(config, 0), 2000);
    expect(reserve(paused, config, 500).waitMs).toBe(1500 + 100);
  });

  it('caps the rate at Stripe\'s limits only against Stripe itself', () => {
    expect(effectiveRate({ livemode: false, realStripe: true })).toBe(20);
    expect(effectiveRate({ livemode: true, realStripe: true })).toBe(80);
    expect(effectiveRate({ configured: 500, livemode: true, realStripe: true })).toBe(100);
    expect(effectiveRate({ configured: 500, livemode: false, realStripe: true })).toBe(25);
    expect(effectiveRate({ configured: 500, livemode: false, realStripe: false })).toBe(500);
  });

  it('honours Retry-After, else backs off exponentially with bounded jitter', () => {
    expect(retryDelayMs(3, 2, 0.5)).toBe(2000);
    expect(retryDelayMs(1, undefined, 0)).toBe(500);
    expect(retryDelayMs(3, undefined, 0)).toBe(2000);
    expect(retryDelayMs(10, undefined, 0)).toBe(8000);
    expect(retryDelayMs(1, undefined, 1)).toBe(625);
  });
});

describe('Stripe keys', () => {
  it('refuses full-access live keys with the way to a restricted key', () => {
    const r = checkStripeKey('sk_live_abc123');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain('Create a restricted key');
  });
  it('accepts restricted and test keys, telling the mode', () => {
    expect(checkStripeKey('rk_live_abc')).toEqual({ ok: true, livemode: true, kind: 'restricted' });
    expect(checkStripeKey('rk_test_abc')).toEqual({ ok: true, livemode: false, kind: 'restricted' });
    expect(checkStripeKey('sk_test_abc')).toEqual({ ok: true, livemode: false, kind: 'secret' });
    expect(checkStripeKey('pk_test_abc').ok).toBe(false);
    expect(checkStripeKey('whsec_abc').ok).toBe(false);
  });
});

const product = (id: string, name: string, metadata: Record<string, string> = {}): CatalogProduct => ({ id, name, active: true, metadata });
const price = (id: string, productId: string, unitAmount: number, interval: string, over: Partial<CatalogPrice> = {}): CatalogPrice => ({
  id,
  productId,
  active: true,
  currency: 'usd',
  unitAmount,
  billingScheme: 'per_unit',
  tiersMode: null,
  tiers: null,
  transformQuantity: null,
  type: 'recurring',
  interval,
  intervalCount: 1,
  usageType: 'licensed',
  metadata: {},
  ...over,
});

describe('product mapping', () => {
  it('normalises prices to a month', () => {
    expect(monthlyAmount(price('p', 'x', 12000, 'year'))).toBe(1000);
    expect(monthlyAmount(price('p', 'x', 3000, 'month', { intervalCount: 3 }))).toBe(1000);
    expect(monthlyAmount(price('p', 'x', 500, 'month', { type: 'one_time', interval: null }))).toBeNull();
  });

  it('normalises days and weeks as a plan\'s worth a month and MRR do: 365 days and 52 weeks a year', () => {
    expect(monthlyAmount(price('p', 'x', 100, 'day'))).toBe(3_042);
    expect(monthlyAmount(price('p', 'x', 1_000, 'week'))).toBe(4_333);
    for (const [amount, interval] of [[100, 'day'], [1_000, 'week'], [700, 'week']] as const) {
      expect(monthlyAmount(price('p', 'x', amount, interval))).toBe(monthlyValue([{ amount, currency: 'usd', interval, intervalCount: 1 }])!.amount);
    }
    // $10 a week is less a month than $43.40 a month: the weekly plan ranks below.
    const weekly = [product('prod_weekly', 'Weekly'), product('prod_monthly', 'Monthly')];
    expect(deriveDefaults(weekly, [price('price_w', 'prod_weekly', 1_000, 'week'), price('price_m', 'prod_monthly', 4_340, 'month')]).map((m) => [m.productId, m.monthlyAmount])).toEqual([
      ['prod_weekly', 4_333],
      ['prod_monthly', 4_340],
    ]);
  });

  it('charges a month what one unit of the price costs a period, as Stripe bills it', () => {
    const tier = (upTo: number | null, unit: number | null, flat: number | null, unitDecimal: string | null = unit === null ? null : String(unit)) => ({
      up_to: upTo,
      unit_amount: unit,
      unit_amount_decimal: unitDecimal,
      flat_amount: flat,
      flat_amount_decimal: flat === null ? null : String(flat),
    });
    const terms: Partial<CatalogPrice>[] = [
      // Volume tiers: $30 a seat and a $20 fee up to 5, $25 beyond.
      { unitAmount: null, billingScheme: 'tiered', tiersMode: 'volume', tiers: [tier(5, 3_000, 2_000), tier(null, 2_500, null)] },
      // Half a cent a call beside a $9 fee: not a whole number of cents, so no fixed amount to rank by.
      { unitAmount: null, billingScheme: 'tiered', tiersMode: 'graduated', tiers: [tier(1_000, null, 900, '0.5'), tier(null, null, null, '0.25')] },
      // $20 per 10 seats: ranked by one package, whichever way a part-package rounds (one seat rounded down bills nothing).
      { unitAmount: 2_000, transformQuantity: { divide_by: 10, round: 'up' } },
      { unitAmount: 2_000, transformQuantity: { divide_by: 10, round: 'down' } },
    ];
    expect(terms.map((t) => monthlyAmount(price('p', 'x', 0, 'month', t)))).toEqual([5_000, null, 2_000, 2_000]);
  });

  it("says what a plan's entry price buys: a unit, a package of units, or one unit of a price by tiers", () => {
    const plans = [product('prod_flat', 'Flat'), product('prod_packs', 'Packs'), product('prod_tiers', 'Tiers'), product('prod_metered', 'Metered')];
    const tiers = [
      { up_to: 5, unit_amount: 3_000, unit_amount_decimal: '3000', flat_amount: null, flat_amount_decimal: null },
      { up_to: null, unit_amount: 2_500, unit_amount_decimal: '2500', flat_amount: null, flat_amount_decimal: null },
    ];
    const d = deriveDefaults(plans, [
      price('price_flat', 'prod_flat', 1_000, 'month'),
      // $200 per 10 seats, a year: its entry is one package.
      price('price_packs', 'prod_packs', 240_000, 'year', { transformQuantity: { divide_by: 10, round: 'down' } }),
      price('price_tiers', 'prod_tiers', 0, 'month', { unitAmount: null, billingScheme: 'tiered', tiersMode: 'graduated', tiers }),
      price('price_metered', 'prod_metered', 200, 'month', { usageType: 'metered' }),
    ]);
    expect(d.map((m) => [m.productId, m.monthlyAmount, m.entryBasis])).toEqual([
      ['prod_flat', 1_000, { per: 'unit' }],
      ['prod_tiers', 3_000, { per: 'tiers', mode: 'graduated' }],
      ['prod_packs', 20_000, { per: 'package', units: 10, round: 'down' }],
      ['prod_metered', null, null],
    ]);
  });

  it('reads limits from metadata, ignoring what is not a count', () => {
    expect(limitsFromMetadata({ seats_included: '5', limit_api_calls: '10000', projects_limit: 'unlimited', colour: 'red', limit_x: '-3' })).toEqual({
      seats: 5,
      api_calls: 10000,
      projects: null,
    });
  });

  const products = [product('prod_pro', 'Pro', { seats: '10' }), product('prod_basic', 'Basic', { plan_name: 'Starter' }), product('prod_team', 'Team'), product('prod_tshirt', 'T-shirt')];
  const prices = [
    price('price_pro_y', 'prod_pro', 480000, 'year', { metadata: { limit_api_calls: '1000000' } }),
    price('price_basic', 'prod_basic', 1000, 'month'),
    price('price_team', 'prod_team', 9000, 'month', { metadata: { seats: '3' } }),
    price('price_team_eur', 'prod_team', 8000, 'month', { currency: 'eur' }),
    price('price_tshirt', 'prod_tshirt', 2000, 'month', { type: 'one_time', interval: null }),
  ];

  it('ranks subscription products by monthly price, with names and limits from metadata', () => {
    const d = deriveDefaults(products, prices);
    expect(d.map((m) => [m.productId, m.tierRank, m.planName, m.monthlyAmount])).toEqual([
      ['prod_basic', 1, 'Starter', 1000],
      ['prod_team', 2, 'Team', 9000],
      ['prod_pro', 3, 'Pro', 40000],
    ]);
    expect(d.find((m) => m.productId === 'prod_pro')!.limits).toEqual({ seats: 10, api_calls: 1000000 });
    expect(d.find((m) => m.productId === 'prod_team')!.limits).toEqual({ seats: 3 });
    expect(neighbours(d, 'prod_team')).toMatchObject({ up: { productId: 'prod_pro' }, down: { productId: 'prod_basic' } });
  });

  it('ranks by the tier every priced product declares in metadata, else by price', () => {
    const declared = [product('prod_pro', 'Pro', { tier_rank: '1' }), product('prod_basic', 'Basic', { ' Tier_Order ': '3' }), product('prod_team', 'Team', { tier_rank: 'first', tier_order: '2' }), product('prod_tshirt', 'T-shirt')];
    expect(deriveDefaults(declared, prices).map((m) => [m.productId, m.tierRank])).toEqual([
      ['prod_pro', 1],
      // An unreadable tier_rank leaves tier_order to say.
      ['prod_team', 2],
      ['prod_basic', 3],
    ]);
    // One priced product without a declared tier: the hand-made order would rank it above them all, so prices rank every one.
    const partly = [product('prod_pro', 'Pro', { tier_rank: '1' }), product('prod_basic', 'Basic'), product('prod_team', 'Team', { tier_rank: '2' })];
    expect(deriveDefaults(partly, prices).map((m) => m.productId)).toEqual(['prod_basic', 'prod_team', 'prod_pro']);
  });

  it('names the field of unknown products and duplicate ranks, and applies valid overrides', () => {
    const d = deriveDefaults(products, prices);
    expect(overrideProblems(d, [{ productId: 'prod_tshirt', planName: 'X', tierRank: 9, limits: {} }])).toEqual([{ path: 'products.0.productId', message: expect.stringContaining('unknown product') as string }]);
    expect(overrideProblems(d, [{ productId: 'prod_basic', planName: 'X', tierRank: 2, limits: {} }])[0]!.path).toBe('products.0.tierRank');
    const swap: MappingOverride[] = [
      { productId: 'prod_basic', planName: 'Basic', tierRank: 2, limits: {} },
      { productId: 'prod_team', planName: 'Team', tierRank: 1, limits: { seats: 4 } },
    ];
    expect(overrideProblems(d, swap)).toEqual([]);
    expect(applyOverrides(d, swap).map((m) => [m.productId, m.tierRank, m.source])).toEqual([
      ['prod_team', 1, 'override'],
      ['prod_basic', 2, 'override'],
      ['prod_pro', 3, 'default'],
    ]);
  });

  it('writes limits as a person types them and reads them back, naming what is wrong', () => {
    expect(limitsText({ seats: 5, api_calls: null })).toBe('seats=5, api_calls=unlimited');
    expect(parseLimits('seats=5, api_calls=unlimited')).toEqual({ seats: 5, api_calls: null });
    expect(parseLimits(' Seats = 5 ,, ')).toEqual({ seats: 5 });
    expect(parseLimits('')).toEqual({});
    expect(parseLimits('seats')).toBe('"seats" is not metric=number or metric=unlimited');
    expect(parseLimits('api-calls=5')).toBe('"api-calls": a metric is 1-64 lower-case letters, digits and _');
    expect(parseLimits('seats=-1')).toBe('"seats=-1": the amount is a whole number or unlimited');
    expect(parseLimits('seats=2.5')).toBe('"seats=2.5": the amount is a whole number or unlimited');
    expect(parseLimits('seats=1, seats=2')).toBe('"seats" is given twice');
    // A metric named like an object's own property is a metric like any other.
    expect(parseLimits('constructor=3')).toEqual({ constructor: 3 });
    expect(limitsEqual({ seats: 5, api_calls: null }, { api_calls: null, seats: 5 })).toBe(true);
    expect(limitsEqual({ seats: 5 }, { seats: 5, api_calls: null })).toBe(false);
    expect(limitsEqual({ seats: 5, api_calls: 1 }, { seats: 5, api_calls: null })).toBe(false);
    expect(limitsEqual({}, { constructor: null })).toBe(false);
    // `__proto__` too is a metric: an entry of its own, not the object's prototype.
    const proto = parseLimits('__proto__=4') as Record<string, number | null>;
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toBe(4);
    // What the catalogue's metadata gives, an owner can type back: other names and amounts are left out.
    const fromStripe = limitsFromMetadata({ 'limit_api-calls': '5', limit_: '3', 'max seats_limit': '2', limit_rows: '1234567890123456', limit_ok: '7' });
    expect({ ...fromStripe }).toEqual({ ok: 7 });
    expect(parseLimits(limitsText(fromStripe))).toEqual(fromStripe);
  });
});

describe('sync progress', () => {
  it('counts the terminal rows a watch redraw moves up over: wrapped lines and lines inside a message', () => {
    expect(terminalRows(['short', ''], 80)).toBe(2);
    expect(terminalRows(['x'.repeat(80), 'x'.repeat(81)], 80)).toBe(3);
    // A Stripe error quoted in a warning may hold newlines: each is a row of its own.
    expect(terminalRows(['  ! reading invoices: first line\nsecond line\n' + 'y'.repeat(100)], 80)).toBe(4);
    expect(terminalRows(['abc'], 0)).toBe(3);
  });

  const now = new Date('2026-01-01T00:00:00Z');
  const windowStart = new Date('2024-01-01T00:00:00Z');
  it('estimates the share done from how far back the list has got', () => {
    const e = estimateResource(
      { resource: 'invoices', objects: 500, pages: 5, done: false, oldestCreated: new Date('2025-01-01T00:00:00Z'), startedAt: new Date(now.getTime() - 10_000) },
      now,
      windowStart,
    );
    expect(e.fraction).toBeCloseTo(365 / 731, 2);
    expect(e.etaSeconds).toBe(10);
    expect(overallEta([e, { ...e, resource: 'x', done: true, etaSeconds: 0 }])).toBe(10);
  });
  it('is done only when the list says so', () => {
    const e = estimateResource({ resource: 'customers', objects: 1, pages: 1, done: false, oldestCreated: new Date('2020-01-01T00:00:00Z'), startedAt: now }, now, windowStart);
    expect(e.fraction).toBe(0.99);
  });
});

describe('workspace settings', () => {
  it('defaults to 24 months and drops stored values that no longer validate', () => {
    expect(parseWorkspaceSettings({})).toEqual({ historyMonths: 24 });
    expect(parseWorkspaceSettings({ historyMonths: -1, stripeRateLimitRps: 50 })).toEqual({ historyMonths: 24, stripeRateLimitRps: 50 });
    expect(historyWindowStart(new Date('2026-03-31T12:00:00Z'), 24).toISOString()).toBe('2024-03-31T12:00:00.000Z');
  });
});
