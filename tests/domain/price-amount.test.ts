import { describe, expect, it } from 'vitest';
import { billedQuantity, periodAmount, priceBasis, unitPrice, type PriceTerms } from '../../domain/price-amount';

const tier = (upTo: number | null, unit: number | null, flat: number | null = null, decimals: { unit?: string; flat?: string } = {}) => ({
  up_to: upTo,
  unit_amount: unit,
  unit_amount_decimal: decimals.unit ?? (unit === null ? null : String(unit)),
  flat_amount: flat,
  flat_amount_decimal: decimals.flat ?? (flat === null ? null : String(flat)),
});
const perUnit = (unitAmount: number | null, more: Partial<PriceTerms> = {}): PriceTerms => ({ unitAmount, billingScheme: 'per_unit', usageType: 'licensed', tiersMode: null, tiers: null, transformQuantity: null, ...more });
const tiered = (tiersMode: 'volume' | 'graduated', tiers: unknown): PriceTerms => ({ unitAmount: null, billingScheme: 'tiered', usageType: 'licensed', tiersMode, tiers, transformQuantity: null });
/** Seats: the first 5 at $10, the next 5 at $8, any more at $6, with a $50 platform fee on the first tier. */
const seats = [tier(5, 1_000, 5_000), tier(10, 800), tier(null, 600)];

describe('what a period of a price charges', () => {
  it('charges a unit amount per unit', () => {
    expect(periodAmount(perUnit(2_500), 4)).toBe(10_000);
    expect(periodAmount(perUnit(2_500, { billingScheme: null }), 1)).toBe(2_500);
  });

  it('charges per package for a price that divides the quantity, rounded as the price says', () => {
    // $20 per 10 seats.
    const packs = (round: string) => perUnit(2_000, { transformQuantity: { divide_by: 10, round } });
    expect(periodAmount(packs('up'), 12)).toBe(2 * 2_000);
    expect(periodAmount(packs('up'), 10)).toBe(2_000);
    expect(periodAmount(packs('up'), 1)).toBe(2_000);
    expect(periodAmount(packs('up'), 0)).toBe(0);
    expect(periodAmount(packs('down'), 12)).toBe(2_000);
    expect(periodAmount(packs('down'), 20)).toBe(2 * 2_000);
    expect(periodAmount(packs('down'), 9)).toBe(0);
    // At Stripe's own example's package size: 3 × 1,592,560,163 units are 3 packages exactly, and one unit more, rounded up, is 4.
    expect(billedQuantity({ divide_by: 1_592_560_163, round: 'down' }, 3 * 1_592_560_163)).toBe(3);
    expect(billedQuantity({ divide_by: 1_592_560_163, round: 'up' }, 3 * 1_592_560_163 + 1)).toBe(4);
    // No transform (Stripe sends null; a price mirrored before it was kept has none stored) bills every unit.
    expect(periodAmount(perUnit(2_000, { transformQuantity: undefined }), 12)).toBe(12 * 2_000);
    // A package's amount is no unit's price.
    expect(unitPrice(packs('up'))).toBeNull();
    expect(unitPrice(perUnit(2_000))).toBe(2_000);
  });

  it('charges every unit at the tier the quantity falls in, with its flat amount, for volume tiers', () => {
    expect(periodAmount(tiered('volume', seats), 3)).toBe(3 * 1_000 + 5_000);
    expect(periodAmount(tiered('volume', seats), 5)).toBe(5 * 1_000 + 5_000);
    expect(periodAmount(tiered('volume', seats), 7)).toBe(7 * 800);
    expect(periodAmount(tiered('volume', seats), 12)).toBe(12 * 600);
  });

  it('charges each tier its own units and the flat amount of every tier reached, for graduated tiers', () => {
    expect(periodAmount(tiered('graduated', seats), 3)).toBe(3 * 1_000 + 5_000);
    expect(periodAmount(tiered('graduated', seats), 7)).toBe(5 * 1_000 + 5_000 + 2 * 800);
    expect(periodAmount(tiered('graduated', seats), 12)).toBe(5 * 1_000 + 5_000 + 5 * 800 + 2 * 600);
    // A flat-only first tier: up to 10 users for $100, then $9 each.
    expect(periodAmount(tiered('graduated', [tier(10, null, 10_000), tier(null, 900)]), 14)).toBe(10_000 + 4 * 900);
  });

  it('charges nothing for no units of a tiered price without flat amounts', () => {
    expect(periodAmount(tiered('graduated', [tier(5, 1_000), tier(null, 800)]), 0)).toBe(0);
    expect(periodAmount(tiered('volume', [tier(5, 1_000), tier(null, 800)]), 0)).toBe(0);
    // A flat amount of 0 is none.
    expect(periodAmount(tiered('volume', [tier(5, 1_000, 0), tier(null, 800)]), 0)).toBe(0);
  });

  it('tells no amount where the terms do not fix one', () => {
    // Billed on use.
    expect(periodAmount(perUnit(2_500, { usageType: 'metered' }), 1)).toBeNull();
    // A fraction of a minor unit: Stripe sends a null unit amount and only its decimal twin.
    expect(periodAmount(perUnit(null), 3)).toBeNull();
    expect(periodAmount(tiered('volume', [tier(null, null, null, { unit: '0.5' })]), 3)).toBeNull();
    expect(periodAmount(tiered('graduated', [tier(5, 1_000), tier(null, null, null, { unit: '7.25' })]), 8)).toBeNull();
    // Tiers Stripe did not send, tiers stored without their decimal twins, an unknown mode, a last tier that is not open.
    expect(periodAmount(tiered('volume', null), 3)).toBeNull();
    expect(periodAmount(tiered('volume', [{ up_to: null, unit_amount: null, flat_amount: 5_000 }]), 3)).toBeNull();
    expect(periodAmount({ ...tiered('volume', seats), tiersMode: null }, 3)).toBeNull();
    expect(periodAmount(tiered('graduated', [tier(5, 1_000)]), 8)).toBeNull();
    // A quantity transform that cannot be read: no divisor, a divisor of 0 or a fraction, a rounding Stripe does not have.
    for (const transformQuantity of ['10', { round: 'up' }, { divide_by: 0, round: 'up' }, { divide_by: 2.5, round: 'down' }, { divide_by: 10, round: 'nearest' }]) {
      expect(periodAmount(perUnit(2_000, { transformQuantity }), 12), JSON.stringify(transformQuantity)).toBeNull();
    }
    // No units of a tiered price with a flat amount (due or not is Stripe's call), or a quantity that is not a count.
    expect(periodAmount(tiered('volume', seats), 0)).toBeNull();
    expect(periodAmount(perUnit(2_500), 1.5)).toBeNull();
  });

  it('says what an amount is for: a unit, a package of units and how a part one rounds, or a quantity by tiers', () => {
    expect(priceBasis(perUnit(2_500))).toEqual({ per: 'unit' });
    expect(priceBasis(perUnit(2_500, { billingScheme: null, transformQuantity: undefined }))).toEqual({ per: 'unit' });
    expect(priceBasis(perUnit(20_000, { transformQuantity: { divide_by: 10, round: 'down' } }))).toEqual({ per: 'package', units: 10, round: 'down' });
    expect(priceBasis(perUnit(20_000, { transformQuantity: { divide_by: 10, round: 'up' } }))).toEqual({ per: 'package', units: 10, round: 'up' });
    // A package of one bills as a unit does.
    expect(priceBasis(perUnit(2_500, { transformQuantity: { divide_by: 1, round: 'up' } }))).toEqual({ per: 'unit' });
    expect(priceBasis(tiered('volume', seats))).toEqual({ per: 'tiers', mode: 'volume' });
    expect(priceBasis(tiered('graduated', seats))).toEqual({ per: 'tiers', mode: 'graduated' });
    // Terms that do not tell: an unreadable transform, a tier mode Stripe does not have.
    expect(priceBasis(perUnit(2_000, { transformQuantity: { divide_by: 0, round: 'up' } }))).toBeNull();
    expect(priceBasis({ ...tiered('volume', seats), tiersMode: null })).toBeNull();
  });
});
