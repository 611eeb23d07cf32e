/**
 * A subscription's discounts, and each of its items' own, as the mirror stores them:
 * one entry per discount with its coupon's terms (db/mirror.ts `discountTerms`),
 * among them the coupon's restriction to products (`applies_to`: null for none),
 * which Stripe sends only where a read asked for it. A sync and a re-read ask, so they
 * store full terms; Stripe's `customer.subscription.*` events carry discounts as
 * bare ids, which map to `{ id }` only. Writing those over full terms would lose them.
 */

export type DiscountTerms = Record<string, unknown> & { id: string };

/** The discounts of a subscription and of each of its items (by item id), each list in Stripe's order. */
export interface SubscriptionDiscountTerms {
  discounts: DiscountTerms[];
  items: ReadonlyMap<string, DiscountTerms[]>;
}

/**
 * - `terms`: the discounts to store, in the event's order, each with its coupon terms
 *   where the event or the mirror has them, else as the bare id.
 * - `complete`: every entry has its full terms. When not, an id is one the mirror holds
 *   no full terms for (a discount added or changed, or stored before the mirror kept a
 *   coupon's restriction): only Stripe can tell them, and should it not answer, `terms`
 *   keeps what is known rather than bare ids for all.
 */
export interface DiscountResolution<T> {
  terms: T;
  complete: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isEntry = (entry: unknown): entry is DiscountTerms => isObject(entry) && typeof entry.id === 'string';

/**
 * How much of a discount's terms an entry holds: 2, all a renewal quote needs (the
 * coupon's percent or amount off, and its restriction, null for none); 1, the coupon's
 * amount without its restriction (read without `applies_to`, or an older API version's
 * whole discount in an event); 0, no more than its id.
 */
function completeness(entry: DiscountTerms): 0 | 1 | 2 {
  const coupon = entry.coupon;
  if (!isObject(coupon) || (typeof coupon.percent_off !== 'number' && typeof coupon.amount_off !== 'number')) return 0;
  return 'applies_to' in coupon ? 2 : 1;
}

/**
 * Completes an event's discounts from stored ones. A discount's terms never change
 * once it exists (its coupon is fixed, and so are its start and end), so a stored entry
 * for the same discount id is as good as an expanded one; of the two, the fuller is
 * kept. The event's list decides which discounts there are and in what order; a
 * discount the event no longer lists is dropped.
 *
 * @param event the event's discounts mapped by `discountTerms` (bare ids give `{ id }`)
 * @param stored stored discount lists as read back (parsed jsonb: the subscription's
 *   `discounts` column, its items'), any of them undefined or null when not mirrored
 *   (an item can reuse a discount of its subscription's, so one pool serves both)
 */
export function resolveDiscounts(event: DiscountTerms[], ...stored: unknown[]): DiscountResolution<DiscountTerms[]> {
  const known = new Map<string, DiscountTerms>();
  for (const entry of stored.flatMap((list): unknown[] => (Array.isArray(list) ? list : []))) {
    if (!isEntry(entry)) continue;
    const held = known.get(entry.id);
    if (!held || completeness(entry) > completeness(held)) known.set(entry.id, entry);
  }
  const terms = event.map((d) => {
    const held = known.get(d.id);
    return held && completeness(held) > completeness(d) ? held : d;
  });
  return { terms, complete: terms.every((d) => completeness(d) === 2) };
}

/**
 * resolveDiscounts for a subscription and each of its items, from the subscription's
 * stored `discounts` and its items' (undefined: not mirrored).
 */
export function resolveSubscriptionDiscounts(event: SubscriptionDiscountTerms, storedDiscounts: unknown, storedItemDiscounts: readonly unknown[]): DiscountResolution<SubscriptionDiscountTerms> {
  const own = resolveDiscounts(event.discounts, storedDiscounts, ...storedItemDiscounts);
  const items = [...event.items].map(([id, discounts]) => [id, resolveDiscounts(discounts, storedDiscounts, ...storedItemDiscounts)] as const);
  return {
    terms: { discounts: own.terms, items: new Map(items.map(([id, r]) => [id, r.terms])) },
    complete: own.complete && items.every(([, r]) => r.complete),
  };
}
