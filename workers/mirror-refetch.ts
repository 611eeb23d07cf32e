import type Stripe from 'stripe';
import type { StripeClients } from '../activities/stripe-client';
import { PAGE_SIZE, restOfList } from '../activities/stripe-lists';
import { datedRead, type Dated } from '../activities/stripe-dated';
import { couponReads, readDiscountCoupons } from '../activities/discount-coupons';
import { readStripe, StripeKeyMissingError, workspaceStripeClients } from '../activities/stripe-reader';
import type { Db } from '../db/knex';
import type { Keyring } from '../platform/crypto';

/**
 * Reads an object's current state from Stripe when a webhook event alone cannot be
 * trusted (see applyEventToMirror). Every object comes back complete: embedded lists
 * are paged to their end, and dated by Stripe's clock (the first request's answer: see
 * domain/stripe-clock.ts). Each method answers null when Stripe cannot tell (it has no
 * such object, or the workspace has no Stripe key), and throws StripeUnavailableError
 * when Stripe cannot be reached or keeps refusing (429, 5xx): worth retrying later.
 */
export interface MirrorRefetch {
  /** The subscription with every item, and the coupon terms (restriction included) of its discounts and its items' own. */
  subscription(workspaceId: string, subscriptionId: string): Promise<Dated<Stripe.Subscription> | null>;
  /** The invoice with every line. */
  invoice(workspaceId: string, invoiceId: string): Promise<Dated<Stripe.Invoice> | null>;
  /** The charge with every refund in `refunds`. */
  charge(workspaceId: string, chargeId: string): Promise<Dated<Stripe.Charge> | null>;
}

export interface MirrorRefetchDeps {
  db: Db;
  keyring: Keyring;
  /** The process's shared clients: refetches take tokens from the same per-workspace limiter as the sync and the plays. */
  stripe: StripeClients;
}

export function createMirrorRefetch(deps: MirrorRefetchDeps): MirrorRefetch {
  const clientFor = workspaceStripeClients(deps.db, deps.keyring, deps.stripe);
  /** The workspace's client, or null when it has no Stripe key to ask with (webhook-only workspaces). */
  const client = async (workspaceId: string): Promise<Stripe | null> => {
    try {
      return await clientFor(workspaceId);
    } catch (err) {
      if (err instanceof StripeKeyMissingError) return null;
      throw err;
    }
  };

  /** Reads through the workspace's client; null when there is none (see `client`) or Stripe has no such object. */
  const read = async <T>(workspaceId: string, what: string, call: (stripe: Stripe) => Promise<T>): Promise<T | null> => {
    const stripe = await client(workspaceId);
    return stripe ? readStripe(what, () => call(stripe)) : null;
  };

  return {
    subscription: (workspaceId, id) =>
      read(workspaceId, `subscription ${id}`, async (stripe) => {
        // Discounts with their coupons and the coupons' restrictions expanded, as the sync
        // stores them: the mirror keeps each discount's terms. Four levels reach the
        // subscription's; an item's own are one level deeper, their coupons read after.
        const read = await datedRead(() => stripe.subscriptions.retrieve(id, { expand: ['discounts.source.coupon.applies_to', 'items.data.discounts'] }));
        const s = read.value;
        if (s.items.has_more) s.items = await restOfList(s.items, (after) => stripe.subscriptionItems.list({ subscription: id, limit: PAGE_SIZE, starting_after: after, expand: ['data.discounts'] }));
        await readDiscountCoupons(stripe, [s], couponReads());
        return read;
      }),

    invoice: (workspaceId, id) =>
      read(workspaceId, `invoice ${id}`, async (stripe) => {
        const read = await datedRead(() => stripe.invoices.retrieve(id));
        const inv = read.value;
        if (inv.lines.has_more) inv.lines = await restOfList(inv.lines, (after) => stripe.invoices.listLineItems(id, { limit: PAGE_SIZE, starting_after: after }));
        return read;
      }),

    charge: (workspaceId, id) =>
      read(workspaceId, `charge ${id}`, async (stripe) => {
        const read = await datedRead(() => stripe.charges.retrieve(id));
        // Charges no longer embed their refunds unless expanded; list them all instead.
        const first = await stripe.refunds.list({ charge: id, limit: PAGE_SIZE });
        read.value.refunds = await restOfList(first, (after) => stripe.refunds.list({ charge: id, limit: PAGE_SIZE, starting_after: after }));
        return read;
      }),
  };
}
