import { describe, expect, it } from 'vitest';
import { resolveDiscounts } from '../../domain/mirror-discounts';

const full = (id: string, percentOff: number) => ({ id, coupon: { id: `co_${id}`, percent_off: percentOff, amount_off: null, currency: null, duration: 'forever', duration_in_months: null }, start: 1, end: null });

describe('resolveDiscounts', () => {
  it('completes bare ids from the stored terms of the same discounts, in the event order', () => {
    const stored = [full('di_a', 10), full('di_b', 20)];
    expect(resolveDiscounts([{ id: 'di_b' }, { id: 'di_a' }], stored)).toEqual({ terms: [stored[1], stored[0]], complete: true });
  });

  it('drops a discount the event no longer lists', () => {
    expect(resolveDiscounts([{ id: 'di_a' }], [full('di_a', 10), full('di_b', 20)])).toEqual({ terms: [full('di_a', 10)], complete: true });
  });

  it('keeps terms the event carries itself (an expanded discount)', () => {
    expect(resolveDiscounts([full('di_c', 30)], [])).toEqual({ terms: [full('di_c', 30)], complete: true });
    expect(resolveDiscounts([], [full('di_a', 10)])).toEqual({ terms: [], complete: true });
  });

  it('is incomplete for an id without stored terms (added, not mirrored yet, or stored bare), and keeps the terms it knows', () => {
    expect(resolveDiscounts([{ id: 'di_a' }, { id: 'di_new' }], [full('di_a', 10)])).toEqual({ terms: [full('di_a', 10), { id: 'di_new' }], complete: false });
    expect(resolveDiscounts([{ id: 'di_a' }], undefined)).toEqual({ terms: [{ id: 'di_a' }], complete: false });
    expect(resolveDiscounts([{ id: 'di_a' }], [{ id: 'di_a' }])).toEqual({ terms: [{ id: 'di_a' }], complete: false });
    expect(resolveDiscounts([{ id: 'di_a' }], 'not a list')).toEqual({ terms: [{ id: 'di_a' }], complete: false });
  });
});
