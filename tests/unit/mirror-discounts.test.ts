import { describe, expect, it } from 'vitest';
import { fullyKnown, resolveDiscounts, resolveSubscriptionDiscounts } from '../../domain/mirror-discounts';

/** A discount as a sync stores it: the coupon's terms and its restriction (`applies_to`, null for none). */
const full = (id: string, percentOff: number, appliesTo: { products: string[] } | null = null) => ({
  id,
  coupon: { id: `co_${id}`, percent_off: percentOff, amount_off: null, currency: null, duration: 'forever', duration_in_months: null, applies_to: appliesTo },
  start: 1,
  end: null,
});
/** The same discount stored before the mirror kept a coupon's restriction (or an older version's whole discount in an event). */
const withoutRestriction = (id: string, percentOff: number) => {
  const { applies_to: _dropped, ...coupon } = full(id, percentOff).coupon;
  return { ...full(id, percentOff), coupon };
};

/** The discount's terms where a read could not give its coupon's restriction (the key may not read coupons, or the coupon is gone). */
const unreadable = (id: string, percentOff: number, why: 'refused' | 'gone') => {
  const { applies_to: _dropped, ...coupon } = full(id, percentOff).coupon;
  return { ...full(id, percentOff), coupon: { ...coupon, applies_to_unreadable: why } };
};
/** An item's discount whose coupon, named by id only, could not be read: no terms at all. */
const couponUnreadable = (id: string, why: 'refused' | 'gone') => ({ id, coupon: { id: `co_${id}`, applies_to_unreadable: why }, start: 1, end: null });

describe('resolveDiscounts', () => {
  it('completes bare ids from the stored terms of the same discounts, in the event order', () => {
    const stored = [full('di_a', 10), full('di_b', 20, { products: ['prod_x'] })];
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
    // An item's discounts as stored before their terms were kept: ids as Stripe listed them.
    expect(resolveDiscounts([{ id: 'di_a' }], ['di_a'])).toEqual({ terms: [{ id: 'di_a' }], complete: false });
  });

  it("is incomplete for terms without the coupon's restriction, keeping the fuller of the event's and the stored", () => {
    // Stored before the restriction was kept: the amount is kept, but only Stripe can tell the restriction.
    expect(resolveDiscounts([{ id: 'di_a' }], [withoutRestriction('di_a', 10)])).toEqual({ terms: [withoutRestriction('di_a', 10)], complete: false });
    // An older API version's event sends the discount whole, its coupon without a restriction: the stored full terms win.
    expect(resolveDiscounts([withoutRestriction('di_a', 10)], [full('di_a', 10)])).toEqual({ terms: [full('di_a', 10)], complete: true });
    expect(resolveDiscounts([withoutRestriction('di_a', 10)], [{ id: 'di_a' }])).toEqual({ terms: [withoutRestriction('di_a', 10)], complete: false });
  });
});

describe('discounts whose coupon could not be read', () => {
  it('are settled: an event listing them is complete, so Stripe is not asked again', () => {
    for (const why of ['refused', 'gone'] as const) {
      expect(resolveDiscounts([{ id: 'di_a' }], [unreadable('di_a', 10, why)])).toEqual({ terms: [unreadable('di_a', 10, why)], complete: true });
      expect(resolveDiscounts([{ id: 'di_i' }], [couponUnreadable('di_i', why)])).toEqual({ terms: [couponUnreadable('di_i', why)], complete: true });
    }
  });

  it('give way to full terms, stored or read, and take the amount from terms stored without a restriction', () => {
    expect(resolveDiscounts([unreadable('di_a', 10, 'refused')], [full('di_a', 10)])).toEqual({ terms: [full('di_a', 10)], complete: true });
    expect(resolveDiscounts([full('di_a', 10)], [unreadable('di_a', 10, 'refused')])).toEqual({ terms: [full('di_a', 10)], complete: true });
    expect(resolveDiscounts([couponUnreadable('di_a', 'gone')], [withoutRestriction('di_a', 10)])).toEqual({ terms: [unreadable('di_a', 10, 'gone')], complete: true });
    expect(resolveDiscounts([{ id: 'di_a' }], [withoutRestriction('di_a', 10)], [couponUnreadable('di_a', 'refused')])).toEqual({ terms: [unreadable('di_a', 10, 'refused')], complete: true });
  });

  it('are not fully known: stored terms can still add to them', () => {
    expect(fullyKnown({ discounts: [full('di_a', 10)], items: new Map([['si_plan', [full('di_b', 5)]]]) })).toBe(true);
    expect(fullyKnown({ discounts: [unreadable('di_a', 10, 'refused')], items: new Map() })).toBe(false);
    expect(fullyKnown({ discounts: [], items: new Map([['si_plan', [couponUnreadable('di_b', 'gone')]]]) })).toBe(false);
  });
});

describe('resolveSubscriptionDiscounts', () => {
  it("completes the subscription's and each item's bare ids from the stored subscription and items, one pool for both", () => {
    const storedSub = [full('di_sub', 10)];
    const storedItems = [[full('di_item', 25, { products: ['prod_plan'] })], null];
    const event = { discounts: [{ id: 'di_sub' }], items: new Map([['si_plan', [{ id: 'di_item' }]], ['si_addon', [{ id: 'di_sub' }]], ['si_new', []]]) };
    expect(resolveSubscriptionDiscounts(event, storedSub, storedItems)).toEqual({
      terms: { discounts: [full('di_sub', 10)], items: new Map([['si_plan', [full('di_item', 25, { products: ['prod_plan'] })]], ['si_addon', [full('di_sub', 10)]], ['si_new', []]]) },
      complete: true,
    });
  });

  it('is incomplete when an item lists a discount the mirror holds no full terms for', () => {
    const event = { discounts: [], items: new Map([['si_plan', [{ id: 'di_added' }]]]) };
    expect(resolveSubscriptionDiscounts(event, [], [[full('di_item', 25)]])).toEqual({ terms: { discounts: [], items: new Map([['si_plan', [{ id: 'di_added' }]]]) }, complete: false });
    expect(resolveSubscriptionDiscounts({ discounts: [], items: new Map([['si_plan', [{ id: 'di_item' }]]]) }, undefined, [['di_item']]).complete).toBe(false);
  });
});
