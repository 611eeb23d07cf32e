import Stripe from 'stripe';
import { discountCoupon, type CouponUnreadable, type ReadCoupon, type ReadDiscount } from '../db/mirror';

/**
 * Coupons read with their restriction (`applies_to`), by id (`read`); for one Stripe
 * did not give, why: it no longer has it (`gone`: deleted, its discounts still run,
 * their restriction cannot be read), or the key may not read coupons (`refused`:
 * Coupons: Read is recommended, not required). A coupon's terms never change once it
 * exists, so one read serves a whole sync.
 */
export interface CouponReads {
  read: Map<string, ReadCoupon | CouponUnreadable>;
  refused: boolean;
}

export const couponReads = (): CouponReads => ({ read: new Map(), refused: false });

/** Whether the discount's coupon is there with its restriction (read with `applies_to`), or a read could not give it. */
const restrictionSettled = (d: Stripe.Discount): boolean => {
  const coupon = discountCoupon(d);
  return (typeof coupon === 'object' && coupon !== null && 'applies_to' in coupon) || (d as ReadDiscount).coupon_unreadable !== undefined;
};

/** The discounts of the subscriptions and of their items that the reads expanded (ids left as they are). */
function discountsOf(subs: readonly Stripe.Subscription[]): Stripe.Discount[] {
  const expanded = (list: (string | Stripe.Discount)[] | null | undefined) => (list ?? []).filter((d): d is Stripe.Discount => typeof d === 'object' && d !== null);
  return subs.flatMap((s) => [...expanded(s.discounts), ...(s.items?.data ?? []).flatMap((i) => expanded(i.discounts))]);
}

/**
 * Gives every expanded discount of the subscriptions, theirs and their items', its
 * coupon with the coupon's restriction to products, in place (the coupon expanded
 * under `source`, or on the discount where an older API version puts it). Stripe sends
 * `applies_to` only when asked, and asks no deeper than four levels: a subscription
 * list reaches `data.discounts.source.coupon` and an item's discounts
 * (`data.items.data.discounts`) but neither coupon's `applies_to`. Each coupon not read
 * with it yet is read once (`reads`, kept by the caller across its pages) through the
 * workspace's client; where Stripe does not give it the discount keeps what it had
 * and is marked with why (`coupon_unreadable`), so that its restriction, unknown, is
 * stored as settled: the relay then does not ask Stripe again at each of the
 * subscription's events. A later sync asks again (the key may have been given
 * Coupons: Read since). Other failures are thrown, as the read's own.
 */
export async function readDiscountCoupons(stripe: Stripe, subs: readonly Stripe.Subscription[], reads: CouponReads): Promise<void> {
  const wanting = discountsOf(subs).filter((d) => !restrictionSettled(d));
  for (const d of wanting) {
    const coupon = discountCoupon(d);
    const id = typeof coupon === 'string' ? coupon : coupon?.id;
    if (!id) continue;
    if (!reads.read.has(id)) reads.read.set(id, await readCoupon(stripe, id, reads));
    const read = reads.read.get(id)!;
    if (typeof read === 'string') {
      (d as ReadDiscount).coupon_unreadable = read;
      continue;
    }
    // The discount's own expanded coupon stays what it was applied with; the read adds its restriction.
    const whole: ReadCoupon = typeof coupon === 'object' && coupon !== null ? { ...coupon, applies_to: read.applies_to ?? null } : read;
    if (d.source) d.source.coupon = whole as Stripe.Coupon;
    else (d as Stripe.Discount & { coupon?: ReadCoupon }).coupon = whole;
  }
}

async function readCoupon(stripe: Stripe, id: string, reads: CouponReads): Promise<ReadCoupon | CouponUnreadable> {
  if (reads.refused) return 'refused';
  try {
    const coupon: ReadCoupon = await stripe.coupons.retrieve(id, { expand: ['applies_to'] });
    // Asked for, a restriction left out is none.
    return { ...coupon, applies_to: coupon.applies_to ?? null };
  } catch (err) {
    if (err instanceof Stripe.errors.StripePermissionError) {
      // The key will refuse every other coupon too: none is asked for again.
      reads.refused = true;
      return 'refused';
    }
    if (err instanceof Stripe.errors.StripeError && err.statusCode === 404) return 'gone';
    throw err;
  }
}
