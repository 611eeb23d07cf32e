import { describe, expect, it } from 'vitest';
import { entryPriceText } from '../../web/src/format';

describe("a plan's entry price on the Plans page", () => {
  it('reads as what it buys: a unit, a package of units with how a part one bills, or one unit of tiers', () => {
    expect(entryPriceText(1_500, 'usd', { per: 'unit' })).toEqual({ price: '$15.00/mo', note: null });
    expect(entryPriceText(20_000, 'usd', { per: 'package', units: 10, round: 'down' })).toEqual({ price: '$200.00 per 10 units/mo', note: 'rounded down: 19 units bill as 1 package' });
    expect(entryPriceText(20_000, 'eur', { per: 'package', units: 1_000, round: 'up' })).toEqual({ price: '€200.00 per 1,000 units/mo', note: 'rounded up: 1,001 units bill as 2 packages' });
    expect(entryPriceText(4_500, 'usd', { per: 'tiers', mode: 'volume' })).toEqual({ price: '$45.00/mo for 1 unit', note: "volume tiers: the quantity's tier prices every unit" });
    expect(entryPriceText(500, 'jpy', { per: 'tiers', mode: 'graduated' })).toEqual({ price: '¥500/mo for 1 unit', note: 'graduated tiers: each tier prices its own units' });
  });
});
