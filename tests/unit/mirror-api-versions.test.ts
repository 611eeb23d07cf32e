import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { invoiceLineRow, invoiceRow, subscriptionRow } from '../../db/mirror';
import { stripeFixture } from '../helpers/stripe';

/**
 * Objects in the shape of the current API version and in that of versions before
 * 2025-03-31, whose webhooks still reach endpoints left on them: the mirror must
 * store the same row for both (the MRR reads a line's type, price and proration, and
 * a subscription's period).
 */
const common = {
  object: 'line_item',
  livemode: false,
  metadata: {},
  currency: 'usd',
  quantity: 2,
  period: { start: 1_767_225_600, end: 1_769_904_000 },
  discount_amounts: [],
};

/** A line as the current version sends it: `parent` says where it came from, `pricing` its price. */
function current(id: string, amount: number, from: 'subscription' | 'invoiceitem', proration: boolean): Stripe.InvoiceLineItem {
  const details = { proration, proration_details: null, subscription: 'sub_1' };
  return {
    ...common,
    id,
    amount,
    subscription: 'sub_1',
    parent:
      from === 'subscription'
        ? { type: 'subscription_item_details', subscription_item_details: { ...details, invoice_item: null, subscription_item: 'si_1' }, invoice_item_details: null }
        : { type: 'invoice_item_details', invoice_item_details: { ...details, invoice_item: 'ii_1' }, subscription_item_details: null },
    pricing: { type: 'price_details', price_details: { price: 'price_1', product: 'prod_1' }, unit_amount_decimal: String(amount / 2) },
  } as unknown as Stripe.InvoiceLineItem;
}

/** The same line as an older version sends it: type, price (expanded) and proration on the line itself. */
function older(id: string, amount: number, from: 'subscription' | 'invoiceitem', proration: boolean): Stripe.InvoiceLineItem {
  return {
    ...common,
    id,
    amount,
    type: from,
    subscription: 'sub_1',
    subscription_item: from === 'subscription' ? 'si_1' : null,
    invoice_item: from === 'invoiceitem' ? 'ii_1' : undefined,
    proration,
    price: { id: 'price_1', object: 'price', product: 'prod_1', type: 'recurring', unit_amount: amount / 2 },
    plan: { id: 'price_1', object: 'plan' },
  } as unknown as Stripe.InvoiceLineItem;
}

describe('invoiceLineRow across API versions', () => {
  it.each([
    ['a subscription line', 'subscription', false],
    ['a proration credit for a plan change', 'invoiceitem', true],
    ['a one-off invoice item', 'invoiceitem', false],
  ] as const)('stores %s the same in both shapes', (_what, from, proration) => {
    const amount = proration ? -1200 : 4000;
    const row = invoiceLineRow('in_1', current('il_1', amount, from, proration));
    expect(row).toMatchObject({ type: from, price_id: 'price_1', proration, subscription_id: 'sub_1', amount });
    expect(invoiceLineRow('in_1', older('il_1', amount, from, proration))).toEqual(row);
  });

  it('takes an older line\'s price given by id alone', () => {
    const line = { ...common, id: 'il_2', amount: 500, type: 'subscription', subscription: null, price: 'price_2' } as unknown as Stripe.InvoiceLineItem;
    expect(invoiceLineRow('in_1', line)).toMatchObject({ price_id: 'price_2', type: 'subscription', proration: false, subscription_id: null });
  });

  it('keys a line of a version before 2019-12-03 by its unique id, not its repeating one', () => {
    const line = { ...older('sli_repeats', 4000, 'subscription', false), unique_id: 'il_1' } as Stripe.InvoiceLineItem;
    expect(invoiceLineRow('in_1', line)).toEqual(invoiceLineRow('in_1', current('il_1', 4000, 'subscription', false)));
  });
});

describe('subscriptionRow across API versions', () => {
  const items = (periods: boolean) => ({
    object: 'list',
    has_more: false,
    data: [
      { id: 'si_1', price: { id: 'price_1' }, quantity: 1, ...(periods ? { current_period_start: 1_767_225_600, current_period_end: 1_769_904_000 } : {}) },
    ],
  });
  const subscription = { id: 'sub_1', object: 'subscription', livemode: false, metadata: {}, customer: 'cus_1', status: 'active', currency: 'usd', cancel_at_period_end: false, created: 1_760_000_000 };

  it('takes the period from the items, or from the subscription where an older version keeps it', () => {
    const row = subscriptionRow({ ...subscription, items: items(true) } as unknown as Stripe.Subscription);
    expect(row).toMatchObject({ current_period_start: new Date(1_767_225_600_000), current_period_end: new Date(1_769_904_000_000) });
    const olderShape = { ...subscription, items: items(false), current_period_start: 1_767_225_600, current_period_end: 1_769_904_000 };
    expect(subscriptionRow(olderShape as unknown as Stripe.Subscription)).toEqual(row);
    // Where the items have a period, it wins over one on the subscription.
    const both = { ...subscription, items: items(true), current_period_start: 1, current_period_end: 2 };
    expect(subscriptionRow(both as unknown as Stripe.Subscription)).toEqual(row);
  });

  // One discount as each version shapes it: its terms must come out the same.
  const coupon = { id: 'co_1', object: 'coupon', percent_off: 20, amount_off: null, currency: null, duration: 'repeating', duration_in_months: 3 };
  const discount = { id: 'di_1', object: 'discount', start: 1_767_225_600, end: 1_775_001_600 };

  it("reads a discount's terms from its coupon under `source`, or on the discount where a version before 2025-09-30 puts it", () => {
    const sub = { ...subscription, items: items(true) };
    const row = subscriptionRow({ ...sub, discounts: [{ ...discount, source: { type: 'coupon', coupon } }] } as unknown as Stripe.Subscription);
    expect(row.discounts).toBe(
      JSON.stringify([{ id: 'di_1', coupon: { id: 'co_1', percent_off: 20, amount_off: null, currency: null, duration: 'repeating', duration_in_months: 3 }, start: 1_767_225_600, end: 1_775_001_600 }]),
    );
    expect(subscriptionRow({ ...sub, discounts: [{ ...discount, coupon }] } as unknown as Stripe.Subscription)).toEqual(row);
  });

  it('takes the terms of the whole `discount` a version before 2025-03-31 sends beside the bare ids, or as the only one', () => {
    const sub = { ...subscription, items: items(true) };
    const row = subscriptionRow({ ...sub, discounts: [{ ...discount, source: { type: 'coupon', coupon } }] } as unknown as Stripe.Subscription);
    const olderShape = { ...sub, discounts: ['di_1'], discount: { ...discount, coupon } };
    expect(subscriptionRow(olderShape as unknown as Stripe.Subscription)).toEqual(row);
    const { discounts: _ids, ...withoutList } = olderShape;
    expect(subscriptionRow(withoutList as unknown as Stripe.Subscription)).toEqual(row);
    // Another discount listed by id alone stays a bare id: only Stripe (or the mirror) knows its terms.
    const two = subscriptionRow({ ...olderShape, discounts: ['di_0', 'di_1'] } as unknown as Stripe.Subscription);
    expect(JSON.parse(two.discounts as string)).toEqual([{ id: 'di_0' }, ...(JSON.parse(row.discounts as string) as unknown[])]);
  });
});

describe('invoiceRow across API versions', () => {
  /** Stripe's example invoice as the current version sends it, with the given taxes. */
  const currentInvoice = (taxes: number[]) => ({ ...stripeFixture('invoice'), id: 'in_tax', total_taxes: taxes.map((amount) => ({ amount, tax_behavior: 'exclusive', taxability_reason: 'standard_rated', taxable_amount: 4000, type: 'tax_rate_details' })) }) as unknown as Stripe.Invoice;
  /** The same invoice as a version before 2025-03-31 sends it: one `tax` amount (null for none), no `total_taxes`. */
  const olderInvoice = (tax: number | null) => {
    const { total_taxes: _taxes, ...rest } = currentInvoice([]) as Stripe.Invoice & Record<string, unknown>;
    return { ...rest, tax } as unknown as Stripe.Invoice;
  };

  it('stores the same tax from the list of taxes and from the single older amount', () => {
    expect(invoiceRow(currentInvoice([300, 120])).tax).toBe(420);
    expect(invoiceRow(olderInvoice(420)).tax).toBe(420);
    // No tax: an empty list, or null in the older shape.
    expect(invoiceRow(olderInvoice(null))).toEqual(invoiceRow(currentInvoice([])));
    expect(invoiceRow(currentInvoice([])).tax).toBe(0);
  });
});
