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
  /** Its price's product: a coupon restricted to products (`applies_to`) takes off only their lines. Absent: not known. */
  product?: string | null;
  /**
   * Its own discounts (Stripe's item-level `discounts`) as the mirror stores them, like
   * the subscription's; Stripe applies them to its line alone, before the subscription's.
   */
  discounts?: unknown;
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
   * A discount still attached, the subscription's or an item's own, whose terms the
   * mirror does not hold (an event's bare id Stripe was not asked about yet, a coupon
   * whose restriction to products was not read, an amount coupon priced for the
   * subscription's currency through options the mirror does not keep), or the customer's own discount
   * where it would bill the renewal (known only as of the last sync): `price` is then
   * the list price, before every discount, and the note says so.
   */
  discountUnknown: boolean;
}

/**
 * A discount as the mirror stores it (db/mirror.ts `discountTerms`): the coupon's
 * terms, its restriction (`applies_to`: the products it is restricted to, null for
 * none, absent where not read, or where it could not be, `applies_to_unreadable`
 * saying why: that settles the mirror's asking, not the quote, which stays before
 * discounts), and `end` (Unix seconds) for a coupon that runs out.
 * An event's bare id the mirror could not complete has no coupon terms: what it takes
 * off is unknown.
 */
const storedDiscount = z.looseObject({
  id: z.string().nullish(),
  coupon: z
    .looseObject({
      percent_off: z.number().nullish(),
      amount_off: z.number().int().nullish(),
      currency: z.string().nullish(),
      applies_to: z.unknown().optional(),
    })
    .nullish(),
  end: z.number().nullish(),
});

/** A running discount's coupon: what it takes off, and the products it is restricted to (null: any). */
interface Coupon {
  discountId: string | null;
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
  products: readonly string[] | null;
}

/**
 * A coupon's restriction as stored: the products (null: none, or an empty list, as a
 * restriction names at least one), or undefined where it was not read or is unreadable.
 */
function restrictionOf(appliesTo: unknown): readonly string[] | null | undefined {
  if (appliesTo === null) return null;
  const parsed = z.object({ products: z.array(z.string()) }).safeParse(appliesTo);
  if (!parsed.success) return undefined;
  return parsed.data.products.length > 0 ? parsed.data.products : null;
}

/**
 * The discounts still attached at `at` (Stripe removes a once-only coupon after its
 * invoice, and a repeating one ends at `end`), and how many of those the mirror
 * holds no full terms for (a bare id, as items stored their discounts before their
 * terms were kept, counts so). Anything else unreadable counts as no discount.
 */
function discountsRunningAt(stored: unknown, at: Date): { coupons: Coupon[]; unknown: number } {
  const coupons: Coupon[] = [];
  let unknown = 0;
  for (const entry of Array.isArray(stored) ? stored : []) {
    if (typeof entry === 'string') {
      unknown++;
      continue;
    }
    const parsed = storedDiscount.safeParse(entry);
    if (!parsed.success) continue;
    const { id, coupon, end } = parsed.data;
    if (typeof end === 'number' && end * 1000 <= at.getTime()) continue;
    const products = restrictionOf(coupon?.applies_to);
    if (coupon && (typeof coupon.percent_off === 'number' || typeof coupon.amount_off === 'number') && products !== undefined) {
      coupons.push({ discountId: id ?? null, percentOff: coupon.percent_off ?? null, amountOff: coupon.amount_off ?? null, currency: coupon.currency ?? null, products });
    } else unknown++;
  }
  return { coupons, unknown };
}

/**
 * Takes a coupon off the given lines (indexes into `lines`, in order), in place: a
 * percent coupon its share of each line (rounded per line, as the invoice's discount
 * amounts are), an amount coupon its amount across them, never below zero.
 */
function takeOff(coupon: Coupon, lines: number[], which: readonly number[]): void {
  if (coupon.percentOff !== null) {
    const pct = coupon.percentOff;
    for (const i of which) lines[i] = lines[i]! - Math.round((lines[i]! * pct) / 100);
  } else if (coupon.amountOff !== null) {
    let left = coupon.amountOff;
    for (const i of which) {
      const off = Math.min(left, Math.max(0, lines[i]!));
      lines[i] = lines[i]! - off;
      left -= off;
    }
  }
}

/** Whether a coupon takes anything off a line of this product (unknown: a restricted coupon on an unknown product). */
const appliesTo = (coupon: Coupon, product: string | null | undefined): boolean | undefined =>
  coupon.products === null ? true : product == null ? undefined : coupon.products.includes(product);

/**
 * What a subscription renews at, per the renewing item's `period`: each fixed item
 * billed at that period, its unit amount times its quantity, less the discounts that
 * run past the renewal, in Stripe's order: an item's own on its line first, then the
 * subscription's across the lines (Stripe: "subscription item discounts are applied
 * before subscription discounts"), each list in the order Stripe gives it. A percent
 * coupon takes its share of each line (rounded per line, as the invoice's discount
 * amounts are); an amount coupon in the subscription's currency takes its amount
 * across its lines, never below zero; a coupon restricted to products (`applies_to`)
 * takes off only the lines of those. Items billed at another period (a monthly
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
  const own = licensed.map((i) => discountsRunningAt(i.discounts, renewsAt));
  const subscriptionIds = new Set(running.coupons.map((c) => c.discountId).filter((id) => id !== null));
  let unknown = running.unknown + own.reduce((n, o) => n + o.unknown, 0);
  // An amount coupon in another currency applies through its currency_options, which the mirror does not keep.
  unknown += [...running.coupons, ...own.flatMap((o) => o.coupons)].filter((c) => c.percentOff === null && c.currency?.toLowerCase() !== currency).length;
  licensed.forEach((item, i) => {
    // A restricted coupon on a line of a product the mirror does not know; and an item
    // reusing one of its subscription's discounts, which Stripe's docs do not say it
    // takes off that line once or twice.
    if ([...own[i]!.coupons, ...running.coupons].some((c) => appliesTo(c, item.product) === undefined)) unknown++;
    if (own[i]!.coupons.some((c) => c.discountId !== null && subscriptionIds.has(c.discountId))) unknown++;
  });
  // Stripe bills a subscription with no discount of its own running with its customer's. The
  // mirror learns of a customer's discount only at a sync (no customer event is subscribed to),
  // so it may be gone or used up by now: the price is quoted before discounts rather than after
  // one that may no longer apply.
  if (running.coupons.length === 0 && running.unknown === 0) {
    const customers = discountsRunningAt(customerDiscount ? [customerDiscount] : [], renewsAt);
    unknown += customers.coupons.length + customers.unknown;
  }
  const result = (amount: number): RenewalPrice => ({ price: { amount, currency }, listPrice: { amount: list, currency }, plusUsage: metered.length > 0, discountUnknown: unknown > 0 });
  // With any discount unknown, the price is quoted before them all: "before discounts", never half of them.
  if (unknown > 0) return result(list);
  licensed.forEach((item, i) => {
    for (const coupon of own[i]!.coupons) if (appliesTo(coupon, item.product)) takeOff(coupon, lines, [i]);
  });
  for (const coupon of running.coupons) takeOff(coupon, lines, licensed.flatMap((item, i) => (appliesTo(coupon, item.product) ? [i] : [])));
  return result(lines.reduce((a, b) => a + b, 0));
}
