import { z } from 'zod';
import type { Money } from './dunning-templates';
import { periodAmount, type PriceTerms } from './price-amount';

/** One item of a renewing subscription, as the mirror holds it (stripe_subscription_items joined to stripe_prices). */
export interface RenewingItem extends PriceTerms {
  quantity: number | null;
  currency: string;
  /** How often it is billed: only the items billed at the renewing item's period make its price. */
  interval: string | null;
  intervalCount: number | null;
  /**
   * Its next period runs past the subscription's `cancel_at`: Stripe prorates it to the
   * end, on an invoice the mirror cannot date (an item's own period is not kept).
   */
  cutShort?: boolean;
  /** How many discounts of its own the item carries (Stripe's item-level `discounts`), whose terms the mirror does not keep. */
  ownDiscounts?: number;
}

/** What the renewal invoice will charge for the subscription's fixed items. */
export interface RenewalPrice {
  /** After the discounts that still run at the renewal; before tax. */
  price: Money;
  /** The same items at list price. */
  listPrice: Money;
  /** Items billed on use come on top of `price`: their amount is set when the period closes. */
  plusUsage: boolean;
  /**
   * A discount still attached whose terms the mirror does not hold (an event's bare id
   * Stripe was not asked about yet, an amount coupon priced for the subscription's
   * currency through options the mirror does not keep, an item's own discount), or the customer's own discount
   * where it would bill the renewal (known only as of the last sync): `price` is then
   * the list price, before every discount, and the note says so.
   */
  discountUnknown: boolean;
}

/**
 * A discount as the mirror stores it (db/mirror.ts `discountTerms`): the coupon's
 * terms, and `end` (Unix seconds) for a coupon that runs out. An event's bare id the
 * mirror could not complete has no coupon terms: what it takes off is unknown.
 */
const storedDiscount = z.looseObject({
  coupon: z
    .looseObject({
      percent_off: z.number().nullish(),
      amount_off: z.number().int().nullish(),
      currency: z.string().nullish(),
    })
    .nullish(),
  end: z.number().nullish(),
});
type Coupon = NonNullable<z.infer<typeof storedDiscount>['coupon']>;

/**
 * The discounts still attached at `at` (Stripe removes a once-only coupon after its
 * invoice, and a repeating one ends at `end`), and how many of those the mirror
 * holds no terms for. Anything unreadable counts as no discount.
 */
function discountsRunningAt(stored: unknown, at: Date): { coupons: Coupon[]; unknown: number } {
  const coupons: Coupon[] = [];
  let unknown = 0;
  for (const entry of Array.isArray(stored) ? stored : []) {
    const parsed = storedDiscount.safeParse(entry);
    if (!parsed.success) continue;
    const { coupon, end } = parsed.data;
    if (typeof end === 'number' && end * 1000 <= at.getTime()) continue;
    if (coupon && (typeof coupon.percent_off === 'number' || typeof coupon.amount_off === 'number')) coupons.push(coupon);
    else unknown++;
  }
  return { coupons, unknown };
}

/**
 * What a subscription renews at, per the renewing item's `period`: each fixed item
 * billed at that period, its unit amount times its quantity, less the subscription's
 * discounts that run past the renewal, in the order Stripe lists them. A percent
 * coupon takes its share of each line (rounded per line, as the invoice's discount
 * amounts are); an amount coupon in the subscription's currency takes its amount
 * across the lines, never below zero. Items billed at another period (a monthly
 * add-on beside a yearly plan) are not part of the renewal's price. Null when the
 * items mix currencies, none has a fixed price, or one billed at the period has an
 * amount the mirror cannot work out (domain/price-amount.ts periodAmount), or a fixed
 * item is cut short by the subscription's end (`cutShort`).
 * `customerDiscount`: the customer's own, as of the last sync (db/mirror.ts customerRow).
 */
export function renewalPrice(items: readonly RenewingItem[], discounts: unknown, renewsAt: Date, period: { interval: string; intervalCount: number }, customerDiscount: unknown = null): RenewalPrice | null {
  const currency = items[0]?.currency;
  if (!currency || items.some((i) => i.currency !== currency)) return null;
  // A fixed item cut short by the subscription's end may put a prorated charge on this
  // renewal's invoice (a yearly plan beside the quarterly add-on that renews): no price
  // is quoted rather than one that may leave it out.
  if (items.some((i) => i.usageType !== 'metered' && i.cutShort)) return null;
  const metered = items.filter((i) => i.usageType === 'metered');
  const licensed = items.filter((i) => i.usageType !== 'metered' && i.interval === period.interval && (i.intervalCount ?? 1) === period.intervalCount);
  const amounts = licensed.map((i) => periodAmount(i, i.quantity ?? 1));
  if (!amounts.length || amounts.some((a) => a === null)) return null;
  const lines = amounts as number[];
  const list = lines.reduce((a, b) => a + b, 0);
  const running = discountsRunningAt(discounts, renewsAt);
  // An amount coupon in another currency applies through its currency_options, which the mirror does not keep;
  // nor does it keep the terms of an item's own discounts (which Stripe applies to that item alone).
  let unknown =
    running.unknown + running.coupons.filter((c) => typeof c.percent_off !== 'number' && c.currency?.toLowerCase() !== currency).length + licensed.filter((i) => (i.ownDiscounts ?? 0) > 0).length;
  // Stripe bills a subscription with no discount of its own running with its customer's. The
  // mirror learns of a customer's discount only at a sync (no customer event is subscribed to),
  // so it may be gone or used up by now: the price is quoted before discounts rather than after
  // one that may no longer apply.
  if (running.coupons.length === 0 && running.unknown === 0) {
    const own = discountsRunningAt(customerDiscount ? [customerDiscount] : [], renewsAt);
    unknown += own.coupons.length + own.unknown;
  }
  const result = (amount: number): RenewalPrice => ({ price: { amount, currency }, listPrice: { amount: list, currency }, plusUsage: metered.length > 0, discountUnknown: unknown > 0 });
  // With any discount unknown, the price is quoted before them all: "before discounts", never half of them.
  if (unknown > 0) return result(list);
  for (const coupon of running.coupons) {
    if (typeof coupon.percent_off === 'number') {
      const pct = coupon.percent_off;
      lines.forEach((amount, i) => (lines[i] = amount - Math.round((amount * pct) / 100)));
    } else if (typeof coupon.amount_off === 'number') {
      let left = coupon.amount_off;
      lines.forEach((amount, i) => {
        const off = Math.min(left, Math.max(0, amount));
        lines[i] = amount - off;
        left -= off;
      });
    }
  }
  return result(lines.reduce((a, b) => a + b, 0));
}
