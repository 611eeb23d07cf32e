import type Stripe from 'stripe';
import { datedRead, type Dated } from './stripe-dated';

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

/**
 * One page of the account's prices, dated, each with its terms complete: tiers come
 * only when asked for, and every amount needs them, so they are fetched for the (few)
 * tiered prices rather than expanding every page.
 */
export async function readPricePage(stripe: Stripe, params: Stripe.PriceListParams): Promise<Dated<Stripe.Response<Stripe.ApiList<Stripe.Price>>>> {
  const read = await datedRead(() => stripe.prices.list(params));
  const list = read.value;
  for (const [i, p] of list.data.entries()) {
    if (p.billing_scheme === 'tiered' && !p.tiers) list.data[i] = await stripe.prices.retrieve(p.id, { expand: ['tiers'] });
  }
  return read;
}
