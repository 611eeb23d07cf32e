import type Stripe from 'stripe';
import type { Db } from '../db/knex';
import {
  chargeRow,
  invoiceLineRow,
  invoiceRow,
  mirroredChildren,
  mirroredRow,
  refundRow,
  discountTerms,
  subscriptionItemRow,
  subscriptionRowWithDiscounts,
  upsertCharges,
  upsertInvoices,
  upsertRefunds,
  upsertSubscriptions,
  type MirrorRow,
  type MirrorTable,
} from '../db/mirror';
import { mirrorVerdict, sameRowContents, sameRowSet } from '../domain/mirror-compare';
import { resolveDiscounts, type DiscountTerms } from '../domain/mirror-discounts';
import type { SubscribedEventType } from '../domain/stripe-events';
import type { MirrorRefetch } from './mirror-refetch';

export interface MirrorApplyResult {
  /** Whether state was written (false: the mirror already held newer state). */
  written: boolean;
  /** Whether the state written was read from Stripe instead of taken from the event. */
  refetched: boolean;
}

/**
 * How one kind of Stripe object is compared with the mirror, read again from Stripe,
 * and written. `C` is what an event's object may lack and the mirror may already
 * hold (a subscription's discount terms), carried over into the row written.
 */
interface MirrorKind<T extends { id: string }, C = never> {
  table: MirrorTable;
  /** Where the object's embedded list is mirrored, keyed by `parentColumn`. */
  childTable: MirrorTable;
  parentColumn: string;
  row(o: T, carry?: C): MirrorRow;
  /** The embedded list's rows, or null when the object does not carry the list. */
  children(o: T): MirrorRow[] | null;
  /** The embedded list stops short (`has_more`): the object alone is not its full state. */
  truncated(o: T): boolean;
  /**
   * Completes the event's object from the stored row (undefined: not mirrored):
   * what to carry over, or `doubt` when only Stripe can tell. Absent: the object is
   * complete as it is.
   */
  complete?(o: T, stored: Record<string, unknown> | undefined): { carry: C } | 'doubt';
  refetch(r: MirrorRefetch, workspaceId: string, id: string): Promise<T | null>;
  write(db: Db, workspaceId: string, o: T, stateAt: Date, carry?: C): Promise<boolean>;
}

const subscriptions: MirrorKind<Stripe.Subscription, DiscountTerms[]> = {
  table: 'stripe_subscriptions',
  childTable: 'stripe_subscription_items',
  parentColumn: 'subscription_id',
  row: subscriptionRowWithDiscounts,
  children: (s) => (s.items ? s.items.data.map((i) => subscriptionItemRow(s.id, i, s.livemode)) : null),
  truncated: (s) => s.items?.has_more === true,
  // Events carry discounts as bare ids; the sync and the refetch store their coupon terms.
  complete: (s, stored) => {
    const resolved = resolveDiscounts((s.discounts ?? []).map(discountTerms), stored?.discounts);
    return resolved === 'doubt' ? 'doubt' : { carry: resolved.terms };
  },
  refetch: (r, ws, id) => r.subscription(ws, id),
  write: async (db, ws, s, at, discounts) => (await upsertSubscriptions(db, ws, [s], at, discounts ? new Map([[s.id, discounts]]) : undefined)).length > 0,
};

type InvoiceWithId = Stripe.Invoice & { id: string };

const invoices: MirrorKind<InvoiceWithId> = {
  table: 'stripe_invoices',
  childTable: 'stripe_invoice_lines',
  parentColumn: 'invoice_id',
  row: invoiceRow,
  // A line id can repeat across invoice revisions; the mirror keeps the last one.
  children: (i) => (i.lines ? [...new Map(i.lines.data.map((l) => [l.id, invoiceLineRow(i.id, l)])).values()] : null),
  truncated: (i) => i.lines?.has_more === true,
  refetch: async (r, ws, id) => {
    const inv = await r.invoice(ws, id);
    return inv?.id ? { ...inv, id: inv.id } : null;
  },
  write: async (db, ws, i, at) => (await upsertInvoices(db, ws, [i], at)).length > 0,
};

const charges: MirrorKind<Stripe.Charge> = {
  table: 'stripe_charges',
  childTable: 'stripe_refunds',
  parentColumn: 'charge_id',
  row: chargeRow,
  children: (c) => (c.refunds ? c.refunds.data.map(refundRow) : null),
  truncated: (c) => c.refunds?.has_more === true,
  refetch: (r, ws, id) => r.charge(ws, id),
  write: async (db, ws, charge, at) => {
    const written = await upsertCharges(db, ws, [charge], at);
    // Refunds arrive inside the charge (Stripe lists them under `refunds`).
    const refunds = charge.refunds?.data ?? [];
    if (refunds.length) await upsertRefunds(db, ws, refunds, at);
    return written.length > 0;
  },
};

/**
 * Applies a subscribed Stripe event's object to the mirror, as the state of
 * `event.created`. The mirror keeps whichever state is newest, so events applied
 * out of order, or twice, end in the same rows as one ordered delivery.
 *
 * A subscription event's discounts are bare ids: the coupon terms the mirror already
 * holds for those discount ids are kept (domain/mirror-discounts.ts).
 *
 * With `refetch`, an event in doubt is not trusted: when the mirror already holds a
 * different state from the same second (Stripe's event times have one-second
 * resolution, so arrival order would decide), when the object's embedded list is
 * truncated, or when a subscription lists a discount the mirror holds no terms for
 * (added or changed), the object's current state is read from Stripe through the workspace's
 * rate-limited client and written instead. If Stripe cannot be reached that throws
 * StripeUnavailableError and nothing is written, so the caller retries the event
 * later. Without `refetch` the event's state is applied as it is.
 */
export async function applyEventToMirror(db: Db, workspaceId: string, type: SubscribedEventType, payload: unknown, refetch?: MirrorRefetch): Promise<MirrorApplyResult> {
  const event = payload as { created: number; data: { object: unknown } };
  const eventAt = new Date(event.created * 1000);
  const object = event.data.object;
  switch (type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return apply(db, workspaceId, subscriptions, object as Stripe.Subscription, eventAt, refetch);
    case 'invoice.payment_failed':
    case 'invoice.payment_succeeded': {
      const inv = object as Stripe.Invoice;
      // A preview invoice (no id) is never mirrored.
      if (!inv.id) return { written: false, refetched: false };
      return apply(db, workspaceId, invoices, { ...inv, id: inv.id }, eventAt, refetch);
    }
    case 'charge.refunded':
      return apply(db, workspaceId, charges, object as Stripe.Charge, eventAt, refetch);
  }
}

async function apply<T extends { id: string }, C>(db: Db, workspaceId: string, kind: MirrorKind<T, C>, object: T, eventAt: Date, refetch: MirrorRefetch | undefined): Promise<MirrorApplyResult> {
  const stored = refetch || kind.complete ? await mirroredRow(db, kind.table, workspaceId, object.id) : undefined;
  const completed = kind.complete?.(object, stored);
  // In doubt and nothing to carry: the event's state as it is, unless Stripe is asked below.
  const carry = completed === undefined || completed === 'doubt' ? undefined : completed.carry;
  const fromEvent = async (): Promise<MirrorApplyResult> => ({ written: await kind.write(db, workspaceId, object, eventAt, carry), refetched: false });
  if (!refetch) return fromEvent();

  const verdict = await mirrorVerdict({
    eventAt,
    storedAt: stored?.stripe_state_at ?? null,
    // An object the mirror cannot complete is no more the full state than a truncated list.
    truncated: kind.truncated(object) || completed === 'doubt',
    differs: async () => {
      if (!stored || !sameRowContents(kind.row(object, carry), stored)) return true;
      const children = kind.children(object);
      return children !== null && !sameRowSet(children, await mirroredChildren(db, kind.childTable, kind.parentColumn, workspaceId, object.id));
    },
  });
  if (verdict === 'stale') return { written: false, refetched: false };
  if (verdict === 'clear') return fromEvent();

  // The state read now is at least as new as the moment we asked. Stripe's clock may
  // run ahead of ours: never date it before the event, or the doubtful state it
  // replaces would win the tie.
  const askedAt = Date.now();
  const current = await kind.refetch(refetch, workspaceId, object.id);
  // Stripe cannot tell (no such object, or no key to ask with): the event is all there is.
  if (!current) return fromEvent();
  const stateAt = new Date(Math.max(askedAt, eventAt.getTime()));
  return { written: await kind.write(db, workspaceId, current, stateAt), refetched: true };
}
