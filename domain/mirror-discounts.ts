/**
 * A subscription's discounts as the mirror stores them: one entry per discount with
 * its coupon terms (db/mirror.ts `discountTerms`). A sync expands discounts, so it
 * stores full terms; Stripe's `customer.subscription.*` events carry discounts as bare
 * ids, which map to `{ id }` only. Writing those over full terms would lose them.
 */

export type DiscountTerms = Record<string, unknown> & { id: string };

/**
 * - `terms`: the discounts to store, in the event's order, each with its coupon terms
 *   where the event or the mirror has them, else as the bare id.
 * - `complete`: every entry has its terms. When not, an id is one the mirror holds no
 *   terms for (a discount added or changed): only Stripe can tell them, and should it
 *   not answer, `terms` keeps what is known rather than bare ids for all.
 */
export interface DiscountResolution {
  terms: DiscountTerms[];
  complete: boolean;
}

/** Whether an entry carries terms, not only an id: `discountTerms` of an expanded discount always has `coupon`. */
function hasTerms(entry: unknown): entry is DiscountTerms {
  return typeof entry === 'object' && entry !== null && typeof (entry as { id?: unknown }).id === 'string' && 'coupon' in entry;
}

/**
 * Completes an event's discounts from the stored ones. A discount's terms never
 * change once it exists (its coupon is fixed, and so are its start and end), so a
 * stored entry for the same discount id is as good as an expanded one. The event's
 * list decides which discounts there are and in what order; a discount the event no
 * longer lists is dropped.
 *
 * @param event the event's discounts mapped by `discountTerms` (bare ids give `{ id }`)
 * @param stored the mirror's `discounts` column as read back (parsed jsonb), or
 *   undefined when the subscription is not mirrored yet
 */
export function resolveDiscounts(event: DiscountTerms[], stored: unknown): DiscountResolution {
  const known = new Map((Array.isArray(stored) ? stored : []).filter(hasTerms).map((d) => [d.id, d]));
  const terms = event.map((d) => ('coupon' in d ? d : (known.get(d.id) ?? d)));
  return { terms, complete: terms.every(hasTerms) };
}
