import { describe, expect, it } from 'vitest';
import { emailFacts } from '../../domain/outreach-facts';
import { DEFAULT_RENEWAL_TEMPLATES, exampleRenewalFacts, RENEWAL_FOLDS } from '../../domain/renewal';
import { renewalPrice as priceAt, type RenewingItem } from '../../domain/renewal-price';
import { renderTemplate, TemplateError, templateProblems } from '../../domain/templates';

const renewsAt = new Date('2027-03-01T00:00:00Z');
const seconds = (iso: string) => Date.parse(iso) / 1000;
const item = (unitAmount: number | null, quantity = 1, more: Partial<RenewingItem> = {}): RenewingItem => ({ unitAmount, quantity, currency: 'usd', usageType: 'licensed', billingScheme: 'per_unit', tiersMode: null, tiers: null, transformQuantity: null, interval: 'year', intervalCount: 1, ...more });
/** The renewal of a yearly subscription. */
const renewalPrice = (items: readonly RenewingItem[], discounts: unknown, at: Date) => priceAt(items, discounts, at, { interval: 'year', intervalCount: 1 });
/** A coupon's restriction as a read with `applies_to` gives it: the products, or null for none. */
type AppliesTo = { products: string[] } | null;
const percent = (pct: number, end: number | null = null, appliesTo: AppliesTo = null) => ({ id: `di_${pct}`, coupon: { id: `P${pct}`, percent_off: pct, amount_off: null, currency: null, duration: end ? 'repeating' : 'forever', applies_to: appliesTo }, start: seconds('2026-01-01T00:00:00Z'), end });
const amountOff = (amount: number, currency: string, appliesTo: AppliesTo = null) => ({ id: `di_a${amount}`, coupon: { id: `A${amount}`, percent_off: null, amount_off: amount, currency, duration: 'forever', applies_to: appliesTo }, start: seconds('2026-01-01T00:00:00Z'), end: null });
/** A discount stored before the mirror kept a coupon's restriction: its terms without `applies_to`. */
const unrestrictedUnknown = (d: ReturnType<typeof percent>) => {
  const { applies_to: _unknown, ...coupon } = d.coupon;
  return { ...d, coupon };
};

describe('what a subscription renews at', () => {
  it('adds every fixed item for its quantity', () => {
    // The plan at $990 and three extra seats at $120 a year.
    expect(renewalPrice([item(99_000), item(12_000, 3)], [], renewsAt)).toEqual({ price: { amount: 135_000, currency: 'usd' }, listPrice: { amount: 135_000, currency: 'usd' }, plusUsage: false, discountUnknown: false });
  });

  it('takes off a percent coupon line by line, rounding each as the invoice does', () => {
    // 15% of 333 is 49.95 and of 1,001 is 150.15: 50 and 150 off.
    expect(renewalPrice([item(333), item(1_001)], [percent(15)], renewsAt)?.price).toEqual({ amount: 1_134, currency: 'usd' });
  });

  it('applies only the discounts that still run at the renewal', () => {
    const endsBefore = percent(25, seconds('2027-02-01T00:00:00Z'));
    const endsAt = percent(30, seconds('2027-03-01T00:00:00Z'));
    const endsAfter = percent(10, seconds('2027-06-01T00:00:00Z'));
    expect(renewalPrice([item(99_000)], [endsBefore], renewsAt)?.price.amount).toBe(99_000);
    // A discount ending at the renewal's instant is gone by the renewal invoice.
    expect(renewalPrice([item(99_000)], [endsAt], renewsAt)?.price.amount).toBe(99_000);
    expect(renewalPrice([item(99_000)], [endsAfter], renewsAt)?.price.amount).toBe(89_100);
  });

  it('takes an amount coupon across the lines in its own currency only, never below zero', () => {
    expect(renewalPrice([item(1_000), item(800)], [amountOff(1_500, 'usd')], renewsAt)?.price.amount).toBe(300);
    expect(renewalPrice([item(1_000)], [amountOff(5_000, 'usd')], renewsAt)?.price.amount).toBe(0);
    // In another currency it applies through currency options the mirror does not keep: unknown.
    expect(renewalPrice([item(1_000)], [amountOff(500, 'eur')], renewsAt)).toMatchObject({ price: { amount: 1_000 }, discountUnknown: true });
    // In Stripe's order: $5 off, then 10% of what is left.
    expect(renewalPrice([item(10_000)], [amountOff(500, 'usd'), percent(10)], renewsAt)?.price.amount).toBe(8_550);
  });

  it('says when a discount runs whose terms the mirror does not hold, and reads anything unreadable as none', () => {
    // Quoted before every discount then, not after the known ones only.
    expect(renewalPrice([item(10_000)], [{ id: 'di_bare' }, percent(20)], renewsAt)).toMatchObject({ price: { amount: 10_000 }, discountUnknown: true });
    // A coupon named but not expanded is as unknown; one that ended before the renewal does not matter.
    expect(renewalPrice([item(10_000)], [{ id: 'di_named', coupon: { id: 'SPRING' }, end: null }], renewsAt)?.discountUnknown).toBe(true);
    expect(renewalPrice([item(10_000)], [{ id: 'di_old', coupon: { id: 'OLD' }, end: seconds('2027-01-01T00:00:00Z') }], renewsAt)?.discountUnknown).toBe(false);
    expect(renewalPrice([item(10_000)], 'garbage', renewsAt)).toMatchObject({ price: { amount: 10_000 }, discountUnknown: false });
  });

  it("takes an item's own discounts off its line alone, before the subscription's", () => {
    const plan = item(100_000, 1, { product: 'prod_plan', discounts: [amountOff(10_000, 'usd')] });
    const seats = item(20_000, 1, { product: 'prod_seats' });
    // $100 off the plan's line only (not the seats'), then 10% of each line: $810 + $180.
    expect(renewalPrice([plan, seats], [percent(10)], renewsAt)).toEqual({ price: { amount: 81_000 + 18_000, currency: 'usd' }, listPrice: { amount: 120_000, currency: 'usd' }, plusUsage: false, discountUnknown: false });
    // In Stripe's order: the item's 10% first, then the subscription's $100 off what is left across the lines.
    const tenOff = item(100_000, 1, { product: 'prod_plan', discounts: [percent(10)] });
    expect(renewalPrice([tenOff, seats], [amountOff(10_000, 'usd')], renewsAt)?.price.amount).toBe(90_000 - 10_000 + 20_000);
    // An item's own discount that ended before the renewal takes nothing off; an item billed at another period is not in the price.
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [percent(25, seconds('2027-01-01T00:00:00Z'))] })], [], renewsAt)?.price.amount).toBe(100_000);
    expect(renewalPrice([seats, item(1_000, 1, { interval: 'month', discounts: [{ id: 'di_unknown' }] })], [], renewsAt)).toMatchObject({ price: { amount: 20_000 }, discountUnknown: false });
  });

  it('takes a coupon restricted to products off the lines of those products only', () => {
    const plan = item(100_000, 1, { product: 'prod_plan' });
    const seats = item(20_000, 3, { product: 'prod_seats' });
    // 50% off the seats alone: $1,000 + $300.
    expect(renewalPrice([plan, seats], [percent(50, null, { products: ['prod_seats'] })], renewsAt)?.price.amount).toBe(100_000 + 30_000);
    // An amount restricted to the seats takes at most what their lines come to.
    expect(renewalPrice([plan, seats], [amountOff(100_000, 'usd', { products: ['prod_seats'] })], renewsAt)?.price.amount).toBe(100_000);
    // Restricted to a product the subscription does not have: nothing off.
    expect(renewalPrice([plan], [percent(50, null, { products: ['prod_other'] })], renewsAt)).toMatchObject({ price: { amount: 100_000 }, discountUnknown: false });
    // An item's own restricted coupon likewise.
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [percent(50, null, { products: ['prod_seats'] })] })], [], renewsAt)?.price.amount).toBe(100_000);
  });

  it("quotes before discounts where a coupon's restriction, or a restricted coupon's line, is not known", () => {
    const plan = item(100_000, 1, { product: 'prod_plan' });
    // Stored before the mirror kept restrictions: it may be restricted to another product.
    expect(renewalPrice([plan], [unrestrictedUnknown(percent(10))], renewsAt)).toMatchObject({ price: { amount: 100_000 }, listPrice: { amount: 100_000 }, discountUnknown: true });
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [unrestrictedUnknown(percent(10))] })], [], renewsAt)?.discountUnknown).toBe(true);
    // A restricted coupon and a line whose product is not known; an unrestricted one needs no product.
    expect(renewalPrice([item(100_000)], [percent(10, null, { products: ['prod_plan'] })], renewsAt)?.discountUnknown).toBe(true);
    expect(renewalPrice([item(100_000)], [percent(10)], renewsAt)).toMatchObject({ price: { amount: 90_000 }, discountUnknown: false });
  });

  it('quotes before discounts where a read could not give the coupon (the key may not read coupons, or it is gone)', () => {
    const plan = item(100_000, 1, { product: 'prod_plan' });
    for (const why of ['refused', 'gone']) {
      const withAmount = { ...unrestrictedUnknown(percent(10)), coupon: { ...unrestrictedUnknown(percent(10)).coupon, applies_to_unreadable: why } };
      expect(renewalPrice([plan], [withAmount], renewsAt)).toMatchObject({ price: { amount: 100_000 }, listPrice: { amount: 100_000 }, discountUnknown: true });
      const itemOwn = { id: 'di_item', coupon: { id: 'PARTNER10', applies_to_unreadable: why }, start: seconds('2026-01-01T00:00:00Z'), end: null };
      expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [itemOwn] })], [], renewsAt)).toMatchObject({ price: { amount: 100_000 }, discountUnknown: true });
    }
  });

  it("quotes before discounts where an item's own discount is not known", () => {
    // As items stored their discounts before their terms were kept: ids only.
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: ['di_item'] })], [percent(10)], renewsAt)).toMatchObject({ price: { amount: 100_000 }, discountUnknown: true });
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [{ id: 'di_item' }] })], [], renewsAt)?.discountUnknown).toBe(true);
    // An amount in another currency, as for the subscription's.
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [amountOff(500, 'eur')] })], [], renewsAt)?.discountUnknown).toBe(true);
    // A discount of the subscription's that the item lists as well: whether Stripe takes it off the line once or twice is not documented.
    expect(renewalPrice([item(100_000, 1, { product: 'prod_plan', discounts: [percent(10)] })], [percent(10)], renewsAt)?.discountUnknown).toBe(true);
  });

  it('says when items billed on use come on top, and has no price it cannot work out', () => {
    const metered = item(5, 1, { usageType: 'metered', interval: 'month' });
    expect(renewalPrice([item(29_000), metered], [], renewsAt)).toMatchObject({ price: { amount: 29_000 }, plusUsage: true });
    // A tiered seat price whose tiers the mirror does not hold, or one in fractions of a cent: not quoted rather than quoted short.
    expect(renewalPrice([item(29_000), item(null, 10, { billingScheme: 'tiered' })], [], renewsAt)).toBeNull();
    expect(renewalPrice([item(29_000), item(null, 10)], [], renewsAt)).toBeNull();
    expect(renewalPrice([metered], [], renewsAt)).toBeNull();
    expect(renewalPrice([item(29_000), item(100, 1, { currency: 'eur' })], [], renewsAt)).toBeNull();
    expect(renewalPrice([], [], renewsAt)).toBeNull();
  });

  it('prices tiered seats by their tiers, discounts and all', () => {
    // 12 seats, graduated: the first 10 at $100 a year, the rest at $80.
    const tiers = [
      { up_to: 10, unit_amount: 10_000, unit_amount_decimal: '10000', flat_amount: null, flat_amount_decimal: null },
      { up_to: null, unit_amount: 8_000, unit_amount_decimal: '8000', flat_amount: null, flat_amount_decimal: null },
    ];
    const seats = item(null, 12, { billingScheme: 'tiered', tiersMode: 'graduated', tiers });
    expect(renewalPrice([item(29_000), seats], [percent(10)], renewsAt)).toEqual({
      price: { amount: 29_000 - 2_900 + 116_000 - 11_600, currency: 'usd' },
      listPrice: { amount: 29_000 + 116_000, currency: 'usd' },
      plusUsage: false,
      discountUnknown: false,
    });
    // Volume: all 12 at the tier 12 falls in.
    expect(renewalPrice([{ ...seats, tiersMode: 'volume' }], [], renewsAt)?.price.amount).toBe(12 * 8_000);
  });

  it("quotes before discounts where the customer's own discount would bill the renewal", () => {
    const customer20 = percent(20);
    // No discount of the subscription's own runs at the renewal (none, or one that ends before it): the customer's would apply.
    expect(priceAt([item(99_000)], [], renewsAt, { interval: 'year', intervalCount: 1 }, customer20)).toMatchObject({ price: { amount: 99_000 }, discountUnknown: true });
    expect(priceAt([item(99_000)], [percent(10, seconds('2027-01-01T00:00:00Z'))], renewsAt, { interval: 'year', intervalCount: 1 }, customer20)).toMatchObject({ discountUnknown: true });
    // The subscription's own running discount is what Stripe applies; a customer's that ended before the renewal is none.
    expect(priceAt([item(99_000)], [percent(10)], renewsAt, { interval: 'year', intervalCount: 1 }, customer20)).toMatchObject({ price: { amount: 89_100 }, discountUnknown: false });
    expect(priceAt([item(99_000)], [], renewsAt, { interval: 'year', intervalCount: 1 }, percent(20, seconds('2027-01-01T00:00:00Z')))).toMatchObject({ price: { amount: 99_000 }, discountUnknown: false });
  });

  it('prices the items billed at the renewing period only', () => {
    // A monthly add-on beside a yearly plan is billed each month, not in the year's price.
    expect(renewalPrice([item(99_000), item(1_000, 2, { interval: 'month' })], [], renewsAt)).toMatchObject({ price: { amount: 99_000 }, plusUsage: false });
    const quarterly = { interval: 'month', intervalCount: 3 };
    expect(priceAt([item(30_000, 1, quarterly), item(99_000)], [], renewsAt, quarterly)?.price.amount).toBe(30_000);
  });

  it('words a discounted price and use on top in the built-in note', () => {
    const base = exampleRenewalFacts('plain');
    const facts = { ...base, plan: { ...base.plan, price: { amount: 89_100, currency: 'usd' }, plusUsage: true } };
    expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES.plain, emailFacts(facts)).text).toContain('at $891.00 per year with your discount, plus usage; thank you');
    expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES.plain, emailFacts(base)).text).toContain('at $990.00 per year; thank you');
    const unknown = { ...base, plan: { ...base.plan, discountUnknown: true } };
    expect(renderTemplate(DEFAULT_RENEWAL_TEMPLATES.plain, emailFacts(unknown)).text).toContain('at $990.00 per year before discounts; thank you');
  });

  it('states no price it does not know, and an override that prints one anyway gives way to the built-in note', () => {
    const base = exampleRenewalFacts('plain');
    const unpriced = emailFacts({ ...base, plan: { ...base.plan, price: null, listPrice: null } });
    for (const fold of RENEWAL_FOLDS) {
      const text = renderTemplate(DEFAULT_RENEWAL_TEMPLATES[fold], emailFacts({ ...exampleRenewalFacts(fold), plan: { ...base.plan, price: null, listPrice: null } })).text;
      expect(text, fold).toMatch(/renews on 15 January 2027 for another year; thank you/);
    }
    // A workspace's own note naming the price unguarded passes its check (the example has one) but fails on these facts, never rendering "at  per year".
    const own = { subject: 'Renewal', html: '<p>{{ plan.price | money }} per {{ plan.period }}</p>', text: '{{ plan.price | money }} per {{ plan.period }}' };
    expect(templateProblems(own, emailFacts(base))).toEqual([]);
    expect(() => renderTemplate(own, unpriced)).toThrow(TemplateError);
    expect(templateProblems(own, unpriced)).toEqual([expect.objectContaining({ part: 'html', message: expect.stringMatching(/money: no amount here/) as unknown }), expect.objectContaining({ part: 'text' })]);
  });
});
