import type Stripe from 'stripe';

/** Page size for Stripe list calls: Stripe's maximum, so a list costs the fewest requests. */
export const PAGE_SIZE = 100;

/**
 * Pages through the rest of an embedded list (subscription items, invoice lines)
 * beyond what the parent carried, and returns it complete (`has_more: false`).
 */
export async function restOfList<T extends { id: string }>(first: Stripe.ApiList<T>, next: (startingAfter: string) => Promise<Stripe.ApiList<T>>): Promise<Stripe.ApiList<T>> {
  const data = [...first.data];
  let hasMore = first.has_more;
  while (hasMore && data.length) {
    const page = await next(data[data.length - 1]!.id);
    data.push(...page.data);
    hasMore = page.has_more;
  }
  return { ...first, data, has_more: false };
}
