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
 * How much of a discount's terms an entry holds: 4, all a renewal quote needs (the
 * coupon's percent or amount off, and its restriction, null for none); 3, the amount,
 * its restriction unreadable (`applies_to_unreadable`: the key may not read coupons, or
 * the coupon is gone); 2, the amount, its restriction not read (read without
 * `applies_to`, or an older API version's whole discount in an event); 1, neither, the
 * coupon unreadable (an item's discount names its coupon by id only); 0, no more than
 * its id.
 */
function completeness(entry: DiscountTerms): 0 | 1 | 2 | 3 | 4 {
  const coupon = entry.coupon;
  if (!isObject(coupon)) return 0;
  const amount = typeof coupon.percent_off === 'number' || typeof coupon.amount_off === 'number';
  const restriction = 'applies_to' in coupon ? 2 : unreadable(coupon) ? 1 : 0;
  if (!amount) return restriction === 1 ? 1 : 0;
  return (2 + restriction) as 2 | 3 | 4;
}

const unreadable = (coupon: Record<string, unknown>): boolean => typeof coupon.applies_to_unreadable === 'string';

/**
 * Whether nothing more is to be learned of the entry from Stripe with the same key: its
 * terms are all there, or a read found its coupon unreadable. An unsettled entry puts
 * its event in doubt; a settled one does not, so that a coupon the key may not read (or
 * one since deleted) does not have every event of its subscription read again.
 */
const settled = (entry: DiscountTerms): boolean => [1, 3, 4].includes(completeness(entry));

/**
 * Of two entries for the same discount, the fuller. Where it has an amount but its
 * restriction was never asked for, and the other tells the coupon could not be read,
 * it takes that mark: together they say all there is to say.
 */
function fuller(a: DiscountTerms, b: DiscountTerms): DiscountTerms {
  const [more, less] = completeness(b) > completeness(a) ? [b, a] : [a, b];
  if (completeness(more) === 2 && isObject(less.coupon) && unreadable(less.coupon)) {
    return { ...more, coupon: { ...(more.coupon as Record<string, unknown>), applies_to_unreadable: less.coupon.applies_to_unreadable } };
  }
  return more;
}

/** Whether every entry holds all its terms: no stored entry can add to them. */
export const fullyKnown = (terms: SubscriptionDiscountTerms): boolean => [terms.discounts, ...terms.items.values()].every((list) => list.every((d) => completeness(d) === 4));

/**
 * Completes an event's discounts from stored ones. A discount's terms never change
 * once it exists (its coupon is fixed, and so are its start and end), so a stored entry
 * for the same discount id is as good as an expanded one; of the two, the fuller is
 * kept. The event's list decides which discounts there are and in what order; a
 * discount the event no longer lists is dropped. A read's discounts are completed
 * alike before they are stored, so a thinner read never replaces fuller stored terms.
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
    known.set(entry.id, held ? fuller(held, entry) : entry);
  }
  const terms = event.map((d) => {
    const held = known.get(d.id);
    return held ? fuller(d, held) : d;
  });
  return { terms, complete: terms.every(settled) };
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
